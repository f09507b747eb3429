//! `sandtable pretrain`, `eval-wm` and `dream` with the tiny preset: exact resume, a hand-checked
//! baseline, the GIF, and clear errors for corrupt or mismatched checkpoints.

use std::path::{Path, PathBuf};

use sandtable_agent::dataset::{Dataset, WindowSampler};

use crate::util::{sandtable, stderr};

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

/// A small go_to_object dataset, recorded once per test.
fn dataset(dir: &Path, seed: &str) -> PathBuf {
    let out = dir.join(format!("data-{seed}"));
    let o = sandtable(&["record", "--scenario", "go_to_object", "--episodes", "6", "--policy", "mixed:0.3", "--envs", "3", "--seed", seed, "--out", s(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    out
}

fn pretrain(data: &Path, out: &Path, extra: &[&str]) {
    let mut args = vec!["pretrain", "--data", s(data), "--config", "tiny", "--out", s(out)];
    args.extend_from_slice(extra);
    let o = sandtable(&args);
    assert!(o.status.success(), "{}", stderr(&o));
}

fn losses(run: &Path) -> Vec<(u64, String)> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .expect("metrics.jsonl")
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON line"))
        .filter(|v| v.get("loss").is_some())
        // Compare the exact decimal text of every loss.
        .map(|v| (v["step"].as_u64().expect("step"), v["loss"].to_string()))
        .collect()
}

#[test]
fn a_resumed_run_reproduces_the_uninterrupted_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dataset(dir.path(), "1");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    pretrain(&data, &a, &[]);
    // Interrupted once in each stage (tiny: 60 tokenizer + 60 dynamics steps).
    pretrain(&data, &b, &["--until", "45"]);
    let o = sandtable(&["pretrain", "--data", s(&data), "--config", "tiny", "--out", s(&b)]);
    assert!(!o.status.success() && stderr(&o).contains("--resume"), "{}", stderr(&o));
    pretrain(&data, &b, &["--resume", "--until", "75"]);
    pretrain(&data, &b, &["--resume"]);
    let (la, lb) = (losses(&a), losses(&b));
    assert_eq!(la.len(), 120);
    assert_eq!(la, lb, "losses differ after resuming");
    let first: f64 = la[0].1.parse().expect("number");
    let tok_last: f64 = la[59].1.parse().expect("number");
    assert!(tok_last < first, "tokenizer loss fell: {first} -> {tok_last}");
    for f in ["tokenizer.safetensors", "dynamics.safetensors"] {
        let x = std::fs::read(a.join("checkpoints/step-00000120").join(f)).expect("a");
        let y = std::fs::read(b.join("checkpoints/step-00000120").join(f)).expect("b");
        assert!(x == y, "{f} differs");
    }
    for f in ["tokenizer_loss.svg", "dynamics_loss.svg", "config.json", "split.json"] {
        assert!(a.join(f).is_file(), "{f} missing");
    }
    let svg = std::fs::read_to_string(a.join("dynamics_loss.svg")).expect("svg");
    assert!(svg.starts_with("<svg") && svg.contains("<polyline"), "a drawn SVG");

    // A different config cannot resume this run.
    let o = sandtable(&["pretrain", "--data", s(&data), "--config", "small", "--out", s(&b), "--resume"]);
    assert!(!o.status.success() && stderr(&o).contains("different config"), "{}", stderr(&o));
}

#[test]
fn eval_wm_reports_a_correct_copy_last_baseline_and_dream_writes_a_gif() {
    let dir = tempfile::tempdir().expect("tempdir");
    let train = dataset(dir.path(), "2");
    let val = dataset(dir.path(), "3");
    let run = dir.path().join("run");
    pretrain(&train, &run, &[]);
    let out = dir.path().join("eval");
    let o = sandtable(&["eval-wm", "--checkpoint", s(&run), "--data", s(&val), "--windows", "16", "--horizon", "3", "--seed", "4", "--out", s(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("eval.json")).expect("eval.json")).expect("JSON");
    let r = &doc["report"];
    assert_eq!(r["rollout"].as_array().expect("rollout").len(), 3);
    for key in ["recon_psnr", "recon_ssim", "one_step_psnr", "one_step_ssim", "copy_last_psnr", "copy_last_ssim", "token_accuracy"] {
        assert!(r[key].as_f64().is_some_and(f64::is_finite), "{key}: {}", r[key]);
    }
    for row in r["rollout"].as_array().expect("rollout") {
        for key in ["model_psnr", "shuffled_actions_psnr", "copy_last_psnr", "true_tokens_psnr", "copy_tokens_psnr"] {
            assert!(row[key].as_f64().is_some_and(f64::is_finite), "{key}: {row}");
        }
    }
    // Every window falls under one kind of action.
    let kinds = r["by_action"].as_array().expect("by_action");
    assert_eq!(kinds.iter().map(|k| k["windows"].as_u64().expect("count")).sum::<u64>(), r["windows"].as_u64().expect("windows"));
    assert!(kinds.iter().all(|k| ["move", "turn", "other"].contains(&k["kind"].as_str().expect("kind"))));
    // The printed table carries the oracle columns.
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("true tokens") && table.contains("last frame's tokens") && table.contains("k = 1, ") && table.contains("ΔtPSNR"), "{table}");
    assert!(std::fs::read_to_string(out.join("psnr_horizon.svg")).expect("plot").contains("copy last frame"));

    // The same windows by hand: tiny has 2 frames of context, so 1 real frame before the rollout.
    let ds = Dataset::open(&val).expect("open");
    let all: Vec<usize> = (0..ds.num_episodes()).collect();
    let mut sampler = WindowSampler::new(&[(&ds, &all)], 1 + 3, 16, 4).expect("sampler");
    let mut errors = Vec::new();
    for (_, e, start) in sampler.next_windows() {
        let ep = ds.episode(e).expect("episode");
        let (a, b) = (ep.frame(start).expect("frame"), ep.frame(start + 1).expect("frame"));
        errors.push(a.iter().zip(&b).map(|(x, y)| ((f64::from(*x) - f64::from(*y)) / 255.0).powi(2)).sum::<f64>() / a.len() as f64);
    }
    // PSNR of the mean squared error over the windows.
    let by_hand = -10.0 * (errors.iter().sum::<f64>() / errors.len() as f64).log10();
    let reported = r["copy_last_psnr"].as_f64().expect("number");
    assert!((by_hand - reported).abs() < 1e-3, "copy-last PSNR {reported} vs {by_hand} by hand");
    assert_eq!(r["rollout"][0]["copy_last_psnr"].as_f64().map(|v| (v - reported).abs() < 1e-9), Some(true));

    let gif_path = dir.path().join("dream.gif");
    let o = sandtable(&["dream", "--checkpoint", s(&run), "--scenario", "go_to_object", "--seed", "9", "--steps", "5", "--out", s(&gif_path)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut opts = gif::DecodeOptions::new();
    opts.set_color_output(gif::ColorOutput::RGBA);
    let mut dec = opts.read_info(std::fs::File::open(&gif_path).expect("gif")).expect("GIF header");
    assert_eq!((dec.width(), dec.height()), (64 * 2 + 4, 64));
    let mut frames = 0;
    while dec.read_next_frame().expect("frame").is_some() {
        frames += 1;
    }
    assert_eq!(frames, 6, "the first frame and 5 steps");

    // Linear probes of the trunk, trained and with a random transformer, on frames played live.
    let probe = dir.path().join("probe.json");
    let o = sandtable(&["probe", "--checkpoint", s(&run), "--random", "--episodes", "12", "--steps", "20", "--out", s(&probe)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&probe).expect("probe.json")).expect("JSON");
    let rows = doc["rows"].as_array().expect("rows");
    assert_eq!(rows.iter().map(|r| r["weights"].as_str().expect("weights")).collect::<Vec<_>>(), ["pixels 8x8", "trained", "random transformer"]);
    for r in rows {
        for key in ["target_in_view", "centre_color", "centre_shape"] {
            let (acc, majority) = (r[key][0].as_f64().expect("accuracy"), r[key][1].as_f64().expect("majority"));
            assert!((0.0..=1.0).contains(&acc) && (0.0..=1.0).contains(&majority), "{key}: {r}");
        }
        assert!(r["target_bearing_r2"].is_null() || r["target_bearing_r2"].as_f64().is_some_and(f64::is_finite), "{r}");
    }
    assert!(doc["frames"][0].as_u64().is_some_and(|n| n > 0) && doc["frames"][1].as_u64().is_some_and(|n| n > 0), "{doc}");

    // A corrupt checkpoint and a config that does not fit it are one-line errors naming the file.
    let ckpt = run.join("checkpoints/step-00000120");
    let cfg_path = ckpt.join("config.json");
    let cfg = std::fs::read_to_string(&cfg_path).expect("config");
    std::fs::write(&cfg_path, cfg.replacen("\"dim\": 32", "\"dim\": 48", 1)).expect("edit config");
    let o = sandtable(&["eval-wm", "--checkpoint", s(&run), "--data", s(&val), "--out", s(&out)]);
    let e = stderr(&o);
    assert!(!o.status.success() && e.contains("does not match") && e.contains("tokenizer.safetensors"), "{e}");
    std::fs::write(&cfg_path, cfg).expect("restore config");
    let weights = ckpt.join("dynamics.safetensors");
    let bytes = std::fs::read(&weights).expect("weights");
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).expect("truncate");
    let o = sandtable(&["eval-wm", "--checkpoint", s(&run), "--data", s(&val), "--out", s(&out)]);
    let e = stderr(&o);
    assert!(!o.status.success() && e.contains("dynamics.safetensors") && e.trim().lines().count() == 1, "{e}");
}

#[test]
fn live_training_learns_from_the_env_stream_with_no_dataset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = dir.path().join("live");
    let o = sandtable(&["pretrain", "--live", "--scenario", "go_to_object", "--workers", "2", "--envs", "2", "--config", "tiny", "--out", s(&run)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    let episodes: u64 = text
        .split(" from ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("episode count in the summary");
    assert!(episodes >= 1, "{text}");
    let l = losses(&run);
    assert_eq!(l.len(), 120);
    let (first, last): (f64, f64) = (l[0].1.parse().expect("number"), l[59].1.parse().expect("number"));
    assert!(last < first, "tokenizer loss fell on live data: {first} -> {last}");
    assert!(run.join("checkpoints/step-00000120/dynamics.safetensors").is_file());
}

/// The checkpoints a run directory holds, by step.
fn checkpoint_steps(run: &Path) -> Vec<u64> {
    let mut steps: Vec<u64> = std::fs::read_dir(run.join("checkpoints"))
        .expect("checkpoints")
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_prefix("step-")?.parse().ok())
        .collect();
    steps.sort_unstable();
    steps
}

#[test]
fn resume_refuses_other_data_and_actions_and_stops_at_an_until_already_passed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dataset(dir.path(), "4");
    let other = dataset(dir.path(), "5");
    let run = dir.path().join("run");
    pretrain(&data, &run, &["--until", "30"]);
    assert_eq!(losses(&run).len(), 30);

    // Other data cannot continue the run, and the refusal names the flag and both lists.
    let o = sandtable(&["pretrain", "--data", s(&other), "--config", "tiny", "--out", s(&run), "--resume"]);
    let e = stderr(&o);
    let last = e.trim().lines().last().unwrap_or_default();
    assert!(!o.status.success() && last.starts_with("error: ") && last.contains("--data") && last.contains("data-4") && last.contains("data-5"), "{e}");

    // An --until at or before the resumed step stops at once and leaves the run as it was.
    for until in ["20", "30"] {
        pretrain(&data, &run, &["--resume", "--until", until]);
        assert_eq!(losses(&run).len(), 30, "--until {until} trained on");
        assert_eq!(checkpoint_steps(&run).last(), Some(&30));
    }

    // Retention: at the end only the last three checkpoints and each stage's best remain.
    pretrain(&data, &run, &["--resume"]);
    let kept = checkpoint_steps(&run);
    assert!(kept.len() <= 5 && kept.ends_with(&[60, 90, 120]), "{kept:?}");
    let best: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("checkpoints/best.json")).expect("best.json")).expect("JSON");
    for stage in ["tokenizer", "dynamics"] {
        let name = best["stages"][stage][1].as_str().expect("a best checkpoint per stage");
        assert!(run.join("checkpoints").join(name).join("state.json").is_file(), "{stage}'s best {name} was pruned");
    }

    // A dataset whose actions are named differently cannot be fine-tuned from this model.
    let renamed = dir.path().join("renamed");
    let cp = std::process::Command::new("cp").arg("-r").arg(&data).arg(&renamed).status().expect("cp");
    assert!(cp.success());
    let info_path = renamed.join("info.json");
    let info = std::fs::read_to_string(&info_path).expect("info");
    std::fs::write(&info_path, info.replace("\"turn_left\"", "\"spin_left\"")).expect("edit");
    let o = sandtable(&["finetune", "--init", s(&run), "--data", s(&renamed), "--config", "tiny", "--out", s(&dir.path().join("ft"))]);
    let e = stderr(&o);
    assert!(!o.status.success() && e.contains("action vocabularies differ") && e.contains("spin_left") && e.contains("turn_left"), "{e}");
}
