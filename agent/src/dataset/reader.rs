//! Reading a dataset: shards are memory-mapped and checked against `info.json` on open; SHA-256
//! is checked on request. Any disagreement is an error naming the file, never a panic.

use std::path::{Path, PathBuf};

use memmap2::Mmap;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use safetensors::{Dtype, SafeTensors};

use super::error::DatasetError;
use super::info::{DatasetInfo, EpisodeMeta, Feature, NO_ACTION, ShardEntry, load_episodes};
use super::writer::sha256_hex;

/// One shard, mapped, with its small columns decoded.
struct Shard {
    path: PathBuf,
    map: Mmap,
    /// Byte range of the `frames` tensor within the map.
    frames: std::ops::Range<usize>,
    actions: Vec<i64>,
    rewards: Vec<f32>,
    terminated: Vec<u8>,
    truncated: Vec<u8>,
}

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

/// One episode's rows, borrowed from the mapped shard.
#[derive(Clone, Copy, Debug)]
pub struct EpisodeView<'a> {
    /// Its `episodes.jsonl` line.
    pub meta: &'a EpisodeMeta,
    /// `len × H × W × 3` bytes.
    pub frames: &'a [u8],
    /// Action index per row.
    pub actions: &'a [i64],
    /// Reward per row.
    pub rewards: &'a [f32],
    /// Flag per row.
    pub terminated: &'a [u8],
    /// Flag per row.
    pub truncated: &'a [u8],
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

    /// Frame `t`'s bytes.
    pub fn frame(&self, t: usize) -> &'a [u8] {
        &self.frames[t * self.frame_bytes..(t + 1) * self.frame_bytes]
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
    /// Open `dir`: parse `info.json` and `episodes.jsonl`, map every shard and check its sizes,
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
            let shard = open_shard(dir, entry, &info)?;
            spans.extend(check_rows(&shard, entry, &metas, &info, k)?);
            next_episode += entry.episodes;
            shards.push(shard);
        }
        Ok(Self { dir: dir.to_path_buf(), info, metas, shards, spans, frame_bytes })
    }

    /// Compare every shard's SHA-256 with `info.json`.
    pub fn verify(&self) -> Result<(), DatasetError> {
        for (shard, entry) in self.shards.iter().zip(&self.info.shards) {
            let got = sha256_hex(&shard.map);
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
        let s = &self.shards[span.shard];
        let rows = span.start..span.start + span.len;
        let fb = self.frame_bytes;
        Ok(EpisodeView {
            meta: &self.metas[i],
            frames: &s.map[s.frames.start + span.start * fb..s.frames.start + (span.start + span.len) * fb],
            actions: &s.actions[rows.clone()],
            rewards: &s.rewards[rows.clone()],
            terminated: &s.terminated[rows.clone()],
            truncated: &s.truncated[rows],
            frame_bytes: fb,
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

fn numpy_dtype(d: Dtype) -> &'static str {
    match d {
        Dtype::U8 => "uint8",
        Dtype::I64 => "int64",
        Dtype::F32 => "float32",
        Dtype::BOOL => "bool",
        Dtype::I32 => "int32",
        Dtype::U32 => "uint32",
        Dtype::F64 => "float64",
        Dtype::F16 => "float16",
        Dtype::BF16 => "bfloat16",
        _ => "other",
    }
}

#[allow(unsafe_code)]
fn map_file(path: &Path) -> Result<Mmap, DatasetError> {
    let file = std::fs::File::open(path).map_err(|e| DatasetError::io(path, e))?;
    // SAFETY: the map is read-only and every read goes through bounds-checked slices. sandtable
    // never changes a shard once it is renamed into place, and reads only those. What does not
    // hold: another process that rewrites a mapped shard makes its bytes change under `&[u8]`
    // (they are then what the file says, not what `open` checked), and one that truncates it
    // makes a read past the new end raise SIGBUS, which ends the process. No guard catches
    // either; `Dataset::verify` finds a rewritten shard by its SHA-256 before a run.
    unsafe { Mmap::map(&file) }.map_err(|e| DatasetError::io(path, e))
}

fn open_shard(dir: &Path, entry: &ShardEntry, info: &DatasetInfo) -> Result<Shard, DatasetError> {
    let path = dir.join(&entry.file);
    let size = std::fs::metadata(&path)
        .map_err(|e| DatasetError::invalid(&path, format!("cannot read a shard that info.json lists: {e}")))?
        .len();
    if size != entry.bytes {
        return Err(DatasetError::invalid(&path, format!("is {size} bytes, info.json says {} (truncated or overwritten)", entry.bytes)));
    }
    let map = map_file(&path)?;
    let st = SafeTensors::deserialize(&map).map_err(|e| DatasetError::invalid(&path, format!("not a valid safetensors file: {e}")))?;
    let rows = entry.frames as usize;
    let column = |name: &str, feature: &Feature| -> Result<&[u8], DatasetError> {
        let t = st.tensor(name).map_err(|_| DatasetError::invalid(&path, format!("has no `{name}` tensor")))?;
        let dtype = numpy_dtype(t.dtype());
        if dtype != feature.dtype {
            return Err(DatasetError::invalid(&path, format!("`{name}` is {dtype}, info.json says {}", feature.dtype)));
        }
        let mut shape = vec![rows];
        shape.extend(&feature.shape);
        if t.shape() != shape.as_slice() {
            return Err(DatasetError::invalid(&path, format!("`{name}` has shape {:?}, expected {shape:?}", t.shape())));
        }
        Ok(t.data())
    };
    let feature = |name: &str| {
        info.features.get(name).ok_or_else(|| DatasetError::invalid(dir.join(DatasetInfo::FILE), format!("features lack `{name}`")))
    };
    let frames_data = column("frames", feature("frames")?)?;
    let start = frames_data.as_ptr() as usize - map.as_ptr() as usize;
    let frames = start..start + frames_data.len();
    let i64s = |b: &[u8]| b.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect::<Vec<_>>();
    let actions = i64s(column("actions", feature("actions")?)?);
    let rewards = column("rewards", feature("rewards")?)?
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap_or([0; 4])))
        .collect();
    let terminated = column("terminated", feature("terminated")?)?.to_vec();
    let truncated = column("truncated", feature("truncated")?)?.to_vec();
    let episode_index = i64s(column("episode_index", feature("episode_index")?)?);
    let frame_index = i64s(column("frame_index", feature("frame_index")?)?);
    drop(st);
    let shard = Shard { path, map, frames, actions, rewards, terminated, truncated };
    check_indices(&shard, &episode_index, &frame_index, entry)?;
    Ok(shard)
}

fn check_indices(shard: &Shard, episode_index: &[i64], frame_index: &[i64], entry: &ShardEntry) -> Result<(), DatasetError> {
    let bad = |m: String| DatasetError::invalid(&shard.path, m);
    let mut expect_ep = entry.first_episode as i64;
    let mut expect_frame = 0i64;
    for (row, (&e, &f)) in episode_index.iter().zip(frame_index).enumerate() {
        if row > 0 && f == 0 {
            expect_ep += 1;
            expect_frame = 0;
        }
        if e != expect_ep || f != expect_frame {
            return Err(bad(format!("row {row} is episode {e} frame {f}, expected episode {expect_ep} frame {expect_frame}")));
        }
        expect_frame += 1;
    }
    let episodes = if episode_index.is_empty() { 0 } else { expect_ep - entry.first_episode as i64 + 1 };
    if episodes != entry.episodes as i64 {
        return Err(bad(format!("holds {episodes} episodes, info.json says {}", entry.episodes)));
    }
    Ok(())
}

/// Check each episode's rows against `episodes.jsonl` and the action vocabulary; return spans.
fn check_rows(shard: &Shard, entry: &ShardEntry, metas: &[EpisodeMeta], info: &DatasetInfo, k: usize) -> Result<Vec<Span>, DatasetError> {
    let vocab = info.action_vocabulary.len() as i64;
    let mut spans = Vec::with_capacity(entry.episodes as usize);
    let mut row = 0usize;
    for e in entry.first_episode..entry.first_episode + entry.episodes {
        let meta = &metas[e as usize];
        let len = meta.length as usize;
        if len == 0 || row + len > shard.actions.len() {
            return Err(DatasetError::invalid(&shard.path, format!("episode {e} has length {len} in episodes.jsonl, which does not fit the shard")));
        }
        for (t, &a) in shard.actions[row..row + len].iter().enumerate() {
            let last = t + 1 == len;
            let ok = if last { a == NO_ACTION } else { (0..vocab).contains(&a) };
            if !ok {
                return Err(DatasetError::invalid(&shard.path, format!("episode {e} frame {t} has action {a}, outside the vocabulary of {vocab}")));
            }
        }
        spans.push(Span { shard: k, start: row, len });
        row += len;
    }
    if row != shard.actions.len() {
        return Err(DatasetError::invalid(&shard.path, format!("has {} rows, its episodes in episodes.jsonl add up to {row}", shard.actions.len())));
    }
    Ok(spans)
}
