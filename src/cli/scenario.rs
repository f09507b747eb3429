//! `sandtable scenario list|check|preview`: what is built in, whether files are valid, and what
//! the randomisation produces.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use sandtable_env::scenario::builtin_names;
use sandtable_env::{EnvBatch, EnvConfig, Renderer, Scenario};
use serde_json::json;

use crate::media::write_atomic;

/// Scenario tools.
#[derive(Debug, Subcommand)]
pub enum ScenarioCommand {
    /// Show the built-in scenarios with their one-line descriptions.
    List,
    /// Validate scenario files; exits non-zero at the first bad one.
    Check(CheckArgs),
    /// Render the first frame of several seeds as one labelled grid image.
    Preview(PreviewArgs),
}

/// Arguments of `scenario check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Scenario files (or built-in names).
    #[arg(required = true)]
    pub files: Vec<String>,
}

/// Arguments of `scenario preview`.
#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// A scenario file or built-in name.
    pub scenario: String,
    /// Number of seeds, starting at `--first-seed`.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub seeds: u64,
    /// First seed.
    #[arg(long, default_value_t = 0)]
    pub first_seed: u64,
    /// Frame side, pixels.
    #[arg(long, default_value_t = 96)]
    pub size: u32,
    /// Which renderer draws the frames: batch or pbr.
    #[arg(long, default_value_t = Renderer::Batch)]
    pub renderer: Renderer,
    /// The PNG to write; a JSON file with each cell's seed and mission is written beside it.
    #[arg(long)]
    pub out: PathBuf,
}

/// Run a scenario tool.
pub fn run(cmd: ScenarioCommand) -> Result<()> {
    match cmd {
        ScenarioCommand::List => {
            for name in builtin_names() {
                let s = Scenario::load(name).with_context(|| format!("built-in scenario {name}"))?;
                println!("{name:<20} {}", s.description);
            }
            Ok(())
        }
        ScenarioCommand::Check(a) => {
            for f in &a.files {
                let s = Scenario::load(f)?;
                println!("ok {f} ({})", s.name);
            }
            Ok(())
        }
        ScenarioCommand::Preview(a) => preview(a),
    }
}

fn preview(a: PreviewArgs) -> Result<()> {
    let scenario = Arc::new(Scenario::load(&a.scenario)?);
    let n = a.seeds as usize;
    // Render in batches of up to 8 envs per App.
    let per_app = n.min(8);
    let mut batch = EnvBatch::new(EnvConfig { scenario: scenario.clone(), num_envs: per_app, width: a.size, height: a.size, renderer: a.renderer })
        .context("starting the environment")?;
    let mut cells = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(per_app) {
        let resets: Vec<(usize, u64)> = chunk.iter().enumerate().map(|(slot, &k)| (slot, a.first_seed + k as u64)).collect();
        for ((obs, info), (_, seed)) in batch.reset_many(&resets)?.into_iter().zip(resets) {
            cells.push((seed, obs, info));
        }
    }
    let cols = (n as f64).sqrt().ceil() as u32;
    let rows = (n as u32).div_ceil(cols);
    let label_h = 9;
    let pad = 2;
    let cw = a.size + pad;
    let ch = a.size + label_h + pad;
    let mut img = image::RgbImage::from_pixel(cols * cw + pad, rows * ch + pad, image::Rgb([24, 24, 24]));
    for (k, (seed, obs, _)) in cells.iter().enumerate() {
        let (cx, cy) = ((k as u32 % cols) * cw + pad, (k as u32 / cols) * ch + pad);
        for y in 0..a.size {
            for x in 0..a.size {
                img.put_pixel(cx + x, cy + label_h + y, image::Rgb(obs.frame.pixel(x, y)));
            }
        }
        crate::media::draw_label(&mut img, cx + 1, cy + 1, &format!("#{seed}"));
    }
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).context("encoding PNG")?;
    write_atomic(&a.out, &png)?;
    let legend: Vec<_> = cells
        .iter()
        .map(|(seed, obs, info)| json!({ "seed": seed, "mission": obs.mission, "objects": info.objects.len() }))
        .collect();
    let json_path = a.out.with_extension("json");
    write_atomic(&json_path, serde_json::to_string_pretty(&json!({ "scenario": scenario.name, "size": a.size, "cells": legend }))?.as_bytes())?;
    println!("wrote {} ({} seeds, {cols}x{rows}) and {}", a.out.display(), n, json_path.display());
    Ok(())
}
