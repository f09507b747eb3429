//! The closed-loop evaluation's files: [`EvalResult`] is `eval.json`, [`EpisodeLine`] one line of
//! `episodes.jsonl`. `eval` writes them and the report reads them, through these types alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sandtable_agent::run_dir::RunDir;
use sandtable_agent::score::Summary;
use serde::{Deserialize, Serialize};

use crate::live::diagnosis::Diagnosis;
use crate::media::{json_line, write_atomic, write_json};

/// `eval.json`: what was played, how, and each player's summary per scenario and subset. Only
/// `results` is required: a field an older build did not write reads as its default, so older
/// results still render, and a world model's `eval.json` is not taken for one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalResult {
    /// The agent's checkpoint, when it played.
    #[serde(default)]
    pub checkpoint: Option<PathBuf>,
    /// Scenarios as given (names or paths).
    #[serde(default)]
    pub scenarios: Vec<String>,
    /// Episodes per scenario.
    #[serde(default)]
    pub episodes_per_scenario: u64,
    /// Base seed of the episodes.
    #[serde(default)]
    pub base_seed: u64,
    /// How episode seeds follow from it.
    #[serde(default)]
    pub seed_rule: String,
    /// Frame side, pixels.
    #[serde(default)]
    pub frame_size: u32,
    /// The renderer that drew the frames.
    #[serde(default)]
    pub renderer: String,
    /// The agent's action temperature (0: greedy).
    #[serde(default)]
    pub agent_temperature: f64,
    /// Whether the agent answered an open question at the step limit.
    #[serde(default)]
    pub agent_answers_at_deadline: bool,
    /// Colour:shape pairs reported as their own subset.
    #[serde(default)]
    pub holdout_pairs: Vec<String>,
    /// Each player's wall time, seconds.
    #[serde(default)]
    pub wall_seconds: BTreeMap<String, f64>,
    /// The GIFs written, relative to the evaluation folder.
    #[serde(default)]
    pub gifs: Vec<PathBuf>,
    /// One row per player, scenario and subset.
    pub results: Vec<ResultRow>,
}

/// One player's summary on one scenario's episodes (`all`) or a subset of them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    /// Who played: agent, random or expert.
    pub policy: String,
    /// The scenario's name.
    pub scenario: String,
    /// `all`, or `holdout pairs` for missions naming a held-out pair.
    pub subset: String,
    /// Success, length, return and answers.
    pub summary: Summary,
    /// Failed episodes by kind (scenarios with a target object).
    #[serde(default)]
    pub failures: BTreeMap<String, usize>,
}

/// The subset of every episode.
pub const ALL: &str = "all";
/// The subset of missions naming a held-out colour×shape pair.
pub const HOLDOUT_PAIRS: &str = "holdout pairs";

/// One line of `episodes.jsonl`: one episode, and why it failed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpisodeLine {
    /// Who played.
    pub policy: String,
    /// The scenario's name.
    pub scenario: String,
    /// Episode index.
    pub index: u64,
    /// Its seed.
    pub seed: u64,
    /// Mission or question.
    pub mission: String,
    /// Whether it succeeded.
    pub success: bool,
    /// Decisions taken.
    pub length: u32,
    /// Sum of rewards.
    #[serde(rename = "return")]
    pub episode_return: f32,
    /// For a question: the true answer.
    pub answer: Option<String>,
    /// For a question: the word given.
    pub given_answer: Option<String>,
    /// Why it went as it did, for scenarios with a target object.
    pub diagnosis: Option<Diagnosis>,
}

impl EvalResult {
    /// The result in evaluation folder `dir`.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(RunDir::EVAL_RESULT);
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is not an evaluation result of this sandtable", path.display()))
    }

    /// Write it and `episodes` into `dir`; returns the path of `eval.json`.
    pub fn write(&self, dir: &Path, episodes: &[EpisodeLine]) -> Result<PathBuf> {
        let mut jsonl = String::new();
        for line in episodes {
            jsonl.push_str(&json_line(line)?);
            jsonl.push('\n');
        }
        write_atomic(&dir.join(RunDir::EVAL_EPISODES), jsonl.as_bytes())?;
        let path = dir.join(RunDir::EVAL_RESULT);
        write_json(&path, self)?;
        Ok(path)
    }

    /// The row of `policy` on `scenario`'s `subset`.
    pub fn row(&self, policy: &str, scenario: &str, subset: &str) -> Option<&ResultRow> {
        self.results.iter().find(|r| r.policy == policy && r.scenario == scenario && r.subset == subset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_result_reads_and_a_world_models_does_not() {
        // An older build wrote no renderer, temperature or deadline rule.
        let older = r#"{"checkpoint": null, "scenarios": ["go_to_object"], "episodes_per_scenario": 2, "base_seed": 5, "results": []}"#;
        let read: EvalResult = serde_json::from_str(older).expect("an older eval.json reads");
        assert_eq!((read.base_seed, read.renderer.as_str(), read.agent_answers_at_deadline), (5, "", false));
        // eval-wm's eval.json has no `results`: not a closed-loop result.
        let world_model = r#"{"checkpoint": "wm", "step": 20, "config": "tiny", "data": ["val"], "report": {}}"#;
        assert!(serde_json::from_str::<EvalResult>(world_model).is_err());
    }
}
