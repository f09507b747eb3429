//! sandtable's agent: candle models, training and dataset reading. It never depends on Bevy.
//!
//! It owns the one dataset format ([`dataset`]): the recorder writes it, training reads it. Actions
//! are plain indices here; their names come from the dataset's `info.json`.

pub mod atomic;
pub mod checkpoint;
pub(crate) mod codes;
pub mod config;
pub mod controller;
pub mod dataset;
pub mod eval;
pub mod finetune;
pub mod holdout;
pub mod metrics;
pub mod model;
pub mod optim;
pub mod plot;
pub mod profile;
pub mod replay;
pub mod score;
pub mod text;
pub mod train;

use candle_core::{DType, Device, Tensor};

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
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Input bytes did not match the stated shape.
    #[error("expected {expected} bytes for {frames} frames of {height}x{width}x3, got {got}")]
    FrameBytes {
        /// Bytes expected.
        expected: usize,
        /// Bytes received.
        got: usize,
        /// Frame count.
        frames: usize,
        /// Height.
        height: usize,
        /// Width.
        width: usize,
    },
}

/// Turn packed RGB bytes `[n, h, w, 3]` into an f32 tensor `[n, 3, h, w]` scaled to 0..=1.
pub fn frames_to_tensor(rgb: &[u8], n: usize, height: usize, width: usize, device: &Device) -> Result<Tensor, AgentError> {
    let expected = n * height * width * 3;
    if rgb.len() != expected {
        return Err(AgentError::FrameBytes { expected, got: rgb.len(), frames: n, height, width });
    }
    // [n, h, w, 3] -> [n, 3, h, w]
    let t = Tensor::from_slice(rgb, (n, height, width, 3), device)?.permute((0, 3, 1, 2))?;
    Ok((t.to_dtype(DType::F32)? / 255.0)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_become_channel_first_unit_floats() -> Result<(), AgentError> {
        let rgb: Vec<u8> = (0..2 * 2 * 3 * 3).map(|i| (i * 7 % 256) as u8).collect();
        let t = frames_to_tensor(&rgb, 3, 2, 2, &Device::Cpu)?;
        assert_eq!(t.dims(), &[3, 3, 2, 2]);
        // Frame 1, channel 2 (blue), row 1, col 0 is pixel (1 * 2 + 1) * 2 = 6, byte 6 * 3 + 2 = 20.
        let v: f32 = t.get(1)?.get(2)?.get(1)?.get(0)?.to_scalar()?;
        assert!((v - f32::from(rgb[20]) / 255.0).abs() < 1e-6);
        assert!(frames_to_tensor(&rgb, 4, 2, 2, &Device::Cpu).is_err());
        Ok(())
    }
}
