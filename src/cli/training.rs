//! What `pretrain` and `finetune` resolve the same way, once: the config (an explicit `--config`,
//! else the run's own with `--resume`, else the command's default) and the datasets (opened and
//! checked against the config's frame size).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sandtable_agent::config::Config;
use sandtable_agent::dataset::Dataset;

/// The config of a training command writing to `out`: `explicit`, else `out`'s own
/// `config.json` when resuming, else `default()` (a preset name or a config file).
pub fn resolve_config(explicit: Option<&str>, out: &Path, resume: bool, default: impl FnOnce() -> Result<String>) -> Result<Config> {
    let own = out.join("config.json");
    let name = match explicit {
        Some(c) => c.to_string(),
        None if resume && own.is_file() => own.display().to_string(),
        None => default()?,
    };
    Config::load(&name).context("loading the model config")
}

/// Open `paths` as datasets whose frames fit `cfg`.
pub fn open_datasets(paths: &[PathBuf], cfg: &Config) -> Result<Vec<Dataset>> {
    let data = paths.iter().map(|d| Dataset::open(d).with_context(|| format!("opening dataset {}", d.display()))).collect::<Result<Vec<_>>>()?;
    for d in &data {
        let (h, w) = d.frame_size();
        anyhow::ensure!(h == cfg.image_size && w == cfg.image_size, "{} has {h}x{w} frames; config `{}` expects {}x{}", d.dir().display(), cfg.name, cfg.image_size, cfg.image_size);
    }
    Ok(data)
}
