//! Seed checks: an evaluation must not replay an episode the agent was trained on.

use anyhow::Result;
use sandtable_agent::dataset::Dataset;
use sandtable_agent::loader::TrainedAgent;
use sandtable_env::episode_seed;

/// Refuse to evaluate on an episode seed the agent was trained on.
pub fn check_unseen(model: &TrainedAgent, base: u64, total: u64) -> Result<()> {
    let eval: std::collections::HashSet<u64> = (0..total).map(|i| episode_seed(base, i)).collect();
    for dir in &model.card.data {
        let Ok(d) = Dataset::open(dir) else {
            tracing::warn!(dataset = %dir.display(), "training dataset not found; cannot check that the evaluation seeds are unseen");
            continue;
        };
        for i in 0..d.num_episodes() {
            let seed = d.episode(i)?.meta.seed;
            anyhow::ensure!(!eval.contains(&seed), "evaluation seed {seed} was used in training ({}); choose another --seed", dir.display());
        }
    }
    Ok(())
}
