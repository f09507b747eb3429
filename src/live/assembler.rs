//! Turning the env stream's transitions into whole episodes in the dataset's row layout, for
//! `record` (which writes them), live pretraining (which buffers them) and online imitation
//! (which writes the expert's labels).

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context, Result};
use sandtable_agent::dataset::{DatasetInfo, EpisodeData, EpisodeMeta, NO_ACTION, Recording};
use sandtable_env::batch::STEP_SECONDS;
use sandtable_env::task::answer_vocabulary;
use sandtable_env::{Decision, Renderer, Scenario, Transition, decision_vocabulary};

/// Load scenarios by built-in name or `.ron` path.
pub fn load_scenarios(names: &[String]) -> Result<Vec<Arc<Scenario>>> {
    names.iter().map(|s| Scenario::load(s).map(Arc::new).with_context(|| format!("loading scenario `{s}`"))).collect()
}

/// The description of a new dataset of `scenarios` played by `policy` at `size`² pixels.
pub fn dataset_info(scenarios: &[Arc<Scenario>], size: u32, renderer: Renderer, base_seed: u64, policy: &str, episodes: u64) -> Result<DatasetInfo> {
    let definitions = scenarios.iter().map(|s| serde_json::to_value(s.as_ref()).context("describing a scenario")).collect::<Result<Vec<_>>>()?;
    Ok(DatasetInfo::new(
        size as usize,
        size as usize,
        1.0 / STEP_SECONDS,
        decision_vocabulary().iter().map(|s| s.to_string()).collect(),
        answer_vocabulary(),
        Recording {
            base_seed,
            seed_rule: "splitmix64(splitmix64(base_seed) ^ episode_index)".into(),
            policy: policy.to_string(),
            episodes_requested: episodes,
            scenario_names: scenarios.iter().map(|s| s.name.clone()).collect(),
            scenarios: definitions,
            created_by: format!("sandtable {}", env!("CARGO_PKG_VERSION")),
            renderer: renderer.name().to_string(),
        },
    ))
}

/// Episodes in progress, by episode index; rows of different episodes may interleave.
#[derive(Default)]
pub struct EpisodeAssembler {
    open: HashMap<u64, EpisodeData>,
    labelled: bool,
}

impl EpisodeAssembler {
    /// An assembler that writes the expert's label of each row ([`Transition::expert`]) as its
    /// action and answer, in place of what was done: online imitation's training targets.
    pub fn labelled() -> Self {
        Self { open: HashMap::new(), labelled: true }
    }

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
                captions: Some(Vec::new()),
            })
        });
        if let Some(captions) = &mut ep.meta.captions {
            captions.push(sandtable_env::caption(&t.info));
        }
        if let Some(progress) = &t.info.progress {
            let row = ep.len() as u64;
            let rows = ep.meta.subgoal_rows.get_or_insert_with(|| vec![None; progress.done.len()]);
            for (first, done) in rows.iter_mut().zip(&progress.done) {
                if *done && first.is_none() {
                    *first = Some(row);
                }
            }
        }
        let chosen = if self.labelled { &t.expert } else { &t.decision };
        let action = chosen.as_ref().map_or(NO_ACTION, |d| i64::from(d.token()));
        if let Some(Decision::Answer(word)) = chosen {
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
