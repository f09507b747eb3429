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
    /// The env renderer that drew the training frames (`batch` or `pbr`), from the datasets'
    /// recordings; empty when they disagree or the card predates the choice.
    #[serde(default)]
    pub renderer: String,
}

/// The renderer every dataset's frames were drawn by, or empty when they disagree. A recording
/// that names none predates the choice and was drawn by `pbr`.
pub fn common_renderer<'a>(recorded: impl IntoIterator<Item = &'a str>) -> String {
    let mut names = recorded.into_iter().map(|r| if r.is_empty() { "pbr" } else { r });
    match names.next() {
        Some(first) if names.all(|r| r == first) => first.to_string(),
        _ => String::new(),
    }
}

impl AgentCard {
    /// The card saved in checkpoint `ckpt`.
    pub fn load(ckpt: &Path) -> Result<Self, AgentError> {
        let path = ckpt.join(crate::run_dir::RunDir::CARD);
        std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
            .map_err(|m| AgentError::Checkpoint { path, message: m })
    }
}

#[cfg(test)]
mod tests {
    use super::common_renderer;

    #[test]
    fn the_common_renderer_is_named_only_when_all_agree() {
        assert_eq!(common_renderer(["batch", "batch"]), "batch");
        // A recording without a name predates the choice: PBR.
        assert_eq!(common_renderer(["", "pbr"]), "pbr");
        assert_eq!(common_renderer(["batch", ""]), "");
        assert_eq!(common_renderer([]), "");
    }
}
