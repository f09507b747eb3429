//! Writing a dataset: episodes arrive in any order, shards are cut from the consecutive ones, and
//! every file lands through a rename so an interrupted recording leaves a valid dataset.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use safetensors::Dtype;
use safetensors::tensor::TensorView;
use sha2::{Digest, Sha256};

use super::error::DatasetError;
use super::info::{DatasetInfo, EpisodeMeta, ShardEntry, load_episodes};
use crate::atomic::write_atomic;

/// One finished episode's rows, ready to be written.
#[derive(Clone, Debug, PartialEq)]
pub struct EpisodeData {
    /// Its `episodes.jsonl` line.
    pub meta: EpisodeMeta,
    /// Frames, `len × H × W × 3` bytes.
    pub frames: Vec<u8>,
    /// One action index per row.
    pub actions: Vec<i64>,
    /// One reward per row.
    pub rewards: Vec<f32>,
    /// One flag per row.
    pub terminated: Vec<u8>,
    /// One flag per row.
    pub truncated: Vec<u8>,
}

impl EpisodeData {
    /// An empty episode with this metadata (its length and return are filled as rows arrive).
    pub fn new(meta: EpisodeMeta) -> Self {
        Self { meta, frames: Vec::new(), actions: Vec::new(), rewards: Vec::new(), terminated: Vec::new(), truncated: Vec::new() }
    }

    /// Append a row.
    pub fn push_row(&mut self, frame: &[u8], action: i64, reward: f32, terminated: bool, truncated: bool) {
        self.frames.extend_from_slice(frame);
        self.actions.push(action);
        self.rewards.push(reward);
        self.terminated.push(u8::from(terminated));
        self.truncated.push(u8::from(truncated));
        self.meta.length = self.actions.len() as u64;
        self.meta.episode_return += reward;
    }

    /// Rows so far.
    pub fn len(&self) -> usize {
        self.actions.len()
    }

    /// Whether no row has been added.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }
}

/// Writes shards, `episodes.jsonl` and `info.json` into a dataset directory.
pub struct DatasetWriter {
    dir: PathBuf,
    info: DatasetInfo,
    lines: Vec<String>,
    waiting: BTreeMap<u64, EpisodeData>,
    ready: Vec<EpisodeData>,
    ready_frames: u64,
    shard_frames: u64,
    frame_bytes: usize,
}

impl DatasetWriter {
    /// Start a new dataset in `dir`, cutting a shard every `shard_frames` rows (at episode ends).
    /// Fails if `dir` already holds one.
    pub fn create(dir: &Path, info: DatasetInfo, shard_frames: u64) -> Result<Self, DatasetError> {
        let info_path = dir.join(DatasetInfo::FILE);
        if info_path.exists() {
            return Err(DatasetError::Request(format!(
                "{} already holds a dataset; pass --resume to continue it or choose another directory",
                dir.display()
            )));
        }
        let data = dir.join("data");
        std::fs::create_dir_all(&data).map_err(|e| DatasetError::io(&data, e))?;
        let mut w = Self::with(dir, info, Vec::new(), shard_frames)?;
        // An empty but valid dataset exists from the start, so even an early kill leaves one.
        w.commit()?;
        Ok(w)
    }

    /// Continue the dataset in `dir`. `fresh` describes what the caller would record now; it must
    /// match what was recorded before in everything but the number of episodes requested.
    pub fn resume(dir: &Path, fresh: DatasetInfo, shard_frames: u64) -> Result<Self, DatasetError> {
        let old = DatasetInfo::load(dir)?;
        let path = dir.join(DatasetInfo::FILE);
        let (a, b) = (&old.recording, &fresh.recording);
        let mismatch = |what: &str, was: String, now: String| {
            DatasetError::invalid(&path, format!("cannot resume: it was recorded with {what} {was}, this run asks for {now}"))
        };
        if a.base_seed != b.base_seed {
            return Err(mismatch("seed", a.base_seed.to_string(), b.base_seed.to_string()));
        }
        if a.policy != b.policy {
            return Err(mismatch("policy", a.policy.clone(), b.policy.clone()));
        }
        if a.scenario_names != b.scenario_names || a.scenarios != b.scenarios {
            return Err(mismatch("scenarios", a.scenario_names.join(","), b.scenario_names.join(",")));
        }
        // Datasets from before the renderer choice hold no name; they were all drawn by `pbr`.
        let old_renderer = if a.renderer.is_empty() { "pbr" } else { a.renderer.as_str() };
        if !b.renderer.is_empty() && old_renderer != b.renderer {
            return Err(mismatch("renderer", old_renderer.to_string(), b.renderer.clone()));
        }
        // The action names are also the `actions` feature's: check them first, for the clearer message.
        if old.action_vocabulary != fresh.action_vocabulary || old.answer_vocabulary != fresh.answer_vocabulary {
            return Err(DatasetError::invalid(&path, "cannot resume: the action or answer vocabulary changed"));
        }
        if old.features != fresh.features {
            return Err(mismatch("frame size", format!("{:?}", old.frame_size()), format!("{:?}", fresh.frame_size())));
        }
        // Leftovers of the interrupted run: a shard that was being written.
        let data = dir.join("data");
        if let Ok(entries) = std::fs::read_dir(&data) {
            for e in entries.flatten() {
                if e.path().extension().is_some_and(|x| x == "partial") {
                    std::fs::remove_file(e.path()).map_err(|err| DatasetError::io(e.path(), err))?;
                }
            }
        }
        let metas = load_episodes(dir, old.total_episodes)?;
        let lines = metas.iter().map(|m| serde_json::to_string(m).map_err(|e| DatasetError::Request(e.to_string()))).collect::<Result<_, _>>()?;
        let mut info = old;
        info.recording.episodes_requested = fresh.recording.episodes_requested;
        let mut w = Self::with(dir, info, lines, shard_frames)?;
        // Drop lines of an uncommitted shard from episodes.jsonl.
        w.commit()?;
        Ok(w)
    }

    fn with(dir: &Path, info: DatasetInfo, lines: Vec<String>, shard_frames: u64) -> Result<Self, DatasetError> {
        let (h, w) = info.frame_size();
        if h == 0 || w == 0 || shard_frames == 0 {
            return Err(DatasetError::Request("frames must be at least 1×1 and shards at least one frame".into()));
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            info,
            lines,
            waiting: BTreeMap::new(),
            ready: Vec::new(),
            ready_frames: 0,
            shard_frames,
            frame_bytes: h * w * 3,
        })
    }

    /// Episodes already committed to disk; a resumed recording starts at this index.
    pub fn committed_episodes(&self) -> u64 {
        self.info.total_episodes
    }

    /// Rows already committed to disk.
    pub fn committed_frames(&self) -> u64 {
        self.info.total_frames
    }

    fn next_index(&self) -> u64 {
        self.info.total_episodes + self.ready.len() as u64
    }

    /// Add a finished episode. Episodes may come in any order; shards are cut from consecutive ones.
    pub fn push(&mut self, ep: EpisodeData) -> Result<(), DatasetError> {
        let rows = ep.actions.len();
        let consistent = rows > 0
            && ep.frames.len() == rows * self.frame_bytes
            && ep.rewards.len() == rows
            && ep.terminated.len() == rows
            && ep.truncated.len() == rows;
        if !consistent {
            return Err(DatasetError::Request(format!("episode {} has inconsistent row counts", ep.meta.index)));
        }
        if ep.meta.index < self.next_index() || self.waiting.contains_key(&ep.meta.index) {
            return Err(DatasetError::Request(format!("episode {} was already written", ep.meta.index)));
        }
        self.waiting.insert(ep.meta.index, ep);
        while let Some(ep) = self.waiting.remove(&self.next_index()) {
            self.ready_frames += ep.actions.len() as u64;
            self.ready.push(ep);
            if self.ready_frames >= self.shard_frames {
                self.write_shard()?;
            }
        }
        Ok(())
    }

    /// Write what is left and return the final description. Fails if an episode is missing.
    pub fn finish(mut self) -> Result<DatasetInfo, DatasetError> {
        if let Some(first) = self.waiting.keys().next() {
            return Err(DatasetError::Request(format!("episode {} never arrived before episode {first}", self.next_index())));
        }
        if !self.ready.is_empty() {
            self.write_shard()?;
        }
        Ok(self.info)
    }

    fn write_shard(&mut self) -> Result<(), DatasetError> {
        let episodes = std::mem::take(&mut self.ready);
        self.ready_frames = 0;
        let rows: usize = episodes.iter().map(EpisodeData::len).sum();
        let first = episodes[0].meta.index;
        let (h, w) = self.info.frame_size();
        let mut frames = Vec::with_capacity(rows * self.frame_bytes);
        let (mut actions, mut rewards, mut terminated, mut truncated, mut episode_index, mut frame_index) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for ep in &episodes {
            frames.extend_from_slice(&ep.frames);
            actions.extend(ep.actions.iter().flat_map(|a| a.to_le_bytes()));
            rewards.extend(ep.rewards.iter().flat_map(|r| r.to_le_bytes()));
            terminated.extend_from_slice(&ep.terminated);
            truncated.extend_from_slice(&ep.truncated);
            for i in 0..ep.len() {
                episode_index.extend((ep.meta.index as i64).to_le_bytes());
                frame_index.extend((i as i64).to_le_bytes());
            }
        }
        let tensors = vec![
            ("frames", view(Dtype::U8, vec![rows, h, w, 3], &frames)?),
            ("actions", view(Dtype::I64, vec![rows], &actions)?),
            ("rewards", view(Dtype::F32, vec![rows], &rewards)?),
            ("terminated", view(Dtype::U8, vec![rows], &terminated)?),
            ("truncated", view(Dtype::U8, vec![rows], &truncated)?),
            ("episode_index", view(Dtype::I64, vec![rows], &episode_index)?),
            ("frame_index", view(Dtype::I64, vec![rows], &frame_index)?),
        ];
        // One metadata key: safetensors writes its metadata map in hash order, and a dataset's
        // bytes must not depend on that.
        let about = serde_json::json!({
            "format": super::info::FORMAT,
            "format_version": super::info::FORMAT_VERSION,
            "first_episode": first,
            "episodes": episodes.len(),
        });
        let metadata = [("sandtable".to_string(), about.to_string())].into_iter().collect();
        let bytes = safetensors::serialize(tensors, Some(metadata)).map_err(|e| DatasetError::Request(format!("serialising a shard: {e}")))?;
        let file = format!("data/shard-{:05}.safetensors", self.info.shards.len());
        let path = self.dir.join(&file);
        write_atomic(&path, &bytes).map_err(|e| DatasetError::io(&path, e))?;
        self.info.shards.push(ShardEntry {
            file,
            first_episode: first,
            episodes: episodes.len() as u64,
            frames: rows as u64,
            bytes: bytes.len() as u64,
            sha256: sha256_hex(&bytes),
        });
        self.info.total_episodes += episodes.len() as u64;
        self.info.total_frames += rows as u64;
        for ep in &episodes {
            self.lines.push(serde_json::to_string(&ep.meta).map_err(|e| DatasetError::Request(e.to_string()))?);
        }
        self.commit()
    }

    /// Write `episodes.jsonl`, then `info.json`, which commits the new shard.
    fn commit(&mut self) -> Result<(), DatasetError> {
        let mut jsonl = self.lines.join("\n");
        if !jsonl.is_empty() {
            jsonl.push('\n');
        }
        let path = self.dir.join("episodes.jsonl");
        write_atomic(&path, jsonl.as_bytes()).map_err(|e| DatasetError::io(&path, e))?;
        let path = self.dir.join(DatasetInfo::FILE);
        let text = serde_json::to_string_pretty(&self.info).map_err(|e| DatasetError::Request(e.to_string()))?;
        write_atomic(&path, text.as_bytes()).map_err(|e| DatasetError::io(&path, e))
    }
}

fn view(dtype: Dtype, shape: Vec<usize>, data: &[u8]) -> Result<TensorView<'_>, DatasetError> {
    TensorView::new(dtype, shape, data).map_err(|e| DatasetError::Request(format!("building shard tensor: {e}")))
}

/// SHA-256 of `bytes` as lowercase hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// SHA-256 of a file as lowercase hex, read in chunks.
pub(crate) fn sha256_file(path: &std::path::Path) -> Result<String, DatasetError> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(|e| DatasetError::io(path, e))?;
    let (mut hasher, mut buf) = (Sha256::new(), vec![0u8; 1 << 20]);
    loop {
        let n = file.read(&mut buf).map_err(|e| DatasetError::io(path, e))?;
        if n == 0 {
            return Ok(hex(&hasher.finalize()));
        }
        hasher.update(&buf[..n]);
    }
}

/// Bytes as lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
