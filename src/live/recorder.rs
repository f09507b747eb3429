//! Recording the play window's episodes into a dataset, each finished episode committed as its
//! own shard, so a killed session leaves a valid dataset.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use sandtable_agent::dataset::DatasetWriter;
use sandtable_env::window::Sink;
use sandtable_env::{Renderer, Scenario};

use crate::live::assembler::{EpisodeAssembler, dataset_info};

/// Closes the writer when the session ends, so an episode that never arrived is reported.
struct Recorder {
    writer: Option<DatasetWriter>,
    episodes: EpisodeAssembler,
    /// Dataset index of each session episode that recorded rows, in order of first row.
    index: HashMap<u64, u64>,
    next: u64,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Some(Err(e)) = self.writer.take().map(DatasetWriter::finish) {
            tracing::error!("the play recording is incomplete: {e}");
        }
    }
}

/// A sink that appends each finished episode to the dataset at `dir` (created if missing) as
/// its own shard; `driver` names who played.
pub fn dataset_sink(dir: &Path, scenario: &Arc<Scenario>, size: u32, renderer: Renderer, driver: &str) -> Result<Sink> {
    // Seeds are chosen in the window, so the recording's base seed is 0 and each episode's own
    // seed is in its metadata.
    let mut info = dataset_info(std::slice::from_ref(scenario), size, renderer, 0, &format!("play:{driver}"), 0)?;
    info.recording.seed_rule = "chosen in the play window (--seed, then R: next, N: fresh); each episode's seed is in episodes.jsonl".into();
    let writer = if dir.join(sandtable_agent::dataset::DatasetInfo::FILE).exists() {
        DatasetWriter::resume(dir, info, 1).with_context(|| format!("appending to the dataset {}", dir.display()))?
    } else {
        DatasetWriter::create(dir, info, 1).with_context(|| format!("creating the dataset {}", dir.display()))?
    };
    let next = writer.committed_episodes();
    let mut rec = Recorder { writer: Some(writer), episodes: EpisodeAssembler::default(), index: HashMap::new(), next };
    Ok(Box::new(move |row| {
        // Episodes reset before their first step record nothing, so dataset indices are given
        // in order of first row: the writer needs them consecutive.
        let mut row = row.clone();
        let next = &mut rec.next;
        row.episode = *rec.index.entry(row.episode).or_insert_with(|| {
            *next += 1;
            *next - 1
        });
        match (rec.episodes.push(&row), rec.writer.as_mut()) {
            (Some(ep), Some(writer)) => writer.push(ep).map_err(|e| format!("writing the dataset: {e}")),
            _ => Ok(()),
        }
    }))
}
