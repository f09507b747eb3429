//! Every fuzz target, the env's then the agent's: what `sandtable-fuzz` runs and what
//! `tests/fuzz_corpus.rs` replays.

use sandtable_agent::fuzz_targets::FuzzTarget;

/// The targets, each by name with its entry point.
pub fn all() -> impl Iterator<Item = FuzzTarget> {
    sandtable_env::fuzz_targets::TARGETS.into_iter().chain(sandtable_agent::fuzz_targets::TARGETS)
}
