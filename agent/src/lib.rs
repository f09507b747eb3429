//! sandtable's agent: candle models, training and dataset reading. It never depends on Bevy.
//!
//! It owns the one dataset format ([`dataset`]): the recorder writes it, training reads it. Actions
//! are plain indices here; their names come from the dataset's `info.json`.

pub mod actions;
pub mod atomic;
pub mod card;
pub mod checkpoint;
pub mod codes;
pub mod config;
pub mod controller;
pub mod dataset;
pub mod finetune;
pub mod fuzz_targets;
pub mod holdout;
pub mod loader;
pub mod metrics;
pub mod model;
pub mod optim;
pub mod play_windows;
pub mod plot;
pub mod pretrain;
pub mod probe;
pub mod profile;
pub mod replay;
pub mod run_dir;
pub mod runner;
pub mod score;
pub mod text;
pub mod warnings;
pub mod weights;
pub mod world_model_eval;

/// Errors from the agent library.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// A dataset could not be read.
    #[error(transparent)]
    Dataset(#[from] dataset::DatasetError),
    /// A bad configuration or option.
    #[error("{0}")]
    Config(String),
    /// A checkpoint is missing, corrupt, or does not fit the model.
    #[error("checkpoint {path}: {message}")]
    Checkpoint {
        /// The file or directory.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause, named in the message (not a `source`, which a chain would print again).
        cause: std::io::Error,
    },
}

impl AgentError {
    /// An I/O failure on `path` (as [`dataset::DatasetError`] builds its own).
    pub(crate) fn io(path: impl Into<std::path::PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), cause: source }
    }
}
