//! `info.json` and `episodes.jsonl`: what a dataset holds and how its shards are laid out.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::DatasetError;

/// The `format` field of every sandtable dataset.
pub const FORMAT: &str = "sandtable-dataset";
/// Bumped whenever the layout changes incompatibly.
pub const FORMAT_VERSION: u32 = 1;
/// The action stored on an episode's last frame, from which nothing was done.
pub const NO_ACTION: i64 = -1;

/// One stored column.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feature {
    /// Element type, as numpy names it (`uint8`, `int64`, `float32`).
    pub dtype: String,
    /// Shape of one row's value (`[]` for a scalar).
    pub shape: Vec<usize>,
    /// Axis names, or value names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// What it means.
    pub description: String,
}

/// One shard file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardEntry {
    /// Path relative to the dataset directory.
    pub file: String,
    /// First episode index in the shard.
    pub first_episode: u64,
    /// Number of episodes.
    pub episodes: u64,
    /// Number of rows (frames).
    pub frames: u64,
    /// File size in bytes.
    pub bytes: u64,
    /// SHA-256 of the file, lowercase hex.
    pub sha256: String,
}

/// How the episodes were produced; a resumed recording must match it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recording {
    /// Every episode's seed derives from this.
    pub base_seed: u64,
    /// How an episode's seed derives from the base seed and its index.
    pub seed_rule: String,
    /// Built-in policy name (`expert`, `random`, `mixed:P`).
    pub policy: String,
    /// Episodes asked for.
    pub episodes_requested: u64,
    /// Scenario names, used round robin by episode index.
    pub scenario_names: Vec<String>,
    /// The resolved scenario definitions, in the same order.
    pub scenarios: Vec<serde_json::Value>,
    /// The program that wrote it.
    pub created_by: String,
    /// The env renderer that drew the frames (`batch` or `pbr`); empty in datasets written
    /// before the choice existed, which were all drawn by `pbr`.
    #[serde(default)]
    pub renderer: String,
}

/// `info.json`: the dataset's self-description. It is rewritten after each shard and is the
/// commit point: a shard not listed here is not part of the dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`] at writing.
    pub format_version: u32,
    /// Simulated frames per second.
    pub fps: f64,
    /// Columns, by tensor name.
    pub features: BTreeMap<String, Feature>,
    /// Names of the action indices.
    pub action_vocabulary: Vec<String>,
    /// Words a question may be answered with.
    pub answer_vocabulary: Vec<String>,
    /// How it was recorded.
    pub recording: Recording,
    /// Episodes in the listed shards.
    pub total_episodes: u64,
    /// Rows in the listed shards.
    pub total_frames: u64,
    /// The shards, in episode order.
    pub shards: Vec<ShardEntry>,
}

/// The columns every shard holds: name, dtype, and whether a row is a frame (`[h, w, 3]`) or a
/// scalar (`[]`).
const COLUMNS: [(&str, &str, bool); 7] = [
    ("frames", "uint8", true),
    ("actions", "int64", false),
    ("rewards", "float32", false),
    ("terminated", "uint8", false),
    ("truncated", "uint8", false),
    ("episode_index", "int64", false),
    ("frame_index", "int64", false),
];

impl DatasetInfo {
    /// Its file in a dataset's folder.
    pub const FILE: &str = "info.json";

    /// A fresh description of an empty dataset of `height × width` frames.
    pub fn new(height: usize, width: usize, fps: f64, action_vocabulary: Vec<String>, answer_vocabulary: Vec<String>, recording: Recording) -> Self {
        let scalar = |dtype: &str, description: &str| Feature { dtype: dtype.into(), shape: vec![], names: vec![], description: description.into() };
        let mut features = BTreeMap::new();
        features.insert(
            "frames".into(),
            Feature {
                dtype: "uint8".into(),
                shape: vec![height, width, 3],
                names: vec!["height".into(), "width".into(), "rgb".into()],
                description: "first-person camera frame".into(),
            },
        );
        features.insert(
            "actions".into(),
            Feature {
                dtype: "int64".into(),
                shape: vec![],
                names: action_vocabulary.clone(),
                description: format!("index into action_vocabulary of what was done from this frame; {NO_ACTION} on an episode's last frame"),
            },
        );
        features.insert("rewards".into(), scalar("float32", "reward for this row's action"));
        features.insert("terminated".into(), scalar("uint8", "1 if this row's action ended the episode by success or failure"));
        features.insert("truncated".into(), scalar("uint8", "1 if this row's action ended the episode by the step budget"));
        features.insert("episode_index".into(), scalar("int64", "episode of this row"));
        features.insert("frame_index".into(), scalar("int64", "position of this row in its episode, from 0"));
        Self {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            fps,
            features,
            action_vocabulary,
            answer_vocabulary,
            recording,
            total_episodes: 0,
            total_frames: 0,
            shards: Vec::new(),
        }
    }

    /// Frame height and width.
    pub fn frame_size(&self) -> (usize, usize) {
        self.features.get("frames").map_or((0, 0), |f| (f.shape.first().copied().unwrap_or(0), f.shape.get(1).copied().unwrap_or(0)))
    }

    /// Read and check `DIR/info.json`.
    pub fn load(dir: &Path) -> Result<Self, DatasetError> {
        let path = dir.join(Self::FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| DatasetError::io(&path, e))?;
        Self::parse(&text, &path)
    }

    /// Parse and check the text of an `info.json`; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, DatasetError> {
        let info: DatasetInfo = serde_json::from_str(text).map_err(|e| DatasetError::Json { path: path.to_path_buf(), message: e.to_string() })?;
        if info.format != FORMAT {
            return Err(DatasetError::invalid(path, format!("format is `{}`, expected `{FORMAT}`", info.format)));
        }
        if info.format_version != FORMAT_VERSION {
            return Err(DatasetError::invalid(
                path,
                format!("format version {} is not supported (this build reads version {FORMAT_VERSION})", info.format_version),
            ));
        }
        // The format's own columns: a reader decodes them by these dtypes and shapes.
        for (name, dtype, frame) in COLUMNS {
            let feature = info.features.get(name).ok_or_else(|| DatasetError::invalid(path, format!("features lack `{name}`")))?;
            let shape_ok = if frame {
                matches!(feature.shape[..], [h, w, 3] if h > 0 && w > 0 && h.checked_mul(w).and_then(|p| p.checked_mul(3)).is_some())
            } else {
                feature.shape.is_empty()
            };
            if feature.dtype != dtype || !shape_ok {
                let shape = if frame { "[height, width, 3]" } else { "[]" };
                return Err(DatasetError::invalid(path, format!("features.{name} is {} {:?}, the format has {dtype} {shape}", feature.dtype, feature.shape)));
            }
        }
        let sum = |f: fn(&ShardEntry) -> u64| info.shards.iter().map(f).try_fold(0u64, u64::checked_add);
        let (frames, episodes) = match (sum(|s| s.frames), sum(|s| s.episodes)) {
            (Some(f), Some(e)) => (f, e),
            _ => return Err(DatasetError::invalid(path, "the shards' frame or episode counts add up past 2^64")),
        };
        if frames != info.total_frames || episodes != info.total_episodes {
            return Err(DatasetError::invalid(
                path,
                format!(
                    "totals say {} episodes and {} frames but the shards list {episodes} and {frames}",
                    info.total_episodes, info.total_frames
                ),
            ));
        }
        Ok(info)
    }
}

/// One line of `episodes.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpisodeMeta {
    /// Episode index.
    pub index: u64,
    /// Scenario name.
    pub scenario: String,
    /// The episode's seed.
    pub seed: u64,
    /// Mission or question text.
    pub mission: String,
    /// For questions, the true answer (from the first frame's view).
    pub answer: Option<String>,
    /// For questions, the word the policy answered.
    pub given_answer: Option<String>,
    /// Whether the task succeeded (or the answer was right).
    pub success: bool,
    /// Rows (frames), including the last one.
    pub length: u64,
    /// Sum of rewards.
    #[serde(rename = "return")]
    pub episode_return: f32,
    /// For a `Then` or `AllEver` success condition: the first row at which each subgoal was done,
    /// in the scenario's order (`null` if never), so the progress at row `r` is the number of
    /// entries `<= r`. Absent for other tasks, and in datasets recorded before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subgoal_rows: Option<Vec<Option<u64>>>,
    /// Each row's caption of the view, from the env's ground truth (pretraining's text with
    /// `train.text_prefix = caption`). Absent in datasets recorded before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captions: Option<Vec<String>>,
}

/// Read `episodes.jsonl`, keeping the first `count` lines (later ones belong to a shard that was
/// never committed to `info.json`).
pub(crate) fn load_episodes(dir: &Path, count: u64) -> Result<Vec<EpisodeMeta>, DatasetError> {
    let path = dir.join("episodes.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|e| DatasetError::io(&path, e))?;
    parse_episodes(&text, &path, count)
}

/// Parse the text of an `episodes.jsonl`, keeping its first `count` lines; `path` names it in errors.
pub fn parse_episodes(text: &str, path: &Path, count: u64) -> Result<Vec<EpisodeMeta>, DatasetError> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate().take(count as usize) {
        let meta: EpisodeMeta = serde_json::from_str(line)
            .map_err(|e| DatasetError::Json { path: path.to_path_buf(), message: format!("line {}: {e}", n + 1) })?;
        if meta.index != n as u64 {
            return Err(DatasetError::invalid(path, format!("line {} describes episode {}, expected {n}", n + 1, meta.index)));
        }
        out.push(meta);
    }
    if (out.len() as u64) < count {
        return Err(DatasetError::invalid(path, format!("has {} episodes, info.json lists {count}", out.len())));
    }
    Ok(out)
}
