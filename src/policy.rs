//! Built-in policies that drive an env without a model: uniform random and the scripted expert.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sandtable_env::Action;
use sandtable_env::sim::SimState;

/// Which built-in policy to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PolicyKind {
    /// Uniform over every action except `done`, so episodes are not cut short at random.
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
        Self { kind, rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_A11C_E5) }
    }

    /// The action for the current state.
    pub fn act(&mut self, state: &SimState) -> Action {
        match self.kind {
            PolicyKind::Random => Action::ALL[self.rng.random_range(0..Action::COUNT - 1)],
            PolicyKind::Expert => sandtable_env::expert_action(state),
        }
    }
}
