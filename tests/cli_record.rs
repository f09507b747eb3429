//! `sandtable record`: deterministic content, interruption and resume, the reader's round trip,
//! corrupt shards, and Python's view of the shards.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use sandtable_agent::dataset::{Dataset, NO_ACTION};
use sandtable_env::{Action, Env, Scenario, episode_seed};

use crate::util::{read_tree, sandtable, stderr};

/// Record `episodes` of go_to_object and count_objects, 2 workers × 2 envs, small shards.
fn record(out: &Path, episodes: &str, workers: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "record", "--scenario", "go_to_object", "--scenario", "count_objects", "--episodes", episodes, "--policy", "mixed:0.2",
        "--workers", workers, "--envs", "2", "--seed", "5", "--shard-frames", "60", "--out", out.to_str().expect("utf8"),
    ];
    args.extend_from_slice(extra);
    sandtable(&args)
}

#[test]
fn same_seed_records_the_same_dataset_whatever_the_threads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b, c) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("c"));
    for (out, workers) in [(&a, "2"), (&b, "2"), (&c, "1")] {
        let o = record(out, "10", workers, &[]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let (ta, tb, tc) = (read_tree(&a), read_tree(&b), read_tree(&c));
    assert!(ta.iter().filter(|(p, _)| p.ends_with(".safetensors")).count() >= 2, "several shards were cut");
    assert_eq!(ta, tb, "same seed, same workers: every file is byte-identical");
    // Episodes are assigned to env slots statically and render the same in any slot, so even the
    // thread count does not change the content.
    assert_eq!(ta, tc, "1 worker and 2 workers record the same bytes");

    let ds = Dataset::open(&a).expect("open");
    ds.verify().expect("checksums");
    assert_eq!(ds.num_episodes(), 10);
    let scenarios: Vec<&str> = (0..10).map(|i| ds.episode(i).map(|e| e.meta.scenario.as_str()).expect("episode")).collect();
    assert_eq!(&scenarios[..4], ["go_to_object", "count_objects", "go_to_object", "count_objects"]);
    let seeds: std::collections::HashSet<u64> = (0..10).map(|i| ds.episode(i).expect("episode").meta.seed).collect();
    assert_eq!(seeds.len(), 10, "no two episodes share a seed");
    let info: serde_json::Value = serde_json::from_slice(&std::fs::read(a.join("info.json")).expect("info")).expect("json");
    assert_eq!(info["recording"]["base_seed"], 5);
    assert_eq!(info["action_vocabulary"][Action::Done.index() as usize], "done");
}

#[test]
fn reader_returns_the_frames_the_env_rendered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("ds");
    let o = record(&out, "4", "2", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ds = Dataset::open(&out).expect("open");
    // Replay episode 0 (go_to_object) in a fresh env from its seed and recorded actions.
    let ep = ds.episode(0).expect("episode 0");
    assert_eq!(ep.meta.seed, episode_seed(5, 0));
    let mut env = Env::new(std::sync::Arc::new(Scenario::load("go_to_object").expect("scenario")), 64, 64).expect("env");
    let (obs, info) = env.reset(ep.meta.seed).expect("reset");
    assert!(ep.frame(0).expect("frame") == obs.frame.rgb, "reset frame differs");
    // Every row carries the caption of its view.
    let captions = ep.meta.captions.as_ref().expect("captions");
    assert_eq!(captions.len(), ep.len());
    assert_eq!(captions[0], sandtable_env::caption(&info));
    for t in 0..ep.len() - 1 {
        let a = Action::from_index(u8::try_from(ep.actions[t]).expect("an action")).expect("valid action");
        let s = env.step(a).expect("step");
        assert!(ep.frame(t + 1).expect("frame") == s.obs.frame.rgb, "frame {} differs", t + 1);
        assert_eq!(captions[t + 1], sandtable_env::caption(&s.info));
        assert_eq!(f32::from(u8::from(s.terminated)), f32::from(ep.terminated[t]));
        assert!((s.reward - ep.rewards[t]).abs() < 1e-6);
    }
    assert_eq!(ep.actions[ep.len() - 1], NO_ACTION);
}

#[test]
fn a_killed_recording_is_valid_and_resumes_to_the_same_dataset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (full, cut) = (dir.path().join("full"), dir.path().join("cut"));
    let o = record(&full, "24", "2", &[]);
    assert!(o.status.success(), "{}", stderr(&o));

    let mut child = Command::new(env!("CARGO_BIN_EXE_sandtable"))
        .args([
            "record", "--scenario", "go_to_object", "--scenario", "count_objects", "--episodes", "24", "--policy", "mixed:0.2",
            "--workers", "2", "--envs", "2", "--seed", "5", "--shard-frames", "60", "--out", cut.to_str().expect("utf8"),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn record");
    // Kill -9 as soon as the first shard is committed.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let committed = std::fs::read(cut.join("info.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v["shards"].as_array().map(Vec::len))
            .unwrap_or(0);
        if committed >= 1 {
            break;
        }
        assert!(Instant::now() < deadline, "no shard was committed in time");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");

    let ds = Dataset::open(&cut).expect("a killed recording leaves a valid dataset");
    ds.verify().expect("and its checksums match");
    let kept = ds.num_episodes();
    assert!((1..24).contains(&kept), "kept {kept}");
    let o = sandtable(&["dataset", "check", cut.to_str().expect("utf8")]);
    assert!(o.status.success(), "{}", stderr(&o));

    // Without --resume the directory is refused; with it the recording completes.
    let o = record(&cut, "24", "2", &[]);
    assert!(!o.status.success() && stderr(&o).contains("--resume"), "{}", stderr(&o));
    let o = record(&cut, "24", "2", &["--resume"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read_tree(&full), read_tree(&cut), "resumed dataset equals the uninterrupted one");

    // A resume with a different seed is refused with a clear reason.
    let o = sandtable(&[
        "record", "--scenario", "go_to_object", "--scenario", "count_objects", "--episodes", "30", "--policy", "mixed:0.2",
        "--seed", "6", "--out", cut.to_str().expect("utf8"), "--resume",
    ]);
    assert!(!o.status.success() && stderr(&o).contains("seed"), "{}", stderr(&o));
}

#[test]
fn corrupt_shards_are_one_line_errors_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("ds");
    let o = record(&out, "4", "1", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let shard = out.join("data/shard-00000.safetensors");
    let mut bytes = std::fs::read(&shard).expect("shard");
    let n = bytes.len();
    bytes[n - 100] ^= 0x55;
    std::fs::write(&shard, &bytes).expect("flip a byte");
    let o = sandtable(&["dataset", "check", out.to_str().expect("utf8")]);
    let e = stderr(&o);
    assert!(!o.status.success() && e.contains("shard-00000.safetensors") && e.contains("SHA-256"), "{e}");
    assert_eq!(e.trim().lines().count(), 1, "{e}");

    std::fs::write(&shard, &bytes[..n / 2]).expect("truncate");
    let o = sandtable(&["dataset", "check", out.to_str().expect("utf8")]);
    let e = stderr(&o);
    assert!(!o.status.success() && e.contains("shard-00000.safetensors") && e.contains("truncated"), "{e}");
    assert!(!e.contains("panicked"), "{e}");
}

#[test]
fn python_reads_the_shards() {
    let python = Command::new("python3").args(["-c", "import numpy, safetensors"]).status();
    if !python.is_ok_and(|s| s.success()) {
        // scripts/test.sh installs them wherever python3 exists; nothing to check without Python.
        eprintln!("python3 with numpy and safetensors not found: skipping the interoperability check");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("ds");
    let o = record(&out, "6", "2", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/check_dataset.py");
    let o = Command::new("python3").arg(&script).arg(&out).output().expect("python3 runs");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("ok: 6 episodes"));
}

/// A sequence's progress is recorded per episode: the first row each subgoal was done at, in
/// order, the last one on the frame the episode succeeded; other tasks' lines have no such field.
#[test]
fn subgoal_rows_are_recorded_for_sequences_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("ds");
    let o = sandtable(&[
        "record", "--scenario", "go_to_then_pick_up", "--scenario", "go_to_object", "--episodes", "4", "--policy", "expert",
        "--workers", "1", "--envs", "2", "--seed", "3", "--size", "32", "--out", out.to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ds = Dataset::open(&out).expect("open");
    for i in 0..4 {
        let meta = &ds.episode(i).expect("episode").meta;
        match meta.scenario.as_str() {
            "go_to_then_pick_up" => {
                let rows = meta.subgoal_rows.clone().expect("a sequence records its subgoal rows");
                assert!(meta.success, "the expert solves episode {i}");
                let (first, last) = (rows[0].expect("step 1 done"), rows[1].expect("step 2 done"));
                assert!(0 < first && first <= last && last + 1 == meta.length, "episode {i}: rows {rows:?}, length {}", meta.length);
            }
            _ => assert_eq!(meta.subgoal_rows, None, "episode {i}"),
        }
    }
    let lines = std::fs::read_to_string(out.join("episodes.jsonl")).expect("episodes.jsonl");
    assert_eq!(lines.matches("subgoal_rows").count(), lines.matches("\"go_to_then_pick_up\"").count(), "{lines}");
}

/// The renderer is a choice the dataset remembers: `--renderer pbr` draws other pixels of the
/// same episodes, `info.json` names the renderer, and an unknown one is a one-line error.
#[test]
fn the_renderer_is_recorded_and_changes_only_the_pixels() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (batch, pbr) = (dir.path().join("batch"), dir.path().join("pbr"));
    for (out, renderer) in [(&batch, "batch"), (&pbr, "pbr")] {
        let o = record(out, "3", "1", &["--renderer", renderer]);
        assert!(o.status.success(), "{}", stderr(&o));
        let info: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("info.json")).expect("info")).expect("JSON");
        assert_eq!(info["recording"]["renderer"], renderer);
    }
    let (a, b) = (Dataset::open(&batch).expect("open"), Dataset::open(&pbr).expect("open"));
    for i in 0..3 {
        let (ea, eb) = (a.episode(i).expect("episode"), b.episode(i).expect("episode"));
        assert_eq!(ea.actions, eb.actions, "episode {i}: the renderer changed what happened");
        assert!(ea.frames(0..ea.len()).expect("frames") != eb.frames(0..eb.len()).expect("frames"), "episode {i}: the two renderers drew the same pixels");
    }
    // Continuing a recording with the other renderer would mix two kinds of pixels: refused.
    let o = record(&batch, "5", "1", &["--renderer", "pbr", "--resume"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("renderer batch"), "{}", stderr(&o));
    let o = record(&dir.path().join("bad"), "1", "1", &["--renderer", "vulkan"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("unknown renderer `vulkan`"), "{}", stderr(&o));
}

/// `--expert-labels` keeps what was played (the frames) and stores, for every visited state, the
/// expert's decision there; where the mixed policy's random decisions took over, they differ.
#[test]
fn expert_labels_store_the_experts_decision_for_the_state_visited() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (played, labelled) = (dir.path().join("played"), dir.path().join("labelled"));
    for (out, extra) in [(&played, &[][..]), (&labelled, &["--expert-labels"][..])] {
        let o = sandtable(&[
            &["record", "--scenario", "go_to_object", "--episodes", "4", "--policy", "mixed:0.5", "--workers", "1", "--seed", "9", "--out"][..],
            &[out.to_str().expect("utf8")],
            extra,
        ]
        .concat());
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let (a, b) = (Dataset::open(&played).expect("open"), Dataset::open(&labelled).expect("open"));
    let scenario = std::sync::Arc::new(Scenario::load("go_to_object").expect("scenario"));
    let mut differ = 0;
    for i in 0..4 {
        let (pa, pb) = (a.episode(i).expect("episode"), b.episode(i).expect("episode"));
        assert_eq!(pa.len(), pb.len());
        assert!(pa.frames(0..pa.len()).expect("frames") == pb.frames(0..pb.len()).expect("frames"), "episode {i}: the frames are what was played either way");
        let mut s = sandtable_env::sim::SimState::new(scenario.clone(), pa.meta.seed).expect("state");
        for t in 0..pa.len() - 1 {
            let expert = sandtable_env::expert_decision(&s);
            assert_eq!(pb.actions[t], i64::from(expert.token()), "episode {i} row {t}: the label is the expert's decision");
            differ += usize::from(pa.actions[t] != pb.actions[t]);
            s.step(Action::from_index(u8::try_from(pa.actions[t]).expect("an action")).expect("valid"));
        }
    }
    assert!(differ > 0, "the random decisions never departed from the expert's");
    let info: serde_json::Value = serde_json::from_slice(&std::fs::read(labelled.join("info.json")).expect("info")).expect("json");
    assert_eq!(info["recording"]["policy"], "mixed:0.5 labelled by expert");
}
