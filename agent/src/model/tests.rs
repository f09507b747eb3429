//! Shapes, gradients for every parameter, overfitting one batch, and bit-exact checkpoints.

use candle_core::{DType, Device, Result, Tensor, Var};
use candle_nn::VarMap;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::config::Config;
use crate::optim::AdamW;

fn frames(n: usize, seed: u8) -> Result<Tensor> {
    let v: Vec<u8> = (0..n * 64 * 64 * 3).map(|i| ((i * 7 + usize::from(seed) * 31) % 251) as u8).collect();
    Tensor::from_vec(v, (n, 64, 64, 3), &Device::Cpu)
}

fn tokens(cfg: &Config, b: usize) -> Result<Tensor> {
    let p = cfg.tokens_per_frame();
    let codes: Vec<u32> = (0..b * cfg.dynamics.frames * p).map(|i| ((i * 37 + 11) % cfg.codebook()) as u32).collect();
    let codes = Tensor::from_vec(codes, (b, cfg.dynamics.frames, p), &Device::Cpu)?;
    let actions: Vec<i64> = (0..b * cfg.dynamics.frames).map(|i| (i % 7) as i64).collect();
    interleave(cfg, &codes, &Tensor::from_vec(actions, (b, cfg.dynamics.frames), &Device::Cpu)?)
}

fn build(cfg: &Config) -> Result<(VarMap, Tokenizer, VarMap, Dynamics)> {
    let (tm, dm) = (VarMap::new(), VarMap::new());
    let tok = Tokenizer::new(cfg, SeededInit::new(tm.clone(), 1).builder(&Device::Cpu))?;
    let dynamics = Dynamics::new(cfg, SeededInit::new(dm.clone(), 2).builder(&Device::Cpu))?;
    Ok((tm, tok, dm, dynamics))
}

fn assert_all_grads(map: &VarMap, loss: &Tensor) -> Result<()> {
    let grads = loss.backward()?;
    let data = map.data().lock().expect("lock");
    for (name, var) in data.iter() {
        let g = grads.get(var.as_tensor()).unwrap_or_else(|| panic!("`{name}` got no gradient"));
        let v: Vec<f32> = g.flatten_all()?.to_vec1()?;
        assert!(v.iter().all(|x| x.is_finite()), "`{name}` has a non-finite gradient");
        assert!(v.iter().any(|x| *x != 0.0), "`{name}` has an all-zero gradient");
    }
    Ok(())
}

#[test]
fn shapes() -> Result<()> {
    let cfg = Config::tiny();
    let (_, tok, _, dynamics) = build(&cfg)?;
    let codes = tok.encode(&frames(3, 0)?)?;
    assert_eq!(codes.dims(), &[3, cfg.tokens_per_frame()]);
    assert_eq!(codes.dtype(), DType::U32);
    assert_eq!(tok.decode(&codes)?.dims(), &[3, 64, 64, 3]);
    let t = tokens(&cfg, 2)?;
    assert_eq!(t.dims(), &[2, cfg.max_seq()]);
    assert_eq!(dynamics.logits(&t)?.dims(), &[2, cfg.max_seq(), cfg.vocab()]);
    let prefix = t.narrow(1, 0, cfg.tokens_per_frame() + 1)?;
    assert_eq!(dynamics.next_frame(&prefix)?.dims(), &[2, cfg.tokens_per_frame()]);
    Ok(())
}

#[test]
fn every_parameter_gets_a_gradient() -> Result<()> {
    let mut cfg = Config::tiny();
    cfg.finetune.pixel_stem = true;
    let (tm, tok, dm, dynamics) = build(&cfg)?;
    assert_all_grads(&tm, &tok.loss(&frames(4, 1)?)?)?;
    assert_all_grads(&dm, &dynamics.loss(&tokens(&cfg, 2)?)?.0)?;
    // The agent: instruction positions, answer position and every dynamics weight.
    let am = VarMap::new();
    let agent = Agent::new(&cfg, SeededInit::new(am.clone(), 3).builder(&Device::Cpu))?;
    // The stem's last layer starts at zero (so nothing below it gets a gradient yet): move it.
    let out = am.data().lock().expect("lock")["stem.out.weight"].clone();
    out.set(&out.as_tensor().randn_like(0.0, 0.02)?)?;
    let p = cfg.tokens_per_frame();
    let pixels = frames(cfg.finetune.frames, 7)?.flatten_all()?.to_vec1::<u8>()?;
    let frame_bytes = pixels.len() / cfg.finetune.frames;
    let windows: Vec<AgentWindow> = (0..3u32)
        .map(|r| AgentWindow {
            text: (2..2 + cfg.finetune.text_len as u32 - r).collect(),
            codes: (0..cfg.finetune.frames).map(|f| (0..p).map(|k| ((k * 13 + f * 7) as u32 + r) % cfg.codebook() as u32).collect()).collect(),
            actions: (0..cfg.finetune.frames).map(|f| if r == 2 && f + 1 == cfg.finetune.frames { cfg.answer_action() as i64 } else { (f as i64 + i64::from(r)) % 7 }).collect(),
            answer: (r == 2).then_some(5),
            pixels: pixels.chunks(frame_bytes).map(<[u8]>::to_vec).collect(),
        })
        .collect();
    let seqs = agent.sequences(&windows)?;
    assert_eq!(seqs.tokens.len(), 3 * agent.seq_len());
    assert_eq!(seqs.act_targets.len(), 3 * cfg.finetune.frames + 1);
    assert_all_grads(&am, &agent.loss(&seqs, 0.5)?.0)?;

    // A frozen trunk: no block weight gets a gradient at all, everything else still does.
    let mut frozen_agent = agent.clone();
    frozen_agent.freeze_blocks(&cfg, &am)?;
    let grads = frozen_agent.loss(&seqs, 0.5)?.0.backward()?;
    for (name, var) in am.data().lock().expect("lock").iter() {
        assert_eq!(grads.get(var.as_tensor()).is_some(), !name.starts_with("blocks."), "{name}");
    }
    Ok(())
}

#[test]
fn tiny_overfits_one_batch() -> Result<()> {
    let cfg = Config::tiny();
    let (tm, tok, dm, dynamics) = build(&cfg)?;
    let batch = tokens(&cfg, 4)?;
    let mut opt = AdamW::new(&dm, 0.0)?;
    let first = dynamics.loss(&batch)?.0.to_scalar::<f32>()?;
    let mut last = first;
    for _ in 0..300 {
        let (loss, _) = dynamics.loss(&batch)?;
        opt.step(&loss.backward()?, 3e-3, 1.0)?;
        last = loss.to_scalar::<f32>()?;
    }
    assert!(last * 10.0 < first, "dynamics loss {first} -> {last}");

    let x = frames(8, 2)?;
    let mut opt = AdamW::new(&tm, 0.0)?;
    let first = tok.loss(&x)?.to_scalar::<f32>()?;
    let mut last = first;
    for _ in 0..300 {
        let loss = tok.loss(&x)?;
        opt.step(&loss.backward()?, 3e-3, 1.0)?;
        last = loss.to_scalar::<f32>()?;
    }
    assert!(last * 10.0 < first, "tokenizer loss {first} -> {last}");
    Ok(())
}

#[test]
fn same_seed_same_weights_and_checkpoints_round_trip_bit_exactly() -> Result<()> {
    let cfg = Config::tiny();
    let (tm, _, _, _) = build(&cfg)?;
    let (tm2, _, _, _) = build(&cfg)?;
    let dir = tempfile::tempdir().map_err(candle_core::Error::wrap)?;
    let path = dir.path().join("t.safetensors");
    tm.save(&path)?;
    let loaded = candle_core::safetensors::load(&path, &Device::Cpu)?;
    let data = tm2.data().lock().expect("lock");
    for (name, var) in tm.data().lock().expect("lock").iter() {
        let a: Vec<u32> = bits(var)?;
        assert_eq!(a, bits(&data[name])?, "`{name}` differs between two builds with one seed");
        let b: Vec<u32> = loaded[name].flatten_all()?.to_vec1::<f32>()?.iter().map(|x| x.to_bits()).collect();
        assert_eq!(a, b, "`{name}` changed through the checkpoint");
    }
    Ok(())
}

fn bits(v: &Var) -> Result<Vec<u32>> {
    Ok(v.as_tensor().flatten_all()?.to_vec1::<f32>()?.iter().map(|x| x.to_bits()).collect())
}

#[test]
fn the_tokenizer_loss_is_the_reconstruction_error_in_pixel_units() -> Result<()> {
    let cfg = Config::tiny();
    let (_, tok, _, _) = build(&cfg)?;
    let f = frames(3, 9)?;
    let direct: f32 = (tok.reconstruct(&f)? - (f.to_dtype(DType::F32)? / 255.0)?)?.sqr()?.mean_all()?.to_scalar()?;
    let loss: f32 = tok.loss(&f)?.to_scalar()?;
    assert!((loss - direct).abs() <= 1e-5 * direct.abs().max(1e-3), "{loss} vs {direct}");
    Ok(())
}

/// How the second frame of a window follows from the first and the action.
type NextFrame<'a> = &'a dyn Fn(&[u32], i64, &mut ChaCha8Rng) -> Vec<u32>;

/// Interleaved windows of two frames: a random first frame (of a 4×4 code grid), an action from
/// `actions` and the second frame `next(first, action, rng)`.
fn two_frame_windows(cfg: &Config, b: usize, seed: u64, actions: &[i64], next: NextFrame<'_>) -> Result<Tensor> {
    let p = cfg.tokens_per_frame();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut codes, mut acts) = (Vec::new(), Vec::new());
    for _ in 0..b {
        let first: Vec<u32> = (0..p).map(|_| rng.random_range(0..cfg.codebook() as u32)).collect();
        let a = actions[rng.random_range(0..actions.len())];
        codes.extend(first.iter().copied().chain(next(&first, a, &mut rng)));
        acts.extend([a, 0]);
    }
    interleave(cfg, &Tensor::from_vec(codes, (b, 2, p), &Device::Cpu)?, &Tensor::from_vec(acts, (b, 2), &Device::Cpu)?)
}

/// Train `dynamics` on fresh batches from `batch(step)`.
fn train(map: &VarMap, dynamics: &Dynamics, steps: u64, batch: &dyn Fn(u64) -> Result<Tensor>) -> Result<()> {
    let mut opt = AdamW::new(map, 0.0)?;
    for s in 0..steps {
        let (loss, _) = dynamics.loss(&batch(s)?)?;
        opt.step(&loss.backward()?, 3e-3, 1.0)?;
    }
    Ok(())
}

/// Fraction of next-frame codes `next_frame` gets right on windows `tokens` (two frames each).
fn next_frame_accuracy(cfg: &Config, dynamics: &Dynamics, tokens: &Tensor) -> Result<f64> {
    let p = cfg.tokens_per_frame();
    let pred: Vec<u32> = dynamics.next_frame(&tokens.narrow(1, 0, p + 1)?)?.flatten_all()?.to_vec1()?;
    let truth: Vec<u32> = tokens.narrow(1, p + 1, p)?.flatten_all()?.to_vec1()?;
    Ok(pred.iter().zip(&truth).filter(|(a, b)| a == b).count() as f64 / truth.len() as f64)
}

#[test]
fn one_pass_decoding_is_the_argmax_of_the_teacher_forced_pass() -> Result<()> {
    let mut cfg = Config::tiny();
    cfg.dynamics.frames = 4;
    let (_, _, _, dynamics) = build(&cfg)?;
    let t = tokens(&cfg, 3)?;
    let p = cfg.tokens_per_frame();
    let tf = dynamics.teacher_forcing(&t)?;
    let features = dynamics.features(&tf.input)?;
    let forced: Vec<u32> = dynamics.teacher_forced_logits(&features, &tf)?.argmax(candle_core::D::Minus1)?.to_vec1()?;
    // Row-major [window, block, slot]: block f's slots predict frame f + 1.
    for f in 0..cfg.dynamics.frames - 1 {
        let one_pass: Vec<Vec<u32>> = dynamics.next_frame(&t.narrow(1, 0, (f + 1) * (p + 1))?)?.to_vec2()?;
        for (r, row) in one_pass.iter().enumerate() {
            let at = (r * (cfg.dynamics.frames - 1) + f) * p;
            assert_eq!(row.as_slice(), &forced[at..at + p], "window {r}, frame {}", f + 1);
        }
    }
    Ok(())
}

#[test]
fn the_copy_path_learns_a_still_world_at_once() -> Result<()> {
    let cfg = Config::tiny();
    let (_, _, dm, dynamics) = build(&cfg)?;
    let still = |first: &[u32], _: i64, _: &mut ChaCha8Rng| first.to_vec();
    train(&dm, &dynamics, 60, &|s| two_frame_windows(&cfg, 16, s, &[0], &still))?;
    let acc = next_frame_accuracy(&cfg, &dynamics, &two_frame_windows(&cfg, 64, 10_000, &[0], &still)?)?;
    assert!(acc >= 0.99, "noop accuracy {acc}");
    Ok(())
}

#[test]
fn the_action_decides_which_way_the_view_turns() -> Result<()> {
    // Action 3 turns the 4×4 grid one column left, 4 one column right; the column that comes in
    // is new (random), so 12 of 16 codes follow from the frame and the action.
    let cfg = Config::tiny();
    let (_, _, dm, dynamics) = build(&cfg)?;
    let turn = |first: &[u32], a: i64, rng: &mut ChaCha8Rng| -> Vec<u32> {
        let fresh = |rng: &mut ChaCha8Rng| rng.random_range(0..cfg.codebook() as u32);
        (0..16).map(|i| {
            let (y, x) = (i / 4, i % 4);
            match (a, x) {
                (3, 3) | (4, 0) => fresh(rng),
                (3, _) => first[y * 4 + x + 1],
                _ => first[y * 4 + x - 1],
            }
        })
        .collect()
    };
    train(&dm, &dynamics, 800, &|s| two_frame_windows(&cfg, 16, s, &[3, 4], &turn))?;
    let test = two_frame_windows(&cfg, 64, 10_000, &[3, 4], &turn)?;
    let p = cfg.tokens_per_frame();
    // The same windows with the other turn in the action slot.
    let mut swapped: Vec<u32> = test.flatten_all()?.to_vec1()?;
    let n = test.dims()[1];
    for r in 0..64 {
        let at = r * n + p;
        swapped[at] = if swapped[at] == cfg.action_token(3) { cfg.action_token(4) } else { cfg.action_token(3) };
    }
    let swapped = Tensor::from_vec(swapped, test.dims(), &Device::Cpu)?;
    let (right, wrong) = (next_frame_accuracy(&cfg, &dynamics, &test)?, next_frame_accuracy(&cfg, &dynamics, &swapped)?);
    assert!(right >= 0.6 && right > wrong + 0.3, "true action {right}, other action {wrong}");
    Ok(())
}
