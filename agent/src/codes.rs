//! Frame codes of every used episode, encoded once by the frozen tokenizer: a window's codes
//! never change while the dynamics model or the agent trains, and encoding them on every step
//! would cost more than the step itself. A [`CodeCache`] carries them from one training run to
//! the next over the same tokenizer, as online rounds are.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;

use candle_core::{Device, Tensor};

use crate::AgentError;
use crate::dataset::{Dataset, WindowBatch};
use crate::model::Tokenizer;

/// Codes already encoded, by dataset directory and episode, kept across trainings that share one
/// frozen tokenizer: online imitation's rounds train again and again on datasets that only
/// grow, and encoding all their frames anew each round costs minutes.
#[derive(Default)]
pub struct CodeCache {
    by_episode: RefCell<HashMap<(PathBuf, usize), Vec<u32>>>,
}

/// Codes of the frames of chosen episodes.
pub(crate) struct Codes {
    p: usize,
    /// (dataset, episode) → codes of its rows, `p` per row.
    by_episode: HashMap<(usize, usize), Vec<u32>>,
}

impl Codes {
    /// Encode every frame of `episodes` (per list, per dataset: episode indices) in chunks,
    /// taking those `cache` holds from it and adding the others to it.
    pub(crate) fn encode(data: &[Dataset], episodes: &[&[Vec<usize>]], tok: &Tokenizer, p: usize, device: &Device, cache: Option<&CodeCache>) -> Result<Self, AgentError> {
        const CHUNK: usize = 256;
        let (h, w) = data[0].frame_size();
        let mut by_episode = HashMap::new();
        for (set, d) in data.iter().enumerate() {
            for &e in episodes.iter().flat_map(|eps| eps[set].iter()) {
                let key = (d.dir().to_path_buf(), e);
                if let Some(codes) = cache.and_then(|c| c.by_episode.borrow().get(&key).cloned()) {
                    by_episode.insert((set, e), codes);
                    continue;
                }
                let ep = d.episode(e)?;
                let rows = ep.len();
                let mut codes = Vec::with_capacity(rows * p);
                for start in (0..rows).step_by(CHUNK) {
                    let n = CHUNK.min(rows - start);
                    let bytes = ep.frames(start..start + n)?;
                    let c: Vec<u32> = tok.encode(&Tensor::from_vec(bytes, (n, h, w, 3), device)?)?.flatten_all()?.to_vec1()?;
                    codes.extend(c);
                }
                if let Some(c) = cache {
                    c.by_episode.borrow_mut().insert(key, codes.clone());
                }
                by_episode.insert((set, e), codes);
            }
        }
        Ok(Self { p, by_episode })
    }

    /// Codes of one frame (empty if its episode was not encoded).
    pub(crate) fn frame(&self, set: usize, episode: usize, row: usize) -> Vec<u32> {
        self.by_episode.get(&(set, episode)).map(|c| c[row * self.p..(row + 1) * self.p].to_vec()).unwrap_or_default()
    }

    /// Codes `[b, t, p]` (u32, on the CPU) of a batch of windows; every window's episode must
    /// have been encoded.
    pub(crate) fn windows(&self, batch: &WindowBatch) -> Result<Tensor, AgentError> {
        let (b, t) = batch.actions.dims2()?;
        let mut out = Vec::with_capacity(b * t * self.p);
        for i in 0..b {
            let key = (batch.datasets[i], batch.episodes[i]);
            let codes = self.by_episode.get(&key).ok_or_else(|| AgentError::Config(format!("episode {} of dataset {} was not encoded", key.1, key.0)))?;
            let start = batch.starts[i] * self.p;
            out.extend_from_slice(&codes[start..start + t * self.p]);
        }
        Ok(Tensor::from_vec(out, (b, t, self.p), &Device::Cpu)?)
    }
}
