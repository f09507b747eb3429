//! `sandtable dream`: the real env and the world model's imagination side by side, from the same
//! first frame and the same actions.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use candle_core::{Device, IndexOp, Tensor};
use clap::Args;
use sandtable_agent::loader::load_world_model;
use sandtable_agent::world_model_eval::imagine;
use sandtable_agent::model::Tokenizer;
use sandtable_env::{Decision, Env, Frame, Policy, PolicySpec, Scenario};

use crate::media::GifWriter;

/// Arguments of `sandtable dream`.
#[derive(Debug, Args)]
pub struct DreamArgs {
    /// Checkpoint directory, or a run directory (its latest checkpoint).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Scenario name or `.ron` file.
    #[arg(long, default_value = "go_to_object")]
    pub scenario: String,
    /// Episode seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Steps to play and imagine (fewer if the episode ends).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub steps: u32,
    /// Who acts: expert, random or mixed:P.
    #[arg(long, default_value = "expert")]
    pub policy: PolicySpec,
    /// Output GIF: real frames on the left, imagined on the right.
    #[arg(long, default_value = "dream.gif")]
    pub out: PathBuf,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// Gap between the two panels, pixels.
const GAP: u32 = 4;

/// Play, imagine and write the GIF.
pub fn run(args: DreamArgs) -> Result<()> {
    let device = crate::device::parse(&args.device)?;
    let wm = load_world_model(&args.checkpoint, &device).context("loading the world model")?;
    let size = wm.config.image_size as u32;
    let scenario = Arc::new(Scenario::load(&args.scenario).context("loading the scenario")?);
    let mut env = Env::new(scenario, size, size).context("starting the environment")?;
    let (obs, _) = env.reset(args.seed).context("resetting")?;
    let mut real = vec![obs.frame];
    let mut actions = Vec::new();
    let mut policy = Policy::new(args.policy.clone(), args.seed);
    for _ in 0..args.steps {
        let d = policy.decide(env.state().context("env has no state")?);
        let step = match &d {
            Decision::Act(a) => env.step(*a)?,
            Decision::Answer(w) => env.answer(w)?,
        };
        actions.push(i64::from(d.token()));
        real.push(step.obs.frame);
        if step.terminated || step.truncated {
            break;
        }
    }
    let k = actions.len();
    let first = Tensor::from_vec(real[0].rgb.clone(), (1, size as usize, size as usize, 3), &device)?;
    let context = wm.tokenizer.encode(&first)?.unsqueeze(1)?.to_device(&Device::Cpu)?;
    let codes = imagine(&wm.config, &wm.dynamics, &context, &[actions], k)?;
    let mut imagined = vec![decode(&wm.tokenizer, &context.i((.., 0))?.contiguous()?, &device)?];
    for t in 0..k {
        imagined.push(decode(&wm.tokenizer, &codes.i((.., t))?.contiguous()?, &device)?);
    }
    let mut gif = GifWriter::create(&args.out, 2 * size + GAP, size)?;
    for (r, i) in real.iter().zip(&imagined) {
        gif.push(&side_by_side(r, i), 12)?;
    }
    let frames = gif.finish()?;
    println!(
        "wrote {} ({frames} frames, {}x{}): real on the left, imagined from the first frame and the same {k} actions on the right",
        args.out.display(),
        2 * size + GAP,
        size
    );
    Ok(())
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
