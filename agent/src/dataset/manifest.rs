//! A dataset manifest: datasets recorded apart (on several machines, or by several workers)
//! listed with their shards, seeds, scenarios, renderer and vocabularies, and checked to fit
//! together. Training reads a manifest as one `--data`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::DatasetError;
use super::info::{DatasetInfo, ShardEntry, load_episodes};
use super::reader::Dataset;
use super::writer::sha256_file;

/// The `format` of a manifest file.
pub const MANIFEST_FORMAT: &str = "sandtable-manifest";
/// The version this build writes and reads.
pub const MANIFEST_VERSION: u32 = 1;

/// Many datasets that fit together.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`].
    pub format: String,
    /// [`MANIFEST_VERSION`].
    pub format_version: u32,
    /// The datasets, in the order training reads them.
    pub datasets: Vec<ManifestEntry>,
}

/// One dataset of a manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// The dataset's folder, relative to the manifest's folder unless absolute.
    pub path: String,
    /// Scenario names, as recorded.
    pub scenarios: Vec<String>,
    /// The renderer that drew its frames.
    pub renderer: String,
    /// Frame height and width.
    pub frame_size: (usize, usize),
    /// Names of the action indices.
    pub action_vocabulary: Vec<String>,
    /// Words a question may be answered with.
    pub answer_vocabulary: Vec<String>,
    /// The recording's base seed: episode `i` plays `episode_seed(base_seed, i)`.
    pub base_seed: u64,
    /// Episodes, so its seeds are those of episodes `0..episodes`.
    pub episodes: u64,
    /// Rows.
    pub frames: u64,
    /// Its shards as its `info.json` lists them, with their sizes and SHA-256.
    pub shards: Vec<ShardEntry>,
}

impl Manifest {
    /// Describe the datasets in `dirs` (each opened and checked) for the manifest file `out`;
    /// fails with one line if they do not fit together.
    pub fn describe(dirs: &[PathBuf], out: &Path) -> Result<Self, DatasetError> {
        let base = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let mut datasets = Vec::with_capacity(dirs.len());
        let mut seeds = Vec::with_capacity(dirs.len());
        for dir in dirs {
            let ds = Dataset::open(dir)?;
            let info = ds.info();
            let path = relative(dir, base);
            seeds.push((path.clone(), (0..ds.num_episodes()).filter_map(|i| ds.episode(i).ok().map(|e| e.meta.seed)).collect::<Vec<_>>()));
            datasets.push(ManifestEntry {
                path,
                scenarios: info.recording.scenario_names.clone(),
                renderer: info.recording.renderer.clone(),
                frame_size: info.frame_size(),
                action_vocabulary: info.action_vocabulary.clone(),
                answer_vocabulary: info.answer_vocabulary.clone(),
                base_seed: info.recording.base_seed,
                episodes: info.total_episodes,
                frames: info.total_frames,
                shards: info.shards.clone(),
            });
        }
        let manifest = Self { format: MANIFEST_FORMAT.into(), format_version: MANIFEST_VERSION, datasets };
        manifest.check_fit(out)?;
        check_seeds(&seeds, out)?;
        Ok(manifest)
    }

    /// Read the manifest at `path` and return its datasets' folders, after checking that they
    /// fit together, that each dataset's `info.json` lists the manifest's shards and that every
    /// shard's SHA-256 is the manifest's.
    pub fn open(path: &Path) -> Result<Vec<PathBuf>, DatasetError> {
        let text = std::fs::read_to_string(path).map_err(|e| DatasetError::io(path, e))?;
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| DatasetError::Json { path: path.to_path_buf(), message: e.to_string() })?;
        if manifest.format != MANIFEST_FORMAT || manifest.format_version != MANIFEST_VERSION {
            return Err(DatasetError::invalid(
                path,
                format!("is {} version {}, this build reads {MANIFEST_FORMAT} version {MANIFEST_VERSION}", manifest.format, manifest.format_version),
            ));
        }
        manifest.check_fit(path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut dirs = Vec::with_capacity(manifest.datasets.len());
        let mut seeds = Vec::with_capacity(manifest.datasets.len());
        for entry in &manifest.datasets {
            let dir = base.join(&entry.path);
            let info = DatasetInfo::load(&dir)?;
            if info.shards != entry.shards {
                return Err(DatasetError::invalid(
                    &dir,
                    format!("lists other shards than the manifest {} (recorded further, or another dataset): make the manifest again", path.display()),
                ));
            }
            for shard in &entry.shards {
                let file = dir.join(&shard.file);
                let got = sha256_file(&file)?;
                if got != shard.sha256 {
                    return Err(DatasetError::invalid(&file, format!("SHA-256 is {got}, the manifest {} says {}", path.display(), shard.sha256)));
                }
            }
            seeds.push((entry.path.clone(), episode_seeds(&dir, &info)?));
            dirs.push(dir);
        }
        check_seeds(&seeds, path)?;
        Ok(dirs)
    }

    /// The datasets must share frame size, renderer and vocabularies.
    fn check_fit(&self, path: &Path) -> Result<(), DatasetError> {
        let Some(first) = self.datasets.first() else {
            return Err(DatasetError::invalid(path, "lists no dataset"));
        };
        for d in &self.datasets[1..] {
            let differ = |what: &str, a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| {
                DatasetError::invalid(path, format!("{} and {} differ in {what}: {a:?} against {b:?}", first.path, d.path))
            };
            if d.frame_size != first.frame_size {
                return Err(differ("frame size", &first.frame_size, &d.frame_size));
            }
            if d.renderer != first.renderer {
                return Err(differ("renderer", &first.renderer, &d.renderer));
            }
            if d.action_vocabulary != first.action_vocabulary {
                return Err(differ("action vocabulary", &first.action_vocabulary, &d.action_vocabulary));
            }
            if d.answer_vocabulary != first.answer_vocabulary {
                return Err(differ("answer vocabulary", &first.answer_vocabulary, &d.answer_vocabulary));
            }
        }
        Ok(())
    }
}

/// No episode seed may be in two datasets (nor one dataset be listed twice): the same seed
/// recorded twice is the same episode counted twice.
fn check_seeds(seeds: &[(String, Vec<u64>)], path: &Path) -> Result<(), DatasetError> {
    let mut owner: HashMap<u64, usize> = HashMap::new();
    for (k, (name, list)) in seeds.iter().enumerate() {
        for &seed in list {
            if let Some(other) = owner.insert(seed, k).filter(|&o| o != k) {
                return Err(DatasetError::invalid(
                    path,
                    format!("{} and {name} overlap: both hold the episode of seed {seed} (record them with other --seed values)", seeds[other].0),
                ));
            }
        }
    }
    Ok(())
}

/// Check that the datasets in `dirs` share no episode seed (a manifest given beside folders or
/// beside another manifest); `what` names them in the error.
pub fn check_disjoint(dirs: &[PathBuf], what: &Path) -> Result<(), DatasetError> {
    let mut seeds = Vec::with_capacity(dirs.len());
    for dir in dirs {
        seeds.push((dir.display().to_string(), episode_seeds(dir, &DatasetInfo::load(dir)?)?));
    }
    check_seeds(&seeds, what)
}

/// The seeds of the episodes `info` lists, from the dataset's `episodes.jsonl`.
fn episode_seeds(dir: &Path, info: &DatasetInfo) -> Result<Vec<u64>, DatasetError> {
    Ok(load_episodes(dir, info.total_episodes)?.iter().map(|e| e.seed).collect())
}

/// `dir` relative to `base` where it lies under it (`.` for `base` itself), else absolute.
fn relative(dir: &Path, base: &Path) -> String {
    let (d, b) = (std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()), std::fs::canonicalize(base).unwrap_or_else(|_| base.to_path_buf()));
    match d.strip_prefix(&b) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".into(),
        Ok(rel) => rel.display().to_string(),
        Err(_) => d.display().to_string(),
    }
}
