//! Fine-tuning windows: every acting row of every demonstration episode starts one, and a
//! window becomes the model's input (instruction, frame codes, actions, answer).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::AgentError;
use crate::codes::Codes;
use crate::dataset::{Dataset, NO_ACTION, shuffle};
use crate::model::AgentWindow;
use crate::text::TextVocab;

/// A window: dataset, episode, first row, frames, and its episode's scenario (an index into
/// the scenarios in order of appearance).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Item {
    pub set: usize,
    pub episode: usize,
    pub start: usize,
    pub frames: usize,
    pub scenario: usize,
}

/// Every window of `episodes` of each dataset: one per row that has an action, of up to
/// `frames` rows (fewer where the episode ends).
pub(crate) fn items(data: &[Dataset], episodes: &[Vec<usize>], frames: usize) -> Result<Vec<Item>, AgentError> {
    let (mut out, mut scenarios) = (Vec::new(), Vec::<String>::new());
    for (set, (d, eps)) in data.iter().zip(episodes).enumerate() {
        for &episode in eps {
            let ep = d.episode(episode)?;
            let scenario = match scenarios.iter().position(|s| *s == ep.meta.scenario) {
                Some(i) => i,
                None => {
                    scenarios.push(ep.meta.scenario.clone());
                    scenarios.len() - 1
                }
            };
            let acted = ep.actions.iter().filter(|&&a| a != NO_ACTION).count();
            for start in 0..acted {
                out.push(Item { set, episode, start, frames: frames.min(acted - start), scenario });
            }
        }
    }
    Ok(out)
}

/// The model's inputs for `items`: each window's instruction, codes, actions and answer, and
/// with `pixels` each frame's bytes.
pub(crate) fn windows(data: &[Dataset], items: &[Item], codes: &Codes, vocab: &TextVocab, text_len: usize, pixels: bool) -> Result<Vec<AgentWindow>, AgentError> {
    let mut out = Vec::with_capacity(items.len());
    for it in items {
        let ep = data[it.set].episode(it.episode)?;
        let actions = ep.actions[it.start..it.start + it.frames].to_vec();
        // `answer` is the dataset vocabulary's last name, which the model's last action token means.
        let answer_action = data[it.set].info().action_vocabulary.len() as i64 - 1;
        let answer = match (actions.last(), &ep.meta.given_answer) {
            (Some(&a), Some(word)) if a == answer_action => vocab.id(word),
            _ => None,
        };
        let rows = it.start..it.start + it.frames;
        let frames = rows.clone().map(|t| codes.frame(it.set, it.episode, t)).collect();
        let pixels = if pixels { rows.map(|t| ep.frame(t)).collect::<Result<_, _>>()? } else { Vec::new() };
        // As at inference, a longer instruction keeps its last words (`finetune` warns about such
        // missions once, up front); the vocabulary is built from these missions, so none has an
        // unknown word.
        let (text, ..) = vocab.encode_last(&ep.meta.mission, text_len);
        out.push(AgentWindow { text, codes: frames, actions, answer, pixels });
    }
    Ok(out)
}

/// How an epoch draws its windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Balance {
    /// Every episode gives the same number of windows (a one-window question weighs as much as a
    /// 150-step walk).
    pub episodes: bool,
    /// Every scenario gives the same number of windows, however many episodes and rows it has
    /// (within a scenario, episodes are balanced or not as above).
    pub scenarios: bool,
}

/// The training windows in batches: shuffled epochs, balanced as asked, in an order that depends
/// only on the seed, the epoch and the position, so a resumed run continues it exactly.
pub(crate) struct Batches {
    items: Vec<Item>,
    /// Windows grouped by episode, for balanced epochs.
    groups: Vec<Vec<Item>>,
    /// Episode groups by scenario (indices into `groups`).
    scenarios: Vec<Vec<usize>>,
    balance: Balance,
    seed: u64,
    order: Vec<Item>,
    epoch: u64,
    pos: usize,
}

impl Batches {
    /// Batches of `items` from `(epoch, position)`.
    pub fn new(items: Vec<Item>, balance: Balance, seed: u64, (epoch, pos): (u64, usize)) -> Self {
        let mut groups: Vec<Vec<Item>> = Vec::new();
        for it in &items {
            match groups.last_mut() {
                Some(g) if g[0].set == it.set && g[0].episode == it.episode => g.push(*it),
                _ => groups.push(vec![*it]),
            }
        }
        let mut scenarios: Vec<Vec<usize>> = Vec::new();
        for (i, g) in groups.iter().enumerate() {
            let s = g[0].scenario;
            if scenarios.len() <= s {
                scenarios.resize(s + 1, Vec::new());
            }
            scenarios[s].push(i);
        }
        let mut b = Self { items, groups, scenarios, balance, seed, order: Vec::new(), epoch, pos };
        b.reshuffle();
        b
    }

    fn reshuffle(&mut self) {
        use rand::Rng;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0xF17E ^ self.epoch.wrapping_mul(0x9E37_79B9));
        if self.balance.scenarios {
            // Every scenario gives the same number of windows: an episode (balanced) or a window
            // (not) of the scenario at a time.
            let per_scenario = self.items.len().div_ceil(self.scenarios.len().max(1));
            self.order.clear();
            for eps in &self.scenarios {
                let rows: Vec<Item> = if self.balance.episodes { Vec::new() } else { eps.iter().flat_map(|&g| self.groups[g].iter().copied()).collect() };
                for _ in 0..per_scenario {
                    self.order.push(if self.balance.episodes {
                        let g = &self.groups[eps[rng.random_range(0..eps.len())]];
                        g[rng.random_range(0..g.len())]
                    } else {
                        rows[rng.random_range(0..rows.len())]
                    });
                }
            }
        } else if self.balance.episodes {
            // Every episode gives the same number of windows, drawn from its own.
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

#[cfg(test)]
mod tests {
    use super::{Balance, Batches, Item};

    /// Scenario 0: 10 walks of 30 windows; scenario 1: 100 one-window questions.
    fn items() -> Vec<Item> {
        let walks = (0..10).flat_map(|e| (0..30).map(move |start| Item { set: 0, episode: e, start, frames: 4, scenario: 0 }));
        let questions = (10..110).map(|e| Item { set: 0, episode: e, start: 0, frames: 1, scenario: 1 });
        walks.chain(questions).collect()
    }

    fn shares(balance: Balance) -> [usize; 2] {
        let mut b = Batches::new(items(), balance, 3, (0, 0));
        let mut counts = [0; 2];
        for it in b.next(4000) {
            counts[it.scenario] += 1;
        }
        counts
    }

    #[test]
    fn balance_sets_the_share_of_each_scenario() {
        // Every window once: 300 of 400 are walks.
        let [walks, questions] = shares(Balance { episodes: false, scenarios: false });
        assert_eq!((walks, questions), (3000, 1000));
        // Every episode alike: 10 of 110 episodes are walks.
        let [walks, _] = shares(Balance { episodes: true, scenarios: false });
        assert!((300..420).contains(&walks), "{walks}");
        // Every scenario alike, with episodes balanced inside it or not.
        for episodes in [false, true] {
            let [walks, questions] = shares(Balance { episodes, scenarios: true });
            assert_eq!(walks, questions, "episodes balanced: {episodes}");
        }
    }
}
