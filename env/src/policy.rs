//! Built-in policies that drive envs without a model: uniform random, the scripted expert, a mix
//! of the two, or any scripted closure.

use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::action::{Action, Decision};
use crate::expert::policy::expert_decision;
use crate::sim::SimState;
use crate::world::geometry::Pose;
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
    /// A wanderer that needs no expert and no task: it walks forward while the way ahead is
    /// free, turns now and then, and at an obstacle keeps turning one way until it is free
    /// again. Play that costs no expert labels, for pretraining.
    Wander,
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
            PolicySpec::Wander => "wander".into(),
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
            "wander" => Ok(Self::Wander),
            _ => {
                let p = s
                    .strip_prefix("mixed:")
                    .ok_or_else(|| format!("unknown policy `{s}` (expected expert, random, wander or mixed:P with P in 0..=1)"))?;
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
    /// The wanderer's turn in progress, kept until the way ahead is free.
    turning: Option<Action>,
}

impl Policy {
    /// A policy whose random choices derive from `seed` (use the episode's seed).
    pub fn new(spec: PolicySpec, seed: u64) -> Self {
        Self { spec, rng: ChaCha8Rng::seed_from_u64(seed ^ 0x05EE_DA11_CE55), turning: None }
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
            PolicySpec::Wander => Decision::Act(self.wander(state)),
            PolicySpec::Scripted(f) => f(state, &mut self.rng),
        }
    }

    /// The wanderer's next move: forward while the way is free (one time in eight a turn of a
    /// random side instead), and at an obstacle a turn, the same way until the way is free.
    fn wander(&mut self, state: &SimState) -> Action {
        let step = state.scenario.agent.move_step;
        let (fx, fz) = state.agent.forward();
        let ahead = Pose { x: state.agent.x + fx * step, z: state.agent.z + fz * step, ..state.agent };
        let free = state.pose_is_free(&ahead);
        // Draw every step, so the stream does not depend on which branch was taken.
        let (coin, side) = (self.rng.random::<f32>(), if self.rng.random::<bool>() { Action::TurnLeft } else { Action::TurnRight });
        if free {
            self.turning = None;
            return if coin < 0.125 { side } else { Action::Forward };
        }
        *self.turning.get_or_insert(side)
    }
}

fn random_decision(state: &SimState, rng: &mut ChaCha8Rng) -> Decision {
    if state.scenario.task.answer.is_some() {
        let words = answer_vocabulary();
        Decision::Answer(words[rng.random_range(0..words.len())].clone())
    } else {
        let choices = Action::random_choices(state.scenario.interactive());
        Decision::Act(choices[rng.random_range(0..choices.len())])
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
        assert!(matches!("wander".parse::<PolicySpec>(), Ok(PolicySpec::Wander)));
        assert_eq!("mixed:0.3".parse::<PolicySpec>().map(|p| p.name()), Ok("mixed:0.3".to_string()));
        for bad in ["greedy", "mixed:", "mixed:x", "mixed:1.5"] {
            assert!(bad.parse::<PolicySpec>().is_err(), "{bad}");
        }
    }

    /// The wanderer moves: over 200 steps it walks a good share of the time, gets around obstacles
    /// (it is never stuck turning for a whole turn and more), never asks for `done` or an
    /// answer, and plays the same with the same seed.
    #[test]
    fn the_wanderer_walks_around_and_repeats_itself() {
        let scenario = Arc::new(crate::Scenario::load("go_to_object").expect("built-in"));
        let play = |seed: u64| {
            let mut state = SimState::new(scenario.clone(), seed).expect("world");
            let mut policy = Policy::new(PolicySpec::Wander, seed);
            let mut moves = Vec::new();
            for _ in 0..200 {
                let Decision::Act(a) = policy.decide(&state) else { panic!("the wanderer only acts") };
                state.step(a);
                moves.push((a, state.agent.x, state.agent.z));
            }
            moves
        };
        for seed in 0..5 {
            let moves = play(seed);
            assert_eq!(moves, play(seed), "seed {seed}: the same seed, the same walk");
            let forward = moves.iter().filter(|m| m.0 == Action::Forward).count();
            // In go_to_object's small rooms it turns at a wall every few metres: 75–114 of 200
            // steps forward over these seeds.
            assert!(forward > 60, "seed {seed}: {forward} of 200 steps forward");
            assert!(moves.iter().all(|m| matches!(m.0, Action::Forward | Action::TurnLeft | Action::TurnRight)));
            // 24 turns of 15° make a full circle: a longer run of turns is a stuck wanderer.
            let longest = moves.split(|m| m.0 == Action::Forward).map(<[_]>::len).max().unwrap_or(0);
            assert!(longest <= 24, "seed {seed}: {longest} turns in a row");
            let (x0, z0) = (moves[0].1, moves[0].2);
            let far = moves.iter().map(|m| ((m.1 - x0).powi(2) + (m.2 - z0).powi(2)).sqrt()).fold(0.0f32, f32::max);
            assert!(far > 1.0, "seed {seed}: it went {far} m from where it started");
        }
    }
}
