//! The agent in the loop: keeps each live episode's instruction, recent frame codes and actions,
//! and turns a batch of current frames into decisions with one forward pass.

use std::collections::{HashMap, VecDeque};

use candle_core::{Device, Tensor};

use crate::AgentError;
use crate::finetune::TrainedAgent;
use crate::model::{ANSWER_ACTION, Episode};

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
}

#[derive(Default)]
struct History {
    text: Vec<u32>,
    codes: VecDeque<Vec<u32>>,
    actions: VecDeque<i64>,
}

/// Closed-loop control with a fine-tuned agent.
pub struct Controller<'a> {
    model: &'a TrainedAgent,
    device: Device,
    answers: Vec<u32>,
    open: HashMap<u64, History>,
}

impl<'a> Controller<'a> {
    /// Control with `model`; it answers only with the words it was trained to answer with.
    pub fn new(model: &'a TrainedAgent, device: &Device) -> Self {
        let answers = model.card.answers.iter().filter_map(|w| model.vocab.id(w)).collect();
        Self { model, device: device.clone(), answers, open: HashMap::new() }
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
        let mut windows = Vec::with_capacity(requests.len());
        for (r, chunk) in requests.iter().zip(codes.chunks(p)) {
            let h = self.open.entry(r.episode).or_insert_with(|| {
                let mut text = self.model.vocab.encode_warn(r.mission);
                if text.len() > text_len {
                    tracing::warn!(mission = r.mission, text_len, "instruction longer than the model reads; keeping its last words");
                    text.drain(..text.len() - text_len);
                }
                History { text, ..History::default() }
            });
            h.codes.push_back(chunk.to_vec());
            h.actions.push_back(-1);
            while h.codes.len() > t {
                h.codes.pop_front();
                h.actions.pop_front();
            }
            windows.push(Episode { text: h.text.clone(), codes: h.codes.iter().cloned().collect(), actions: h.actions.iter().copied().collect(), answer: None });
        }
        let decided = self.model.agent.decide(&windows, &self.answers)?;
        let mut out = Vec::with_capacity(requests.len());
        for (r, (a, word)) in requests.iter().zip(decided) {
            if let Some(last) = self.open.get_mut(&r.episode).and_then(|h| h.actions.back_mut()) {
                *last = a as i64;
            }
            out.push(match word {
                Some(w) if a == ANSWER_ACTION => Choice::Answer(self.model.vocab.word(w).unwrap_or_default().to_string()),
                _ if a == ANSWER_ACTION => Choice::Act(0),
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
