//! Checkpoints: `RUN/checkpoints/step-NNNNNNNN/` holds the tokenizer and dynamics weights and the
//! optimiser moments (safetensors), `state.json` (stage, step, sampler position, seed, data, action
//! names) and the resolved `config.json`. A checkpoint is written into `step-….partial/` and renamed, then
//! `RUN/checkpoints/latest` names it, so an interrupted save never leaves a half checkpoint; the
//! files are fsynced before the rename, so neither does a machine crash.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use serde::{Deserialize, Serialize};

use crate::AgentError;
use crate::atomic::{sync_parent, sync_tree, write_atomic};
use crate::config::Config;
use crate::run_dir::RunDir;

/// Which part of pretraining is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Training the frame tokenizer.
    Tokenizer,
    /// Training the dynamics transformer on frozen tokens.
    Dynamics,
    /// Instruction tuning the agent on demonstrations.
    Finetune,
    /// Finished.
    Done,
}

impl Stage {
    /// Its name in `metrics.jsonl`, `state.json` and `best.json`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Tokenizer => "tokenizer",
            Self::Dynamics => "dynamics",
            Self::Finetune => "finetune",
            Self::Done => "done",
        }
    }
}

/// The checkpoint format this build writes and reads. Format 2: the world model predicts a
/// whole frame per pass, with a copy gate (`copy`) and a `null` action token (which moves the
/// text ids up by one). Format 1 (no `format` field) was the token-by-token model.
pub const FORMAT: u32 = 2;

fn format_one() -> u32 {
    1
}

/// Where training stands; with the weights and moments it is everything a resume needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// The checkpoint format ([`FORMAT`] when written by this build).
    #[serde(default = "format_one")]
    pub format: u32,
    /// Current stage.
    pub stage: Stage,
    /// Optimiser steps taken over both stages.
    pub step: u64,
    /// The current stage's batch sampler: (epoch, position).
    pub sampler: (u64, usize),
    /// The run's seed (initialisation, split, batch order).
    pub seed: u64,
    /// Dataset directories trained on.
    pub data: Vec<PathBuf>,
    /// The action names the model's action tokens stand for, in token order (empty in
    /// checkpoints written before it was stored).
    #[serde(default)]
    pub actions: Vec<String>,
}

fn err(path: &Path, message: impl Into<String>) -> AgentError {
    AgentError::Checkpoint { path: path.to_path_buf(), message: message.into() }
}

/// Write a checkpoint of `maps` (name → variables), the optimiser `moments`, `state`, `cfg` and
/// `extras` (file name → bytes, such as the text vocabulary).
pub fn save(
    run: &Path,
    cfg: &Config,
    maps: &[(&str, &VarMap)],
    moments: &HashMap<String, Tensor>,
    state: &TrainState,
    extras: &[(&str, &[u8])],
) -> Result<PathBuf, AgentError> {
    let root = run.join(RunDir::CHECKPOINTS);
    let name = format!("step-{:08}", state.step);
    let dir = root.join(&name);
    let tmp = root.join(format!("{name}.partial"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| AgentError::io(&tmp, e))?;
    }
    let written = (|| {
        std::fs::create_dir_all(&tmp).map_err(|e| AgentError::io(&tmp, e))?;
        for (file, map) in maps {
            let path = tmp.join(format!("{file}.safetensors"));
            map.save(&path).map_err(|e| err(&path, e.to_string()))?;
        }
        let path = tmp.join("optimizer.safetensors");
        candle_core::safetensors::save(moments, &path).map_err(|e| err(&path, e.to_string()))?;
        std::fs::write(tmp.join(RunDir::STATE), to_json(state)?).map_err(|e| AgentError::io(&tmp, e))?;
        std::fs::write(tmp.join(RunDir::CONFIG), to_json(cfg)?).map_err(|e| AgentError::io(&tmp, e))?;
        for (file, bytes) in extras {
            std::fs::write(tmp.join(file), bytes).map_err(|e| AgentError::io(&tmp, e))?;
        }
        // On the disk before the rename: a machine crash then leaves the previous checkpoint whole.
        sync_tree(&tmp).map_err(|e| AgentError::io(&tmp, e))
    })();
    if let Err(e) = written {
        // A full disk is the usual cause: give back what the half-written checkpoint took.
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| AgentError::io(&dir, e))?;
    }
    std::fs::rename(&tmp, &dir).map_err(|e| AgentError::io(&dir, e))?;
    sync_parent(&dir).map_err(|e| AgentError::io(&root, e))?;
    let latest = root.join(RunDir::LATEST);
    write_atomic(&latest, name.as_bytes()).map_err(|e| AgentError::io(&latest, e))?;
    Ok(dir)
}

/// Pretty JSON of a serialisable value.
pub(crate) fn to_json<T: Serialize>(v: &T) -> Result<String, AgentError> {
    serde_json::to_string_pretty(v).map_err(|e| AgentError::Config(e.to_string()))
}

/// The checkpoint a path names: a checkpoint directory itself, or a run directory (its latest).
pub fn resolve(path: &Path) -> Result<PathBuf, AgentError> {
    if path.join(RunDir::STATE).is_file() {
        return Ok(path.to_path_buf());
    }
    let run = RunDir::new(path);
    let name = std::fs::read_to_string(run.latest()).map_err(|_| err(path, "is neither a checkpoint nor a run directory with checkpoints/latest"))?;
    let dir = run.checkpoints().join(name.trim());
    if !dir.join(RunDir::STATE).is_file() {
        return Err(err(&dir, "named by checkpoints/latest but missing or incomplete"));
    }
    Ok(dir)
}

/// The resolved config saved in a checkpoint.
pub fn load_config(ckpt: &Path) -> Result<Config, AgentError> {
    load_saved_config(&ckpt.join(RunDir::CONFIG))
}

/// A `config.json` that a run or checkpoint saved. One saved before `dynamics.action_tokens`
/// existed describes a model of [`crate::config::LEGACY_ACTION_TOKENS`] action tokens.
pub fn load_saved_config(path: &Path) -> Result<Config, AgentError> {
    let path = path.to_path_buf();
    let text = std::fs::read_to_string(&path).map_err(|e| err(&path, e.to_string()))?;
    let mut cfg = Config::parse(&text, &path.display().to_string())?;
    // Written before the field existed: the model has the action tokens of that time.
    let fields: serde_json::Value = serde_json::from_str(&text).map_err(|e| err(&path, e.to_string()))?;
    if fields["dynamics"].get("action_tokens").is_none() {
        cfg.dynamics.action_tokens = crate::config::LEGACY_ACTION_TOKENS;
    }
    Ok(cfg)
}

/// The training state saved in a checkpoint.
pub fn load_state(ckpt: &Path) -> Result<TrainState, AgentError> {
    let path = ckpt.join(RunDir::STATE);
    let text = std::fs::read_to_string(&path).map_err(|e| err(&path, e.to_string()))?;
    TrainState::parse(&text, &path)
}

impl TrainState {
    /// Parse and check the text of a `state.json`; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, AgentError> {
        let state: TrainState = serde_json::from_str(text).map_err(|e| err(path, format!("not a valid training state: {e}")))?;
        if state.format != FORMAT {
            return Err(err(
                path,
                format!("is checkpoint format {}, this sandtable reads format {FORMAT} (the world model changed to one pass per frame with a copy path): retrain with `sandtable pretrain`", state.format),
            ));
        }
        Ok(state)
    }
}

/// Read a safetensors file of a checkpoint.
pub fn load_tensors(ckpt: &Path, file: &str) -> Result<HashMap<String, Tensor>, AgentError> {
    let path = ckpt.join(format!("{file}.safetensors"));
    if !path.is_file() {
        return Err(err(&path, "missing"));
    }
    candle_core::safetensors::load(&path, &Device::Cpu).map_err(|e| err(&path, format!("not a valid safetensors file: {e}")))
}

/// Copy `file`'s tensors into `map`'s variables, which must all be present with the same shapes.
pub fn load_into(map: &VarMap, ckpt: &Path, file: &str) -> Result<(), AgentError> {
    let mut names: Vec<String> = map.data().lock().unwrap_or_else(|p| p.into_inner()).keys().cloned().collect();
    names.sort_unstable();
    load_named(map, ckpt, file, &names.iter().map(String::as_str).collect::<Vec<_>>(), true)
}

/// Copy the variables `names` of `map` that checkpoint `ckpt`'s `file` holds; those it lacks
/// keep their values (a world model pretrained without the agent's instruction positions).
pub fn load_present(map: &VarMap, ckpt: &Path, file: &str, names: &[&str]) -> Result<(), AgentError> {
    load_named(map, ckpt, file, names, false)
}

fn load_named(map: &VarMap, ckpt: &Path, file: &str, names: &[&str], required: bool) -> Result<(), AgentError> {
    let tensors = load_tensors(ckpt, file)?;
    let path = ckpt.join(format!("{file}.safetensors"));
    let data = map.data().lock().unwrap_or_else(|p| p.into_inner());
    for &name in names {
        let Some(var) = data.get(name) else { continue };
        let Some(t) = tensors.get(name) else {
            if required {
                return Err(err(&path, format!("has no `{name}`: the model (its config or sandtable version) does not match this checkpoint")));
            }
            continue;
        };
        if t.shape() != var.shape() {
            return Err(err(
                &path,
                format!("`{name}` is {:?} in the checkpoint but {:?} in the model: the model (its config or sandtable version) does not match this checkpoint", t.dims(), var.dims()),
            ));
        }
        var.set(&t.to_device(var.device())?).map_err(|e| err(&path, e.to_string()))?;
    }
    Ok(())
}
