//! Entry points of the fuzz targets (`scripts/fuzz.sh`) and of their regression tests: each takes
//! any bytes and must return, with a value or an error, and never panic.

use std::path::Path;

use crate::checkpoint::TrainState;
use crate::config::Config;
use crate::dataset::{DatasetInfo, Recording, ShardEntry, parse_episodes, read_columns};

/// A target: its name and its entry point.
pub type FuzzTarget = (&'static str, fn(&[u8]));

/// The targets by name, as `scripts/fuzz.sh` and the corpus folders name them.
pub const TARGETS: [FuzzTarget; 5] = [
    ("dataset_info", dataset_info),
    ("episodes", episodes),
    ("shard", shard),
    ("checkpoint_config", checkpoint_config),
    ("checkpoint_state", checkpoint_state),
];

/// `info.json`: parsed and checked.
pub fn dataset_info(bytes: &[u8]) {
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = DatasetInfo::parse(text, Path::new("info.json")).map(|info| info.frame_size());
    }
}

/// `episodes.jsonl`: every line parsed and numbered.
pub fn episodes(bytes: &[u8]) {
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = parse_episodes(
            text,
            Path::new("episodes.jsonl"),
            text.lines().count() as u64,
        );
    }
}

/// The dataset of 2×2 frames that a fuzzed shard is read against: 3 rows of one episode.
pub(crate) fn shard_info(bytes: u64) -> (DatasetInfo, ShardEntry) {
    let recording = Recording {
        base_seed: 0,
        seed_rule: "fuzz".into(),
        policy: "expert".into(),
        episodes_requested: 1,
        scenario_names: vec!["fuzz".into()],
        scenarios: vec![],
        created_by: "fuzz".into(),
        renderer: "batch".into(),
    };
    let info = DatasetInfo::new(
        2,
        2,
        30.0,
        vec!["a".into(), "b".into(), "c".into()],
        vec!["red".into()],
        recording,
    );
    let entry = ShardEntry {
        file: "shard.safetensors".into(),
        first_episode: 0,
        episodes: 1,
        frames: 3,
        bytes,
        sha256: String::new(),
    };
    (info, entry)
}

/// A shard file: its header, columns and row numbering, against a fixed `info.json`.
pub fn shard(bytes: &[u8]) {
    let (info, entry) = shard_info(bytes.len() as u64);
    let path = Path::new("shard.safetensors");
    if let Ok(columns) = read_columns(bytes, bytes.len() as u64, path, &entry, &info) {
        let _ = columns.check_indices(path, &entry);
    }
}

/// A checkpoint's `config.json`: parsed and validated.
pub fn checkpoint_config(bytes: &[u8]) {
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = Config::parse(text, "config.json");
    }
}

/// A checkpoint's `state.json`: parsed and checked.
pub fn checkpoint_state(bytes: &[u8]) {
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = TrainState::parse(text, Path::new("state.json"));
    }
}
