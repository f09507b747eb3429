//! Built-in policies that drive envs without a model: uniform random, the scripted expert, a mix
//! of the two, or any scripted closure.

use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::action::{Action, Decision};
use crate::expert::policy::expert_decision;
use crate::sim::SimState;
use crate::task::answer::answer_vocabulary;

/// A scripted policy run inside the env workers: it sees ground truth and its episode's RNG.
pub type ScriptedFn = Arc<dyn Fn(&SimState, &mut ChaCha8Rng) -> Decision + Send + Sync>;

/// Which built-in policy to run. Parsed from `expert`, `random` or `mixed:P`.
#[derive(Clone)]
pub enum PolicySpec {
    /// Uniform over every action except `done`, so episodes are not cut short at random; on a
    /// question scenario, a uniformly random word of the answer vocabulary at the first step.
    /// So `mixed:P` on a question the expert walks for (`task.inspect`) rarely gets to the
    /// object: each random draw ends the episode with a guess.
    Random,
    /// The scripted expert, planning on ground truth.
    Expert,
    /// The expert, with each decision replaced by a random one with probability `P` (0..=1).
    Mixed(f32),
    /// A caller's closure.
    Scripted(ScriptedFn),
}

impl PolicySpec {
    /// The name written into metadata: `expert`, `random`, `mixed:0.3` or `scripted`.
    pub fn name(&self) -> String {
        match self {
            PolicySpec::Random => "random".into(),
            PolicySpec::Expert => "expert".into(),
            PolicySpec::Mixed(p) => format!("mixed:{p}"),
            PolicySpec::Scripted(_) => "scripted".into(),
        }
    }
}

impl std::fmt::Debug for PolicySpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

impl std::str::FromStr for PolicySpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "random" => Ok(Self::Random),
            "expert" => Ok(Self::Expert),
            _ => {
                let p = s
                    .strip_prefix("mixed:")
                    .ok_or_else(|| format!("unknown policy `{s}` (expected expert, random or mixed:P with P in 0..=1)"))?;
                let p: f32 = p.parse().map_err(|_| format!("`{p}` in `{s}` is not a number"))?;
                if !(0.0..=1.0).contains(&p) {
                    return Err(format!("the random fraction in `{s}` must be within 0..=1"));
                }
                Ok(Self::Mixed(p))
            }
        }
    }
}

/// A policy for one episode, with its own seeded randomness.
pub struct Policy {
    spec: PolicySpec,
    rng: ChaCha8Rng,
}

impl Policy {
    /// A policy whose random choices derive from `seed` (use the episode's seed).
    pub fn new(spec: PolicySpec, seed: u64) -> Self {
        Self { spec, rng: ChaCha8Rng::seed_from_u64(seed ^ 0x05EE_DA11_CE55) }
    }

    /// The decision for the current state.
    pub fn decide(&mut self, state: &SimState) -> Decision {
        match &self.spec {
            PolicySpec::Random => random_decision(state, &mut self.rng),
            PolicySpec::Expert => expert_decision(state),
            PolicySpec::Mixed(p) => {
                // Draw the coin every step so the expert's path does not shift the random stream.
                let coin: f32 = self.rng.random();
                let random = random_decision(state, &mut self.rng);
                if coin < *p { random } else { expert_decision(state) }
            }
            PolicySpec::Scripted(f) => f(state, &mut self.rng),
        }
    }
}

fn random_decision(state: &SimState, rng: &mut ChaCha8Rng) -> Decision {
    if state.scenario.task.answer.is_some() {
        let words = answer_vocabulary();
        Decision::Answer(words[rng.random_range(0..words.len())].clone())
    } else {
        Decision::Act(Action::ALL[rng.random_range(0..Action::COUNT - 1)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_reject_clearly() {
        assert!(matches!("expert".parse::<PolicySpec>(), Ok(PolicySpec::Expert)));
        assert!(matches!("random".parse::<PolicySpec>(), Ok(PolicySpec::Random)));
        assert!(matches!("mixed:0.3".parse::<PolicySpec>(), Ok(PolicySpec::Mixed(p)) if (p - 0.3).abs() < 1e-6));
        assert_eq!("mixed:0.3".parse::<PolicySpec>().map(|p| p.name()), Ok("mixed:0.3".to_string()));
        for bad in ["greedy", "mixed:", "mixed:x", "mixed:1.5"] {
            assert!(bad.parse::<PolicySpec>().is_err(), "{bad}");
        }
    }
}
