//! Built-in policies that drive an env without a model: uniform random and the scripted expert.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sandtable_env::sim::SimState;
use sandtable_env::task::answer_vocabulary;
use sandtable_env::{Action, Decision};

/// Which built-in policy to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PolicyKind {
    /// Uniform over every action except `done`, so episodes are not cut short at random; on a
    /// question scenario, a uniformly random word of the answer vocabulary at the first step.
    Random,
    /// The scripted expert, planning on ground truth.
    Expert,
}

/// A policy with its own seeded randomness.
pub struct Policy {
    kind: PolicyKind,
    rng: ChaCha8Rng,
}

impl Policy {
    /// A policy whose random choices derive from `seed`.
    pub fn new(kind: PolicyKind, seed: u64) -> Self {
        Self { kind, rng: ChaCha8Rng::seed_from_u64(seed ^ 0x05EE_DA11_CE55) }
    }

    /// The decision for the current state.
    pub fn decide(&mut self, state: &SimState) -> Decision {
        match self.kind {
            PolicyKind::Random if state.scenario.task.answer.is_some() => {
                let words = answer_vocabulary();
                Decision::Answer(words[self.rng.random_range(0..words.len())].clone())
            }
            PolicyKind::Random => Decision::Act(Action::ALL[self.rng.random_range(0..Action::COUNT - 1)]),
            PolicyKind::Expert => sandtable_env::expert_decision(state),
        }
    }
}
