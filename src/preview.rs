//! Scenario previews: the first frame of several seeds of a scenario as one labelled grid, with
//! a legend ([`PreviewLegend`]) of each cell's seed and mission beside it.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use sandtable_env::{EnvBatch, EnvConfig, Renderer, Scenario};
use serde::{Deserialize, Serialize};

use crate::media::{draw_label, write_atomic, write_json};

/// The legend written beside a preview grid, `NAME.json` beside `NAME.png`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PreviewLegend {
    /// The scenario's name.
    pub scenario: String,
    /// Frame side, pixels.
    pub size: u32,
    /// The cells, row by row.
    pub cells: Vec<PreviewCell>,
}

/// One cell of a preview grid.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PreviewCell {
    /// The seed.
    pub seed: u64,
    /// Its mission.
    pub mission: String,
    /// Objects in its world.
    pub objects: usize,
}

/// A preview request.
#[derive(Clone, Debug)]
pub struct ScenarioPreview {
    /// A built-in scenario name or a `.ron` path.
    pub scenario: String,
    /// Seeds to show, from `first_seed`.
    pub seeds: u64,
    /// The first seed.
    pub first_seed: u64,
    /// Frame side, pixels.
    pub size: u32,
    /// Which renderer draws the frames.
    pub renderer: Renderer,
    /// The PNG to write; the legend goes beside it.
    pub out: PathBuf,
}

/// A written preview.
pub struct Preview {
    /// Columns and rows of the grid.
    pub grid: (u32, u32),
    /// Where the legend went.
    pub legend: PathBuf,
}

/// Render the first frame of each seed `job` asks for and write the grid and its legend.
pub fn preview(job: &ScenarioPreview) -> Result<Preview> {
    let (first_seed, size, renderer, out) = (job.first_seed, job.size, job.renderer, job.out.as_path());
    let scenario = Arc::new(Scenario::load(&job.scenario)?);
    let n = job.seeds as usize;
    // Render in batches of up to 8 envs per App.
    let per_app = n.min(8);
    let mut batch = EnvBatch::new(EnvConfig { scenario: scenario.clone(), num_envs: per_app, width: size, height: size, renderer }).context("starting the environment")?;
    let mut cells = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(per_app) {
        let resets: Vec<(usize, u64)> = chunk.iter().enumerate().map(|(slot, &k)| (slot, first_seed + k as u64)).collect();
        for ((obs, info), (_, seed)) in batch.reset_many(&resets)?.into_iter().zip(resets) {
            cells.push((seed, obs, info));
        }
    }
    let cols = (n as f64).sqrt().ceil() as u32;
    let rows = (n as u32).div_ceil(cols);
    let label_h = 9;
    let pad = 2;
    let cw = size + pad;
    let ch = size + label_h + pad;
    let mut img = image::RgbImage::from_pixel(cols * cw + pad, rows * ch + pad, image::Rgb([24, 24, 24]));
    for (k, (seed, obs, _)) in cells.iter().enumerate() {
        let (cx, cy) = ((k as u32 % cols) * cw + pad, (k as u32 / cols) * ch + pad);
        for y in 0..size {
            for x in 0..size {
                img.put_pixel(cx + x, cy + label_h + y, image::Rgb(obs.frame.pixel(x, y)));
            }
        }
        draw_label(&mut img, cx + 1, cy + 1, &format!("#{seed}"));
    }
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).context("encoding PNG")?;
    write_atomic(out, &png)?;
    let legend = PreviewLegend {
        scenario: scenario.name.clone(),
        size,
        cells: cells.iter().map(|(seed, obs, info)| PreviewCell { seed: *seed, mission: obs.mission.clone(), objects: info.objects.len() }).collect(),
    };
    let json_path = out.with_extension("json");
    write_json(&json_path, &legend)?;
    Ok(Preview { grid: (cols, rows), legend: json_path })
}
