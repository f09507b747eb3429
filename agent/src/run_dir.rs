//! The run directory: [`RunDir`] names every file a run holds, and each file has one serde
//! record that its writer and every reader use: [`MetricsRow`] for `metrics.jsonl`,
//! [`BestCheckpoints`] for `checkpoints/best.json`; the config ([`Config`](crate::config::Config)),
//! the training state ([`TrainState`](crate::checkpoint::TrainState)) and the agent card
//! ([`AgentCard`](crate::card::AgentCard)) keep theirs beside their code, and the closed-loop
//! evaluation's records live with the evaluation in the `sandtable` library.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};

use crate::AgentError;
use crate::checkpoint::Stage;

/// A run directory: what `pretrain`, `finetune`, `eval` and `demo` write into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// The resolved config (`Config`), in the run and in every checkpoint.
    pub const CONFIG: &str = "config.json";
    /// One [`MetricsRow`] per line.
    pub const METRICS: &str = "metrics.jsonl";
    /// The agent card (`AgentCard`), in a fine-tuning run and in each of its checkpoints.
    pub const CARD: &str = "agent.json";
    /// The agent's word vocabulary (`TextVocab`), in a fine-tuning run and its checkpoints.
    pub const VOCAB: &str = "vocab.json";
    /// How pretraining split its datasets.
    pub const SPLIT: &str = "split.json";
    /// The checkpoints' folder.
    pub const CHECKPOINTS: &str = "checkpoints";
    /// Inside [`Self::CHECKPOINTS`]: the name of the newest checkpoint.
    pub const LATEST: &str = "latest";
    /// Inside [`Self::CHECKPOINTS`]: [`BestCheckpoints`].
    pub const BEST: &str = "best.json";
    /// Inside a checkpoint: its `TrainState`.
    pub const STATE: &str = "state.json";
    /// Online imitation's aggregated dataset.
    pub const ONLINE: &str = "online";
    /// The closed-loop evaluation's folder, by default.
    pub const EVAL: &str = "eval";
    /// The world model's evaluation folder, by default.
    pub const EVAL_WM: &str = "eval-wm";
    /// Inside an evaluation folder: its result.
    pub const EVAL_RESULT: &str = "eval.json";
    /// Inside a closed-loop evaluation folder: one line per episode.
    pub const EVAL_EPISODES: &str = "episodes.jsonl";
    /// The demo's log of the commands it ran.
    pub const COMMANDS: &str = "commands.jsonl";
    /// Fine-tuning wall time in seconds, written by the experiment scripts.
    pub const WALL_SECONDS: &str = "wall_seconds";

    /// The run directory at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Its path.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A file or folder of the run, by one of the names above.
    pub fn file(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// The checkpoints' folder.
    pub fn checkpoints(&self) -> PathBuf {
        self.root.join(Self::CHECKPOINTS)
    }

    /// `checkpoints/latest`.
    pub fn latest(&self) -> PathBuf {
        self.checkpoints().join(Self::LATEST)
    }

    /// `metrics.jsonl`.
    pub fn metrics(&self) -> PathBuf {
        self.root.join(Self::METRICS)
    }

    /// Online imitation's aggregated dataset.
    pub fn online(&self) -> PathBuf {
        self.root.join(Self::ONLINE)
    }

    /// Whether a checkpoint has been written.
    pub fn has_checkpoint(&self) -> bool {
        self.latest().exists()
    }

    /// Whether online imitation has started its aggregated dataset.
    pub fn has_online_data(&self) -> bool {
        self.online().join(crate::dataset::DatasetInfo::FILE).is_file()
    }

    /// Whether it holds a run: a checkpoint, or online imitation's data.
    pub fn holds_run(&self) -> bool {
        self.has_checkpoint() || self.has_online_data()
    }

    /// The one check before a run starts: a directory that already holds a run is continued
    /// only when asked (`resume`). Returns whether it holds one.
    pub fn claim(&self, resume: bool) -> Result<bool, AgentError> {
        let holds = self.holds_run();
        if holds && !resume {
            return Err(AgentError::Config(format!("{} already holds a run; pass --resume to continue it or choose another --out", self.root.display())));
        }
        Ok(holds)
    }

    /// Every row of `metrics.jsonl` that parses, in order; none when there is no such file.
    pub fn metrics_rows(&self) -> Vec<MetricsRow> {
        let text = std::fs::read_to_string(self.metrics()).unwrap_or_default();
        text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }

    /// The online rounds of `metrics.jsonl`, in order.
    pub fn online_rounds(&self) -> Vec<OnlineRound> {
        self.metrics_rows()
            .into_iter()
            .filter_map(|r| match r {
                MetricsRow::Round(r) => Some(r),
                _ => None,
            })
            .collect()
    }

    /// `metrics.jsonl`, created if missing, open for appending rows.
    pub fn open_metrics(&self) -> Result<MetricsLog, AgentError> {
        let path = self.metrics();
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(|e| AgentError::io(&path, e))?;
        Ok(MetricsLog { file, path })
    }

    /// Drop the `metrics.jsonl` rows past `step`, left by a run that stopped after its last
    /// checkpoint. The rows kept are kept as written, byte for byte.
    pub fn keep_metrics_up_to(&self, step: u64) -> Result<(), AgentError> {
        let path = self.metrics();
        let Ok(text) = std::fs::read_to_string(&path) else { return Ok(()) };
        let mut out = String::new();
        for line in text.lines().filter(|l| serde_json::from_str::<MetricsRow>(l).is_ok_and(|r| r.step() <= step)) {
            out.push_str(line);
            out.push('\n');
        }
        crate::atomic::write_atomic(&path, out.as_bytes()).map_err(|e| AgentError::io(&path, e))
    }
}

/// `metrics.jsonl` open for appending, kept open while a stage runs.
pub struct MetricsLog {
    file: std::fs::File,
    path: PathBuf,
}

impl MetricsLog {
    /// Append `row` as one line.
    pub fn append(&mut self, row: &MetricsRow) -> Result<(), AgentError> {
        use std::io::Write;
        writeln!(self.file, "{}", row.to_line()?).map_err(|e| AgentError::io(&self.path, e))
    }
}

/// One line of `metrics.jsonl`: an optimiser step, a validation pass or an online round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MetricsRow {
    /// An online round, logged once at the step its training starts.
    Round(OnlineRound),
    /// A validation pass.
    Validation(ValidationRow),
    /// An optimiser step.
    Step(StepRow),
}

impl MetricsRow {
    /// The global step it was logged at.
    pub fn step(&self) -> u64 {
        match self {
            Self::Round(r) => r.step,
            Self::Validation(r) => r.step,
            Self::Step(r) => r.step,
        }
    }

    /// The row as one JSON line, its keys in sorted order.
    pub fn to_line(&self) -> Result<String, AgentError> {
        // Through a `Value`, whose object keeps its keys sorted: the line does not depend on
        // the order the fields are declared in.
        let value = serde_json::to_value(self).map_err(|e| AgentError::Config(e.to_string()))?;
        Ok(value.to_string())
    }
}

/// `null`, which JSON writes for a NaN, read back as NaN.
fn f64_or_nan<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// An optimiser step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepRow {
    /// The stage that took it.
    pub stage: Stage,
    /// Global step, after it.
    pub step: u64,
    /// Training loss.
    #[serde(deserialize_with = "f64_or_nan")]
    pub loss: f64,
    /// Learning rate.
    pub lr: f64,
    /// Gradient norm before clipping.
    #[serde(deserialize_with = "f64_or_nan")]
    pub grad_norm: f64,
    /// Wall time, milliseconds.
    pub step_ms: f64,
    /// Fine-tuning: the batch's action and answer accuracy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    /// The tokenizer's frames a second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frames_per_s: Option<f64>,
    /// The dynamics' tokens a second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_s: Option<f64>,
}

/// A validation pass on fixed held-out batches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValidationRow {
    /// The stage validated.
    pub stage: Stage,
    /// Global step.
    pub step: u64,
    /// Validation loss.
    #[serde(deserialize_with = "f64_or_nan")]
    pub val_loss: f64,
    /// The tokenizer's reconstruction PSNR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_psnr: Option<f64>,
    /// The dynamics' or the agent's accuracy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_accuracy: Option<f64>,
}

/// The stage name of an online round's row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnlineStage {
    /// `"online"`.
    Online,
}

/// An online round: β, the success of its rollouts, the expert labels so far and the
/// aggregated dataset's size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OnlineRound {
    /// Always `online`.
    pub stage: OnlineStage,
    /// The step its training starts at.
    pub step: u64,
    /// Round index (0 is the expert's play).
    pub round: u64,
    /// Probability that the expert acts.
    pub beta: f64,
    /// Rollout success over all scenarios.
    pub success: f64,
    /// Rollout success per scenario.
    pub success_by_scenario: BTreeMap<String, f64>,
    /// Expert labels gathered so far, this round's included.
    pub labels: u64,
    /// Episodes in the aggregated dataset.
    pub episodes: u64,
    /// Frames in the aggregated dataset.
    pub frames: u64,
    /// Where the round's play time went, when this process played it (a resumed run that
    /// finds the round played has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub play: Option<PlayTiming>,
}

/// The wall time of an online round's play, and the share the agent's decisions took.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlayTiming {
    /// From the workers' start to the last episode, seconds.
    pub seconds: f64,
    /// Inside the agent's decisions (batched per worker), seconds.
    pub agent_seconds: f64,
    /// Env rows played.
    pub rows: u64,
    /// Decisions the agent made.
    pub decisions: u64,
}

/// `checkpoints/best.json`: each stage's lowest validation loss and the checkpoint that holds it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BestCheckpoints {
    /// Stage name → (validation loss, checkpoint folder name).
    pub stages: BTreeMap<String, (f64, String)>,
}

impl BestCheckpoints {
    /// The index of `run`; empty when there is none yet.
    pub fn load(run: &RunDir) -> Self {
        std::fs::read_to_string(run.checkpoints().join(RunDir::BEST)).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default()
    }

    /// Write it into `run`.
    pub fn save(&self, run: &RunDir) -> Result<(), AgentError> {
        let path = run.checkpoints().join(RunDir::BEST);
        crate::atomic::write_atomic(&path, crate::checkpoint::to_json(self)?.as_bytes()).map_err(|e| AgentError::io(&path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_read_back_as_the_kind_they_were_written_as() -> Result<(), AgentError> {
        let step = r#"{"accuracy":0.5,"grad_norm":1.0,"loss":2.0,"lr":0.001,"stage":"finetune","step":3,"step_ms":12.5}"#;
        let val = r#"{"stage":"tokenizer","step":4,"val_loss":0.1,"val_psnr":22.0}"#;
        let round = r#"{"beta":0.0,"episodes":8,"frames":80,"labels":72,"round":1,"stage":"online","step":5,"success":0.5,"success_by_scenario":{"go_to_object":0.5}}"#;
        let nan = r#"{"grad_norm":null,"loss":null,"lr":0.001,"stage":"dynamics","step":6,"step_ms":1.0,"tokens_per_s":10.0}"#;
        for line in [step, val, round] {
            let row: MetricsRow = serde_json::from_str(line).map_err(|e| AgentError::Config(e.to_string()))?;
            assert_eq!(row.to_line()?, line);
        }
        assert!(matches!(serde_json::from_str(round), Ok(MetricsRow::Round(OnlineRound { round: 1, .. }))));
        assert!(matches!(serde_json::from_str(val), Ok(MetricsRow::Validation(ValidationRow { val_accuracy: None, .. }))));
        let row: MetricsRow = serde_json::from_str(nan).map_err(|e| AgentError::Config(e.to_string()))?;
        assert!(matches!(row, MetricsRow::Step(StepRow { stage: Stage::Dynamics, .. })));
        assert_eq!(row.to_line()?, nan);
        Ok(())
    }

    #[test]
    fn a_directory_holding_a_run_is_continued_only_when_asked() -> Result<(), AgentError> {
        let tmp = tempfile::tempdir().map_err(|e| AgentError::io("tempdir", e))?;
        let run = RunDir::new(tmp.path());
        assert!(!run.claim(false)?);
        std::fs::create_dir_all(run.checkpoints()).map_err(|e| AgentError::io("mkdir", e))?;
        std::fs::write(run.latest(), "step-00000001").map_err(|e| AgentError::io("latest", e))?;
        assert!(run.claim(false).is_err_and(|e| e.to_string().contains("pass --resume")));
        assert!(run.claim(true)?);
        Ok(())
    }
}
