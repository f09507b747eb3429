//! One episode played by a built-in policy in one env, step by step: the loop `sim` and `dream`
//! share.

use anyhow::{Context, Result};
use sandtable_env::{Decision, Env, Info, Observation, Policy, PolicySpec, Step};

/// What the episode shows its visitor.
pub enum Visit<'a> {
    /// The episode started.
    Reset(&'a Observation, &'a Info),
    /// Step `t` (from 1) took `decision` and returned `step`.
    Step(u32, &'a Decision, &'a Step),
}

/// Reset `env` to `seed` and let `spec` play at most `steps` steps, showing the reset and each
/// step to `visit`; the episode ends early when it terminates or is truncated. Returns the
/// first observation.
pub fn play_episode(env: &mut Env, spec: &PolicySpec, seed: u64, steps: u32, mut visit: impl FnMut(Visit<'_>) -> Result<()>) -> Result<Observation> {
    let (obs, info) = env.reset(seed).context("resetting the environment")?;
    visit(Visit::Reset(&obs, &info))?;
    let mut policy = Policy::new(spec.clone(), seed);
    for t in 1..=steps {
        let decision = policy.decide(env.state().context("env has no state after reset")?);
        let step = match &decision {
            Decision::Act(a) => env.step(*a).with_context(|| format!("step {t}"))?,
            Decision::Answer(w) => env.answer(w).with_context(|| format!("answering at step {t}"))?,
        };
        visit(Visit::Step(t, &decision, &step))?;
        if step.terminated || step.truncated {
            break;
        }
    }
    Ok(obs)
}
