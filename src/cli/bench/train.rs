//! `sandtable bench train`: training throughput of the world model (tokenizer and dynamics steps),
//! a per-layer forward/backward profile of the dynamics step, and optionally the same dynamics
//! step in PyTorch eager (`scripts/torch_reference.py`) measured in the same run.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::{Device, Tensor};
use clap::Args;
use sandtable_agent::config::Config;
use sandtable_agent::weights::Weights;
use sandtable_agent::optim::AdamW;
use sandtable_agent::profile::profile_dynamics;
use serde_json::json;

use super::summary;

/// Arguments of `sandtable bench train`.
#[derive(Debug, Args)]
pub struct TrainBenchArgs {
    /// Presets or config files to measure.
    #[arg(long, value_delimiter = ',', default_values_t = ["tiny".to_string(), "mini".to_string(), "small".to_string()])]
    pub config: Vec<String>,
    /// Timed steps (after 2 untimed ones); medians are reported.
    #[arg(long, default_value_t = 8)]
    pub steps: usize,
    /// Also time the PyTorch reference with this Python (one that can import torch).
    #[arg(long)]
    pub torch: Option<PathBuf>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Also write the results as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Run the training benchmark.
pub fn run(args: TrainBenchArgs) -> Result<()> {
    anyhow::ensure!(args.steps >= 1, "--steps must be at least 1");
    let device = sandtable::device::parse(&args.device)?;
    let mut results = Vec::new();
    for name in &args.config {
        let cfg = Config::load(name)?;
        let r = measure(&cfg, args.steps, &device).with_context(|| format!("benchmarking `{name}`"))?;
        let mut row = r.clone();
        if let Some(python) = &args.torch {
            let torch = torch_reference(python, &cfg, args.steps)?;
            let ms = |v: &serde_json::Value| v.as_f64().unwrap_or(f64::NAN);
            let ratio = ms(&r["dynamics"]["step_ms"]) / ms(&torch["step_ms"]);
            let tok_ratio = ms(&r["tokenizer"]["step_ms"]) / ms(&torch["tokenizer_step_ms"]);
            println!(
                "  PyTorch eager ({} threads): dynamics step {:.1} ms (forward+loss {:.1}, backward {:.1}, optimiser {:.1}), candle / PyTorch = {ratio:.2}; tokenizer step {:.1} ms, candle / PyTorch = {tok_ratio:.2}",
                torch["threads"], ms(&torch["step_ms"]), ms(&torch["forward_ms"]), ms(&torch["backward_ms"]), ms(&torch["optimizer_ms"]), ms(&torch["tokenizer_step_ms"])
            );
            row["torch_reference"] = torch;
            row["candle_over_torch"] = json!(ratio);
            row["tokenizer_candle_over_torch"] = json!(tok_ratio);
        }
        results.push(row);
    }
    if let Some(path) = &args.json {
        let doc = json!({ "device": args.device, "steps": args.steps, "results": results });
        sandtable::media::write_json(path, &doc)?;
    }
    Ok(())
}

fn measure(cfg: &Config, steps: usize, device: &Device) -> Result<serde_json::Value> {
    let tr = &cfg.train;
    let (weights, tok, dynamics) = Weights::world_model(cfg, 0, None, device)?;
    let (tm, dm) = (&weights.tokenizer, &weights.dynamics);
    let (tok_params, dyn_params) = weights.parameters();
    let s = cfg.image_size;

    // Tokenizer steps on a fixed batch of patterned frames.
    let n = tr.tokenizer_batch;
    let pixels: Vec<u8> = (0..n * s * s * 3).map(|i| ((i * 7 + i / 977) % 253) as u8).collect();
    let frames = Tensor::from_vec(pixels, (n, s, s, 3), device)?;
    let mut opt = AdamW::new(tm, tr.weight_decay)?;
    let mut tok_ms = Vec::new();
    for i in 0..steps + 2 {
        let t = Instant::now();
        let loss = tok.loss(&frames)?;
        opt.step(&loss.backward()?, tr.tokenizer_lr, tr.grad_clip)?;
        if i >= 2 {
            tok_ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    let tok_step = summary(&mut tok_ms).0;

    // Dynamics steps on a full-length batch of token sequences.
    let (b, len) = (tr.dynamics_batch, cfg.max_seq());
    let p1 = cfg.tokens_per_frame() + 1;
    let ids: Vec<u32> = (0..b * len)
        .map(|i| if i % len % p1 == p1 - 1 { cfg.action_token(i % 7) } else { ((i * 31 + 7) % cfg.codebook()) as u32 })
        .collect();
    let tokens = Tensor::from_vec(ids, (b, len), device)?;
    let mut opt = AdamW::new(dm, tr.weight_decay)?;
    let (mut fwd, mut bwd, mut upd) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..steps + 2 {
        let t = Instant::now();
        let (loss, _) = dynamics.loss(&tokens)?;
        let f = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let grads = loss.backward()?;
        let g = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        opt.step(&grads, tr.dynamics_lr, tr.grad_clip)?;
        let u = t.elapsed().as_secs_f64() * 1e3;
        if i >= 2 {
            fwd.push(f);
            bwd.push(g);
            upd.push(u);
        }
    }
    let (f, g, u) = (summary(&mut fwd).0, summary(&mut bwd).0, summary(&mut upd).0);
    let step = f + g + u;
    let layers = profile_dynamics(&dynamics, &tokens, 3)?;

    println!(
        "{}: tokenizer {:.2}M params, step {tok_step:.1} ms ({:.0} frames/s, {:.2} steps/s); dynamics {:.2}M params, step {step:.1} ms = forward+loss {f:.1} + backward {g:.1} + optimiser {u:.1} ({:.0} tokens/s, {:.2} steps/s)",
        cfg.name,
        tok_params as f64 / 1e6,
        n as f64 / tok_step * 1e3,
        1e3 / tok_step,
        dyn_params as f64 / 1e6,
        (b * len) as f64 / step * 1e3,
        1e3 / step
    );
    println!("  | layer | forward ms | backward ms |");
    for l in &layers {
        println!("  | {} | {:.2} | {:.2} |", l.layer, l.forward_ms, l.backward_ms);
    }
    Ok(json!({
        "config": cfg.name,
        "tokenizer": { "params": tok_params, "batch_frames": n, "step_ms": tok_step, "frames_per_s": n as f64 / tok_step * 1e3 },
        "dynamics": {
            "params": dyn_params, "batch": b, "seq": len, "forward_ms": f, "backward_ms": g, "optimizer_ms": u, "step_ms": step,
            "tokens_per_s": (b * (len + 1 - p1)) as f64 / step * 1e3, "steps_per_s": 1e3 / step, "layers": layers,
        },
    }))
}

/// Run `scripts/torch_reference.py` on the same config and parse its JSON line.
fn torch_reference(python: &PathBuf, cfg: &Config, steps: usize) -> Result<serde_json::Value> {
    let path = std::env::temp_dir().join(format!("sandtable-bench-{}-{}.json", std::process::id(), cfg.name));
    std::fs::write(&path, serde_json::to_string(cfg)?).context("writing the config for PyTorch")?;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/torch_reference.py");
    let o = Command::new(python)
        .arg(&script)
        .arg("--config")
        .arg(&path)
        .arg("--steps")
        .arg(steps.to_string())
        .output();
    let _ = std::fs::remove_file(&path);
    let o = o.with_context(|| format!("running {}", python.display()))?;
    anyhow::ensure!(o.status.success(), "the PyTorch reference failed: {}", String::from_utf8_lossy(&o.stderr).trim());
    let text = String::from_utf8_lossy(&o.stdout);
    let line = text.lines().last().context("the PyTorch reference printed nothing")?;
    serde_json::from_str(line).context("parsing the PyTorch reference's JSON")
}
