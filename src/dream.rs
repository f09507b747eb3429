//! Dreams: an episode played in the real env and the world model's imagination of it, from the
//! same first frame and the same actions, side by side as a GIF.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use candle_core::{Device, IndexOp, Tensor};
use sandtable_agent::loader::load_world_model;
use sandtable_agent::model::Tokenizer;
use sandtable_agent::world_model_eval::imagine;
use sandtable_env::{Env, Frame, PolicySpec, Scenario};

use crate::episode::{Visit, play_episode};
use crate::media::GifWriter;

/// Gap between the two panels, pixels.
pub const GAP: u32 = 4;

/// What to dream.
#[derive(Clone, Debug)]
pub struct Dream {
    /// The world model: a checkpoint or run directory.
    pub checkpoint: PathBuf,
    /// A built-in scenario name or a `.ron` path.
    pub scenario: String,
    /// The episode's seed.
    pub seed: u64,
    /// Steps to play and imagine (fewer if the episode ends).
    pub steps: u32,
    /// Who acts.
    pub policy: PolicySpec,
    /// The GIF to write.
    pub out: PathBuf,
}

/// What a dream wrote.
pub struct Dreamt {
    /// Frames of the GIF.
    pub frames: usize,
    /// Its width and height.
    pub size: (u32, u32),
    /// Actions imagined.
    pub actions: usize,
}

/// Play `job`'s episode, imagine it and write the GIF: real frames left, imagined right.
pub fn dream(job: &Dream, device: &Device) -> Result<Dreamt> {
    let wm = load_world_model(&job.checkpoint, device).context("loading the world model")?;
    let size = wm.config.image_size as u32;
    let scenario = Arc::new(Scenario::load(&job.scenario).context("loading the scenario")?);
    let mut env = Env::new(scenario, size, size).context("starting the environment")?;
    let (mut real, mut actions) = (Vec::new(), Vec::new());
    play_episode(&mut env, &job.policy, job.seed, job.steps, |visit| {
        match visit {
            Visit::Reset(obs, _) => real.push(obs.frame.clone()),
            Visit::Step(_, decision, step) => {
                actions.push(i64::from(decision.token()));
                real.push(step.obs.frame.clone());
            }
        }
        Ok(())
    })?;
    let k = actions.len();
    let first = Tensor::from_vec(real[0].rgb.clone(), (1, size as usize, size as usize, 3), device)?;
    let context = wm.tokenizer.encode(&first)?.unsqueeze(1)?.to_device(&Device::Cpu)?;
    let codes = imagine(&wm.config, &wm.dynamics, &context, &[actions], k)?;
    let mut imagined = vec![decode(&wm.tokenizer, &context.i((.., 0))?.contiguous()?, device)?];
    for t in 0..k {
        imagined.push(decode(&wm.tokenizer, &codes.i((.., t))?.contiguous()?, device)?);
    }
    let frames = write_side_by_side(&job.out, &real, &imagined)?;
    Ok(Dreamt { frames, size: (2 * size + GAP, size), actions: k })
}

/// Write `left` and `right` frame by frame, side by side, as a GIF; returns its frames.
fn write_side_by_side(path: &Path, left: &[Frame], right: &[Frame]) -> Result<usize> {
    let (w, h) = (left[0].width, left[0].height);
    let mut gif = GifWriter::create(path, 2 * w + GAP, h)?;
    for (r, i) in left.iter().zip(right) {
        gif.push(&side_by_side(r, i), 12)?;
    }
    gif.finish()
}

fn decode(tok: &Tokenizer, codes: &Tensor, device: &Device) -> Result<Frame> {
    let img = Tokenizer::to_u8(&tok.decode(&codes.to_device(device)?)?)?;
    let (_, h, w, _) = img.dims4()?;
    Ok(Frame { width: w as u32, height: h as u32, rgb: img.flatten_all()?.to_vec1()? })
}

fn side_by_side(a: &Frame, b: &Frame) -> Frame {
    let w = a.width * 2 + GAP;
    let mut out = Frame { width: w, height: a.height, rgb: vec![255; (w * a.height * 3) as usize] };
    for y in 0..a.height as usize {
        let row = y * w as usize * 3;
        let src = y * a.width as usize * 3;
        let n = a.width as usize * 3;
        out.rgb[row..row + n].copy_from_slice(&a.rgb[src..src + n]);
        let off = row + (a.width + GAP) as usize * 3;
        out.rgb[off..off + n].copy_from_slice(&b.rgb[src..src + n]);
    }
    out
}
