//! Training windows: T consecutive rows of one episode, served in a deterministic shuffled order
//! as batches of candle tensors.

use std::ops::Range;

use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::error::DatasetError;
use super::reader::{Dataset, EpisodeView, shuffle};

/// T consecutive rows of one episode.
#[derive(Clone, Debug)]
pub struct Window<'a> {
    /// Episode index.
    pub episode: usize,
    /// First row.
    pub start: usize,
    /// `T × H × W × 3` bytes, read from the shard.
    pub frames: Vec<u8>,
    /// T action indices (the last row of an episode holds `NO_ACTION`).
    pub actions: &'a [i64],
    /// Mission or question text.
    pub mission: &'a str,
    /// For questions, the true answer.
    pub answer: Option<&'a str>,
    /// The caption of the window's last row, when the dataset has captions.
    pub caption: Option<&'a str>,
}

impl Dataset {
    /// Rows `start..start + len` of `episode`.
    pub fn window(&self, episode: usize, start: usize, len: usize) -> Result<Window<'_>, DatasetError> {
        let ep = self.episode(episode)?;
        let rows = window_rows(&ep, start, len)?;
        Ok(Window {
            episode,
            start,
            frames: ep.frames(rows.clone())?,
            actions: &ep.actions[rows.clone()],
            mission: &ep.meta.mission,
            answer: ep.meta.answer.as_deref(),
            caption: ep.caption(rows.end - 1),
        })
    }
}

/// Rows `start..start + len` of `ep`, which must hold them and be at least one row.
fn window_rows(ep: &EpisodeView<'_>, start: usize, len: usize) -> Result<Range<usize>, DatasetError> {
    match start.checked_add(len) {
        Some(end) if len > 0 && end <= ep.len() => Ok(start..end),
        _ => Err(DatasetError::Request(format!("episode {} has {} rows; {len} rows from {start} do not fit", ep.meta.index, ep.len()))),
    }
}

/// A batch of windows as tensors.
#[derive(Debug)]
pub struct WindowBatch {
    /// Each window's dataset (index into the sources).
    pub datasets: Vec<usize>,
    /// u8 `[B, T, H, W, 3]`.
    pub frames: Tensor,
    /// i64 `[B, T]`.
    pub actions: Tensor,
    /// Each window's episode.
    pub episodes: Vec<usize>,
    /// Each window's first row.
    pub starts: Vec<usize>,
    /// Each window's mission text.
    pub missions: Vec<String>,
    /// The caption of each window's last row, if its dataset has captions.
    pub captions: Vec<Option<String>>,
}

/// Every window of length T of the chosen episodes of one or more datasets, visited in a shuffled
/// order that depends only on the seed and the epoch; a new order is drawn at each epoch.
#[derive(Clone, Debug)]
pub struct WindowSampler {
    windows: Vec<(usize, usize, usize)>,
    order: Vec<usize>,
    pos: usize,
    epoch: u64,
    seed: u64,
    len: usize,
    batch: usize,
}

impl WindowSampler {
    /// Windows of `len` rows from the chosen episodes of each dataset, `batch` per batch.
    /// Episodes shorter than `len` are skipped; it is an error if none is long enough, or if the
    /// datasets' frame sizes differ.
    pub fn new(sources: &[(&Dataset, &[usize])], len: usize, batch: usize, seed: u64) -> Result<Self, DatasetError> {
        if len == 0 || batch == 0 {
            return Err(DatasetError::Request("window length and batch size must be at least 1".into()));
        }
        let mut windows = Vec::new();
        let mut chosen = 0;
        for (d, (dataset, episodes)) in sources.iter().enumerate() {
            if dataset.frame_size() != sources[0].0.frame_size() {
                return Err(DatasetError::Request(format!(
                    "{} has {:?} frames, {} has {:?}",
                    dataset.dir().display(),
                    dataset.frame_size(),
                    sources[0].0.dir().display(),
                    sources[0].0.frame_size()
                )));
            }
            chosen += episodes.len();
            for &e in episodes.iter() {
                let n = dataset.episode(e)?.len();
                if n >= len {
                    windows.extend((0..=n - len).map(|s| (d, e, s)));
                }
            }
        }
        if windows.is_empty() {
            return Err(DatasetError::Request(format!("no episode among the {chosen} chosen has {len} rows")));
        }
        let mut s = Self { order: Vec::new(), windows, pos: 0, epoch: 0, seed, len, batch };
        s.reshuffle();
        Ok(s)
    }

    fn reshuffle(&mut self) {
        self.order = (0..self.windows.len()).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ self.epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        shuffle(&mut self.order, &mut rng);
    }

    /// Windows in one epoch.
    pub fn windows_per_epoch(&self) -> usize {
        self.windows.len()
    }

    /// Where the sampler is: (epoch, position in the epoch). Save it to resume exactly.
    pub fn position(&self) -> (u64, usize) {
        (self.epoch, self.pos)
    }

    /// Continue from a saved [`WindowSampler::position`].
    pub fn seek(&mut self, epoch: u64, pos: usize) {
        self.epoch = epoch;
        self.reshuffle();
        self.pos = pos.min(self.windows.len());
    }

    /// The next batch's (dataset, episode, start) triples.
    pub fn next_windows(&mut self) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::with_capacity(self.batch);
        while out.len() < self.batch {
            if self.pos == self.order.len() {
                self.epoch += 1;
                self.pos = 0;
                self.reshuffle();
            }
            out.push(self.windows[self.order[self.pos]]);
            self.pos += 1;
        }
        out
    }

    /// The next batch as tensors on `device`; `sets` are the datasets given to [`WindowSampler::new`].
    pub fn next_batch(&mut self, sets: &[&Dataset], device: &Device) -> Result<WindowBatch, DatasetError> {
        let picks = self.next_windows();
        let (h, w) = sets[0].frame_size();
        let (b, t) = (picks.len(), self.len);
        let window_bytes = t * h * w * 3;
        let mut frames = vec![0u8; b * window_bytes];
        let mut actions = Vec::with_capacity(b * t);
        let mut missions = Vec::with_capacity(b);
        let mut captions = Vec::with_capacity(b);
        for (&(d, e, s), out) in picks.iter().zip(frames.chunks_exact_mut(window_bytes)) {
            let dataset = sets.get(d).ok_or_else(|| DatasetError::Request(format!("dataset {d} was not passed to next_batch")))?;
            let ep = dataset.episode(e)?;
            let rows = window_rows(&ep, s, t)?;
            ep.read_frames(rows.clone(), out)?;
            actions.extend_from_slice(&ep.actions[rows.clone()]);
            missions.push(ep.meta.mission.clone());
            captions.push(ep.caption(rows.end - 1).map(str::to_string));
        }
        Ok(WindowBatch {
            frames: Tensor::from_vec(frames, (b, t, h, w, 3), device)?,
            actions: Tensor::from_vec(actions, (b, t), device)?,
            datasets: picks.iter().map(|p| p.0).collect(),
            episodes: picks.iter().map(|p| p.1).collect(),
            starts: picks.iter().map(|p| p.2).collect(),
            missions,
            captions,
        })
    }
}
