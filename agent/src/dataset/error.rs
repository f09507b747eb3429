//! Dataset errors: each names the file and what is wrong with it.

use std::path::PathBuf;

/// Everything that can be wrong with a dataset on disk or with what is written into one.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// A file could not be read or written.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause, named in the message (not a `source`, which a chain would print again).
        cause: std::io::Error,
    },
    /// A JSON file does not parse.
    #[error("{path}: {message}")]
    Json {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// A file's content contradicts `info.json` or the format.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The caller asked for something the dataset cannot give.
    #[error("{0}")]
    Request(String),
    /// A tensor could not be built.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

impl DatasetError {
    pub(crate) fn invalid(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        DatasetError::Invalid { path: path.into(), message: message.into() }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DatasetError::Io { path: path.into(), cause: source }
    }
}
