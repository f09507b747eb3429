//! The agent in the loop: keeps each live episode's instruction, recent frame codes and actions,
//! and turns a batch of current frames into decisions with one forward pass.

use std::collections::{HashMap, VecDeque};

use candle_core::{Device, Tensor};

use crate::AgentError;
use crate::loader::TrainedAgent;
use crate::model::{AgentWindow, argmax};
use crate::warnings::RepeatedWarnings;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What the agent chose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Choice {
    /// An action index (below the `answer` token).
    Act(usize),
    /// Answer the question with this word.
    Answer(String),
}

/// One env waiting for a decision.
pub struct Request<'a> {
    /// Episode index (histories are kept per episode).
    pub episode: u64,
    /// Mission or question.
    pub mission: &'a str,
    /// The current frame, `H × W × 3` bytes.
    pub frame: &'a [u8],
    /// Whether the scenario asks a question: elsewhere `answer` is not a move, and the agent
    /// takes `noop` instead (the env refuses such answers).
    pub question: bool,
    /// Whether the scenario's step limit ends the episode after this decision.
    pub last: bool,
}

#[derive(Default)]
struct History {
    steps: u64,
    text: Vec<u32>,
    codes: VecDeque<Vec<u32>>,
    actions: VecDeque<i64>,
    /// Frame bytes, for an agent that reads pixels.
    pixels: VecDeque<Vec<u8>>,
}

/// Closed-loop control with a fine-tuned agent.
pub struct Controller<'a> {
    model: &'a TrainedAgent,
    device: Device,
    answers: Vec<u32>,
    open: HashMap<u64, History>,
    temperature: f64,
    seed: u64,
    deadline: bool,
    /// Unknown words and cut instructions, warned about once per kind.
    warnings: RepeatedWarnings,
}

/// The warning about words the agent never learnt.
const UNKNOWN_WORDS: &str = "words outside the vocabulary read as <unk>";
/// The warning about instructions longer than the agent reads.
const CUT: &str = "instructions longer than the model reads keep their last words";

impl<'a> Controller<'a> {
    /// The name of the model's action `a`, where the checkpoint recorded its vocabulary.
    pub fn action_name(&self, a: usize) -> Option<&str> {
        self.model.actions.get(a).map(String::as_str)
    }

    /// Control with `model`; it answers only with the words it was trained to answer with.
    pub fn new(model: &'a TrainedAgent, device: &Device) -> Self {
        let answers = model.card.answers.iter().filter_map(|w| model.vocab.id(w)).collect();
        Self { model, device: device.clone(), answers, open: HashMap::new(), temperature: 0.0, seed: 0, deadline: true, warnings: RepeatedWarnings::default() }
    }

    /// Whether a question still open at the episode's last step is answered there (the default):
    /// as in embodied question answering, the search ends at the step limit and the agent gives
    /// its best answer from where it stands, instead of none.
    pub fn answering_at_deadline(mut self, on: bool) -> Self {
        self.deadline = on;
        self
    }

    /// Sample actions at `temperature` instead of taking the most likely (0); answer words stay
    /// the most likely. Draws come from a
    /// generator seeded by `seed`, the episode and its step, so they do not depend on which
    /// worker or batch an env is in.
    pub fn sampling(mut self, temperature: f64, seed: u64) -> Self {
        self.temperature = temperature.max(0.0);
        self.seed = seed;
        self
    }

    /// Decisions for `requests`, in order.
    pub fn decide(&mut self, requests: &[Request<'_>]) -> Result<Vec<Choice>, AgentError> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let size = self.model.config.image_size;
        let bytes: Vec<u8> = requests.iter().flat_map(|r| r.frame.iter().copied()).collect();
        if bytes.len() != requests.len() * size * size * 3 {
            return Err(AgentError::Config(format!("frames must be {size}x{size} RGB for this agent")));
        }
        let frames = Tensor::from_vec(bytes, (requests.len(), size, size, 3), &self.device)?;
        let codes: Vec<u32> = self.model.tokenizer.encode(&frames)?.flatten_all()?.to_vec1()?;
        let p = codes.len() / requests.len();
        let (t, text_len) = (self.model.agent.frames(), self.model.config.finetune.text_len);
        let reads_pixels = self.model.agent.reads_pixels();
        let mut windows = Vec::with_capacity(requests.len());
        for (r, chunk) in requests.iter().zip(codes.chunks(p)) {
            let warnings = &mut self.warnings;
            let h = self.open.entry(r.episode).or_insert_with(|| {
                let (text, cut, unknown) = self.model.vocab.encode_last(r.mission, text_len);
                if cut && warnings.first(CUT) {
                    tracing::warn!(mission = r.mission, text_len, "{CUT}");
                }
                if !unknown.is_empty() && warnings.first(UNKNOWN_WORDS) {
                    tracing::warn!(words = ?unknown, mission = r.mission, "{UNKNOWN_WORDS}");
                }
                History { text, ..History::default() }
            });
            h.codes.push_back(chunk.to_vec());
            h.actions.push_back(-1);
            if reads_pixels {
                h.pixels.push_back(r.frame.to_vec());
            }
            while h.codes.len() > t {
                h.codes.pop_front();
                h.actions.pop_front();
                h.pixels.pop_front();
            }
            windows.push(AgentWindow {
                text: h.text.clone(),
                codes: h.codes.iter().cloned().collect(),
                actions: h.actions.iter().copied().collect(),
                answer: None,
                pixels: h.pixels.iter().cloned().collect(),
            });
        }
        let draws: Vec<u64> = requests.iter().map(|r| self.open.get(&r.episode).map_or(0, |h| h.steps)).collect();
        let (temperature, seed, deadline) = (self.temperature, self.seed, self.deadline);
        // The action and then, after `answer`, the word: each call of a row draws afresh.
        let answer_action = self.model.agent.answer_action();
        let mut calls = vec![0u64; requests.len()];
        let mut choose = |row: usize, logits: &[f32]| -> usize {
            calls[row] += 1;
            if calls[row] == 1 && deadline && requests[row].question && requests[row].last {
                return answer_action;
            }
            // Only actions are sampled: an answer word is a judgement, always the most likely.
            if temperature <= 0.0 || calls[row] > 1 {
                return argmax(logits);
            }
            let key = seed
                ^ requests[row].episode.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ draws[row].wrapping_mul(0xD1B5_4A32_D192_ED03)
                ^ calls[row].wrapping_mul(0x94D0_49BB_1331_11EB);
            sample(logits, temperature, &mut ChaCha8Rng::seed_from_u64(key))
        };
        let decided = self.model.agent.decide(&windows, &self.answers, &mut choose)?;
        for r in requests {
            if let Some(h) = self.open.get_mut(&r.episode) {
                h.steps += 1;
            }
        }
        let mut out = Vec::with_capacity(requests.len());
        for (r, (a, word)) in requests.iter().zip(decided) {
            let a = if a == answer_action && !r.question { 0 } else { a };
            if let Some(last) = self.open.get_mut(&r.episode).and_then(|h| h.actions.back_mut()) {
                *last = a as i64;
            }
            out.push(match word {
                Some(w) if a == answer_action => Choice::Answer(self.model.vocab.word(w).unwrap_or_default().to_string()),
                _ if a == answer_action => Choice::Act(0),
                _ => Choice::Act(a),
            });
        }
        Ok(out)
    }

    /// Forget an episode that has ended.
    pub fn finish(&mut self, episode: u64) {
        self.open.remove(&episode);
    }
}

/// Draw an index with probability softmax(logits / temperature).
fn sample(logits: &[f32], temperature: f64, rng: &mut ChaCha8Rng) -> usize {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let weights: Vec<f64> = logits.iter().map(|&l| ((f64::from(l) - f64::from(max)) / temperature).exp()).collect();
    let total: f64 = weights.iter().sum();
    let mut u = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i;
        }
        u -= w;
    }
    weights.len() - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_follows_the_softmax_and_repeats_with_the_seed() {
        let logits = [2.0f32, 0.0, 1.0];
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut counts = [0usize; 3];
        for _ in 0..20_000 {
            counts[sample(&logits, 1.0, &mut rng)] += 1;
        }
        // softmax(2, 0, 1) = (0.665, 0.090, 0.245)
        for (c, p) in counts.iter().zip([0.665, 0.090, 0.245]) {
            assert!((*c as f64 / 20_000.0 - p).abs() < 0.015, "{counts:?}");
        }
        let draw = |seed| sample(&logits, 1.0, &mut ChaCha8Rng::seed_from_u64(seed));
        assert_eq!((0..50).map(draw).collect::<Vec<_>>(), (0..50).map(draw).collect::<Vec<_>>());
        // A cold temperature is greedy.
        assert!((0..50).all(|s| sample(&logits, 1e-3, &mut ChaCha8Rng::seed_from_u64(s)) == 0));
    }
}
