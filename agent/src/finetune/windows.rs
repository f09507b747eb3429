//! Fine-tuning windows: every acting row of every demonstration episode starts one, and a
//! window becomes the model's input (instruction, frame codes, actions, answer).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::AgentError;
use crate::codes::Codes;
use crate::dataset::{Dataset, NO_ACTION, shuffle};
use crate::model::{ANSWER_ACTION, Episode};
use crate::text::TextVocab;

/// A window: dataset, episode, first row, frames.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Item {
    pub set: usize,
    pub episode: usize,
    pub start: usize,
    pub frames: usize,
}

/// Every window of `episodes` of each dataset: one per row that has an action, of up to
/// `frames` rows (fewer where the episode ends).
pub(crate) fn items(data: &[Dataset], episodes: &[Vec<usize>], frames: usize) -> Result<Vec<Item>, AgentError> {
    let mut out = Vec::new();
    for (set, (d, eps)) in data.iter().zip(episodes).enumerate() {
        for &episode in eps {
            let acted = d.episode(episode)?.actions.iter().filter(|&&a| a != NO_ACTION).count();
            for start in 0..acted {
                out.push(Item { set, episode, start, frames: frames.min(acted - start) });
            }
        }
    }
    Ok(out)
}

/// The model's inputs for `items`: each window's instruction, codes, actions and answer.
pub(crate) fn windows(data: &[Dataset], items: &[Item], codes: &Codes, vocab: &TextVocab, text_len: usize) -> Result<Vec<Episode>, AgentError> {
    let mut out = Vec::with_capacity(items.len());
    for it in items {
        let ep = data[it.set].episode(it.episode)?;
        let actions = ep.actions[it.start..it.start + it.frames].to_vec();
        let answer = match (actions.last(), &ep.meta.given_answer) {
            (Some(&a), Some(word)) if a == ANSWER_ACTION as i64 => vocab.id(word),
            _ => None,
        };
        let frames = (it.start..it.start + it.frames).map(|t| codes.frame(it.set, it.episode, t)).collect();
        // As at inference, a longer instruction keeps its last words (`finetune` warns about such
        // missions once, up front).
        let (text, _) = vocab.encode_last(&ep.meta.mission, text_len);
        out.push(Episode { text, codes: frames, actions, answer });
    }
    Ok(out)
}

/// The training windows in batches: shuffled epochs (or episode-balanced ones, where every
/// episode gives the same number of windows), in an order that depends only on the seed, the
/// epoch and the position, so a resumed run continues it exactly.
pub(crate) struct Batches {
    items: Vec<Item>,
    /// Windows grouped by episode, for balanced epochs.
    groups: Vec<Vec<Item>>,
    balanced: bool,
    seed: u64,
    order: Vec<Item>,
    epoch: u64,
    pos: usize,
}

impl Batches {
    /// Batches of `items` from `(epoch, position)`.
    pub fn new(items: Vec<Item>, balanced: bool, seed: u64, (epoch, pos): (u64, usize)) -> Self {
        let mut groups: Vec<Vec<Item>> = Vec::new();
        for it in &items {
            match groups.last_mut() {
                Some(g) if g[0].set == it.set && g[0].episode == it.episode => g.push(*it),
                _ => groups.push(vec![*it]),
            }
        }
        let mut b = Self { items, groups, balanced, seed, order: Vec::new(), epoch, pos };
        b.reshuffle();
        b
    }

    fn reshuffle(&mut self) {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0xF17E ^ self.epoch.wrapping_mul(0x9E37_79B9));
        if self.balanced {
            // Every episode gives the same number of windows, drawn from its own: a one-window
            // question weighs as much as a 150-step walk.
            use rand::Rng;
            let per_episode = self.items.len().div_ceil(self.groups.len().max(1));
            self.order.clear();
            for g in &self.groups {
                self.order.extend((0..per_episode).map(|_| g[rng.random_range(0..g.len())]));
            }
        } else {
            self.order.clone_from(&self.items);
        }
        shuffle(&mut self.order, &mut rng);
    }

    /// The next `n` windows.
    pub fn next(&mut self, n: usize) -> Vec<Item> {
        let mut batch = Vec::with_capacity(n);
        while batch.len() < n {
            if self.pos >= self.order.len() {
                self.epoch += 1;
                self.pos = 0;
                self.reshuffle();
            }
            batch.push(self.order[self.pos]);
            self.pos += 1;
        }
        batch
    }

    /// (epoch, position), for the checkpoint.
    pub fn position(&self) -> (u64, usize) {
        (self.epoch, self.pos)
    }
}
