//! Reading a dataset: shards are checked against `info.json` on open and their frames are read
//! when asked for; SHA-256 is checked on request. Any disagreement is an error naming the file,
//! never a panic.

use std::ops::Range;
use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::error::DatasetError;
use super::info::{DatasetInfo, EpisodeMeta, NO_ACTION, ShardEntry, load_episodes};
use super::shard::Shard;
use super::writer::sha256_file;

/// Where an episode's rows live.
#[derive(Clone, Copy, Debug)]
struct Span {
    shard: usize,
    start: usize,
    len: usize,
}

/// An opened dataset.
pub struct Dataset {
    dir: PathBuf,
    info: DatasetInfo,
    metas: Vec<EpisodeMeta>,
    shards: Vec<Shard>,
    spans: Vec<Span>,
    frame_bytes: usize,
}

/// One episode: its small columns borrowed from the opened shard, its frames read on request.
#[derive(Clone, Copy, Debug)]
pub struct EpisodeView<'a> {
    /// Its `episodes.jsonl` line.
    pub meta: &'a EpisodeMeta,
    /// Action index per row.
    pub actions: &'a [i64],
    /// Reward per row.
    pub rewards: &'a [f32],
    /// Flag per row.
    pub terminated: &'a [u8],
    /// Flag per row.
    pub truncated: &'a [u8],
    shard: &'a Shard,
    /// Its first row in the shard.
    start: usize,
    frame_bytes: usize,
}

impl<'a> EpisodeView<'a> {
    /// Rows (frames).
    pub fn len(&self) -> usize {
        self.actions.len()
    }

    /// Whether the episode has no rows (never true in a valid dataset).
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// Bytes of one frame (`H × W × 3`).
    pub fn frame_bytes(&self) -> usize {
        self.frame_bytes
    }

    /// Fill `out` (`rows.len() × H × W × 3` bytes) with the frames of `rows`.
    pub fn read_frames(&self, rows: Range<usize>, out: &mut [u8]) -> Result<(), DatasetError> {
        self.check_rows(&rows)?;
        if out.len() != rows.len() * self.frame_bytes {
            return Err(DatasetError::Request(format!("{} frames of {} bytes do not fill a buffer of {}", rows.len(), self.frame_bytes, out.len())));
        }
        self.read_checked_rows(rows.start, out)
    }

    /// The frames of `rows`, `rows.len() × H × W × 3` bytes.
    pub fn frames(&self, rows: Range<usize>) -> Result<Vec<u8>, DatasetError> {
        // Checked before the buffer is allocated, so a wild range is an error, not an abort.
        self.check_rows(&rows)?;
        let mut out = vec![0u8; rows.len() * self.frame_bytes];
        self.read_checked_rows(rows.start, &mut out)?;
        Ok(out)
    }

    /// Fill `out` with frames from row `first` on; the caller has checked the rows and `out`'s size.
    fn read_checked_rows(&self, first: usize, out: &mut [u8]) -> Result<(), DatasetError> {
        let at = self.shard.columns.frames_at + ((self.start + first) * self.frame_bytes) as u64;
        self.shard.read(at, out)
    }

    /// Frame `t`'s bytes.
    pub fn frame(&self, t: usize) -> Result<Vec<u8>, DatasetError> {
        self.frames(t..t.saturating_add(1))
    }

    /// The caption of row `t`, when the dataset has captions.
    pub fn caption(&self, t: usize) -> Option<&'a str> {
        self.meta.captions.as_ref().and_then(|c| c.get(t)).map(String::as_str)
    }

    fn check_rows(&self, rows: &Range<usize>) -> Result<(), DatasetError> {
        if rows.start > rows.end || rows.end > self.len() {
            return Err(DatasetError::Request(format!("episode {} has {} rows; rows {}..{} do not fit", self.meta.index, self.len(), rows.start, rows.end)));
        }
        Ok(())
    }
}

/// Episode indices for training and validation, disjoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// Training episodes, ascending.
    pub train: Vec<usize>,
    /// Validation episodes, ascending.
    pub val: Vec<usize>,
}

impl Dataset {
    /// Open `dir`: parse `info.json` and `episodes.jsonl`, open every shard and check its sizes,
    /// dtypes, shapes and row bookkeeping against them. Checksums are not computed here; see
    /// [`Dataset::verify`].
    pub fn open(dir: &Path) -> Result<Self, DatasetError> {
        let info = DatasetInfo::load(dir)?;
        let metas = load_episodes(dir, info.total_episodes)?;
        let (h, w) = info.frame_size();
        let frame_bytes = h * w * 3;
        let mut shards = Vec::with_capacity(info.shards.len());
        let mut spans = Vec::with_capacity(metas.len());
        let mut next_episode = 0u64;
        for (k, entry) in info.shards.iter().enumerate() {
            if entry.first_episode != next_episode {
                return Err(DatasetError::invalid(
                    dir.join(DatasetInfo::FILE),
                    format!("shard {} starts at episode {}, expected {next_episode}", entry.file, entry.first_episode),
                ));
            }
            let shard = Shard::open(dir, entry, &info)?;
            shard.columns.check_indices(&shard.path, entry)?;
            spans.extend(check_rows(&shard, entry, &metas, &info, k)?);
            next_episode += entry.episodes;
            shards.push(shard);
        }
        Ok(Self { dir: dir.to_path_buf(), info, metas, shards, spans, frame_bytes })
    }

    /// Compare every shard's SHA-256 with `info.json`.
    pub fn verify(&self) -> Result<(), DatasetError> {
        for (shard, entry) in self.shards.iter().zip(&self.info.shards) {
            let got = sha256_file(&shard.path)?;
            if got != entry.sha256 {
                return Err(DatasetError::invalid(&shard.path, format!("SHA-256 is {got}, info.json says {}", entry.sha256)));
            }
        }
        Ok(())
    }

    /// The dataset directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `info.json`.
    pub fn info(&self) -> &DatasetInfo {
        &self.info
    }

    /// Number of episodes.
    pub fn num_episodes(&self) -> usize {
        self.metas.len()
    }

    /// Frame height and width.
    pub fn frame_size(&self) -> (usize, usize) {
        self.info.frame_size()
    }

    /// Episode `i`.
    pub fn episode(&self, i: usize) -> Result<EpisodeView<'_>, DatasetError> {
        let span = *self
            .spans
            .get(i)
            .ok_or_else(|| DatasetError::Request(format!("episode {i} does not exist (the dataset has {})", self.spans.len())))?;
        let shard = &self.shards[span.shard];
        let (c, rows) = (&shard.columns, span.start..span.start + span.len);
        Ok(EpisodeView {
            meta: &self.metas[i],
            actions: &c.actions[rows.clone()],
            rewards: &c.rewards[rows.clone()],
            terminated: &c.terminated[rows.clone()],
            truncated: &c.truncated[rows],
            shard,
            start: span.start,
            frame_bytes: self.frame_bytes,
        })
    }

    /// Split episodes into training and validation, `val_fraction` of them (at least one when
    /// there are two or more episodes and the fraction is above zero) chosen by `seed`.
    pub fn split(&self, val_fraction: f64, seed: u64) -> Split {
        let n = self.num_episodes();
        let mut order: Vec<usize> = (0..n).collect();
        shuffle(&mut order, &mut ChaCha8Rng::seed_from_u64(seed));
        let mut val_count = (n as f64 * val_fraction.clamp(0.0, 1.0)).round() as usize;
        if val_fraction > 0.0 && n >= 2 {
            val_count = val_count.clamp(1, n - 1);
        }
        let mut val = order[..val_count].to_vec();
        let mut train = order[val_count..].to_vec();
        val.sort_unstable();
        train.sort_unstable();
        Split { train, val }
    }

    /// A split that holds as the dataset grows: episode `i` is for validation when a draw seeded
    /// by `seed` and `i` alone falls under `val_fraction`, so appending episodes never moves an
    /// old one between the sides (online imitation's aggregated dataset grows every round).
    pub fn stable_split(&self, val_fraction: f64, seed: u64) -> Split {
        use rand::Rng;
        let (mut train, mut val) = (Vec::new(), Vec::new());
        for i in 0..self.num_episodes() {
            let draw: f64 = ChaCha8Rng::seed_from_u64(seed ^ 0x5_7AB1E ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)).random();
            if draw < val_fraction { val.push(i) } else { train.push(i) }
        }
        Split { train, val }
    }
}

/// Fisher–Yates with our seeded generator, so the order is the same on every platform.
pub(crate) fn shuffle<T>(items: &mut [T], rng: &mut ChaCha8Rng) {
    use rand::Rng;
    for i in (1..items.len()).rev() {
        let j = rng.random_range(0..=i);
        items.swap(i, j);
    }
}

/// Check each episode's rows against `episodes.jsonl` and the action vocabulary; return spans.
fn check_rows(shard: &Shard, entry: &ShardEntry, metas: &[EpisodeMeta], info: &DatasetInfo, k: usize) -> Result<Vec<Span>, DatasetError> {
    let vocab = info.action_vocabulary.len() as i64;
    let mut spans = Vec::with_capacity(entry.episodes as usize);
    let mut row = 0usize;
    for e in entry.first_episode..entry.first_episode + entry.episodes {
        let meta = metas.get(e as usize).ok_or_else(|| DatasetError::invalid(&shard.path, format!("holds episode {e}, which episodes.jsonl lacks")))?;
        let len = usize::try_from(meta.length).unwrap_or(usize::MAX);
        if len == 0 || row.checked_add(len).is_none_or(|end| end > shard.columns.actions.len()) {
            return Err(DatasetError::invalid(&shard.path, format!("episode {e} has length {len} in episodes.jsonl, which does not fit the shard")));
        }
        for (t, &a) in shard.columns.actions[row..row + len].iter().enumerate() {
            let last = t + 1 == len;
            let ok = if last { a == NO_ACTION } else { (0..vocab).contains(&a) };
            if !ok {
                return Err(DatasetError::invalid(&shard.path, format!("episode {e} frame {t} has action {a}, outside the vocabulary of {vocab}")));
            }
        }
        spans.push(Span { shard: k, start: row, len });
        row += len;
    }
    if row != shard.columns.actions.len() {
        return Err(DatasetError::invalid(&shard.path, format!("has {} rows, its episodes in episodes.jsonl add up to {row}", shard.columns.actions.len())));
    }
    Ok(spans)
}
