//! Turning the env stream's transitions into whole episodes in the dataset's row layout, for
//! `record` (which writes them) and live pretraining (which buffers them).

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context, Result};
use sandtable_agent::dataset::{EpisodeData, EpisodeMeta, NO_ACTION};
use sandtable_env::{Decision, Scenario, Transition};

/// Load scenarios by built-in name or `.ron` path.
pub fn load_scenarios(names: &[String]) -> Result<Vec<Arc<Scenario>>> {
    names.iter().map(|s| Scenario::load(s).map(Arc::new).with_context(|| format!("loading scenario `{s}`"))).collect()
}

/// Episodes in progress, by episode index; rows of different episodes may interleave.
#[derive(Default)]
pub struct EpisodeAssembler {
    open: HashMap<u64, EpisodeData>,
}

impl EpisodeAssembler {
    /// Add a row; returns the episode when this was its last frame.
    pub fn push(&mut self, t: &Transition) -> Option<EpisodeData> {
        let ep = self.open.entry(t.episode).or_insert_with(|| {
            EpisodeData::new(EpisodeMeta {
                index: t.episode,
                scenario: t.scenario.name.clone(),
                seed: t.seed,
                mission: t.mission.to_string(),
                answer: t.info.answer.clone(),
                given_answer: None,
                success: false,
                length: 0,
                episode_return: 0.0,
                subgoal_rows: None,
            })
        });
        if let Some(progress) = &t.info.progress {
            let row = ep.len() as u64;
            let rows = ep.meta.subgoal_rows.get_or_insert_with(|| vec![None; progress.done.len()]);
            for (first, done) in rows.iter_mut().zip(&progress.done) {
                if *done && first.is_none() {
                    *first = Some(row);
                }
            }
        }
        let action = t.decision.as_ref().map_or(NO_ACTION, |d| i64::from(d.token()));
        if let Some(Decision::Answer(word)) = &t.decision {
            ep.meta.given_answer = Some(word.clone());
        }
        ep.push_row(&t.frame.rgb, action, t.reward, t.terminated, t.truncated);
        if !t.is_last() {
            return None;
        }
        let mut ep = self.open.remove(&t.episode)?;
        ep.meta.success = t.info.success;
        Some(ep)
    }
}
