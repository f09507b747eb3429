//! The agent card: what a fine-tuning run started from, held out and trained on. It is saved as
//! `agent.json` in the run and in every checkpoint, and a resume must match it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::AgentError;
use crate::holdout::Pair;

/// What a fine-tuning run starts from and holds out; saved as `agent.json` in the run and in
/// every checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentCard {
    /// The pretraining checkpoint it started from; `None` for from scratch.
    pub init: Option<PathBuf>,
    /// Colour×shape pairs whose missions were kept out of training.
    pub holdout: Vec<Pair>,
    /// Words the agent may answer with.
    pub answers: Vec<String>,
    /// Demonstration datasets.
    pub data: Vec<PathBuf>,
    /// Episodes trained on (after the split and the holdout).
    pub train_episodes: usize,
    /// Episodes held out for validation.
    pub val_episodes: usize,
    /// Episodes dropped because their mission names a held-out pair.
    pub holdout_episodes: usize,
    /// Whether the transformer blocks were frozen (only embeddings, positions, the final norm and
    /// the head trained).
    #[serde(default)]
    pub frozen_trunk: bool,
}

impl AgentCard {
    /// The card saved in checkpoint `ckpt`.
    pub fn load(ckpt: &Path) -> Result<Self, AgentError> {
        let path = ckpt.join("agent.json");
        std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
            .map_err(|m| AgentError::Checkpoint { path, message: m })
    }
}
