//! GIF saving: a few successful and failed episodes of each scenario, for looking at.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sandtable_agent::dataset::EpisodeData;
use sandtable_env::Frame;

use crate::media::GifWriter;

/// Keeps the first `keep` successful and `keep` failed episodes of each scenario as GIFs.
pub struct GifSaver {
    dir: PathBuf,
    keep: usize,
    saved: HashMap<(String, bool), usize>,
    /// The GIFs written so far.
    pub written: Vec<PathBuf>,
}

impl GifSaver {
    /// A saver writing into `dir`; `keep` 0 saves nothing.
    pub fn new(dir: PathBuf, keep: usize) -> Self {
        Self { dir, keep, saved: HashMap::new(), written: Vec::new() }
    }

    /// Write `ep` as a GIF of `size`² frames if its scenario and result still want one.
    pub fn offer(&mut self, ep: &EpisodeData, size: u32) -> Result<()> {
        let (scenario, success) = (&ep.meta.scenario, ep.meta.success);
        let n = self.saved.entry((scenario.clone(), success)).or_default();
        if *n >= self.keep || ep.frames.is_empty() {
            return Ok(());
        }
        *n += 1;
        std::fs::create_dir_all(&self.dir).with_context(|| format!("creating {}", self.dir.display()))?;
        let path = self.dir.join(format!("{scenario}_{}_{:04}.gif", if success { "success" } else { "failure" }, ep.meta.index));
        write_gif(&path, &ep.frames, size)?;
        self.written.push(path);
        Ok(())
    }
}

/// An episode's `size`² RGB frames as a GIF at 10 frames per second, the last held for a second.
fn write_gif(path: &Path, frames: &[u8], size: u32) -> Result<()> {
    let mut gif = GifWriter::create(path, size, size)?;
    let rows: Vec<&[u8]> = frames.chunks((size * size * 3) as usize).collect();
    for (i, rgb) in rows.iter().enumerate() {
        let frame = Frame { width: size, height: size, rgb: rgb.to_vec() };
        gif.push(&frame, if i + 1 == rows.len() { 100 } else { 10 })?;
    }
    gif.finish()?;
    Ok(())
}
