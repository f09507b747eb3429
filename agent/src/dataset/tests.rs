//! Round trips and corruption on synthetic episodes (the real recorder is tested end to end in
//! the root `tests/`).

use std::path::Path;

use candle_core::Device;

use super::*;

const H: usize = 4;
const W: usize = 5;

fn info(requested: u64) -> DatasetInfo {
    let recording = Recording {
        base_seed: 7,
        seed_rule: "test".into(),
        policy: "expert".into(),
        episodes_requested: requested,
        scenario_names: vec!["synthetic".into()],
        scenarios: vec![serde_json::json!({"name": "synthetic"})],
        created_by: "unit test".into(),
        renderer: "batch".into(),
    };
    DatasetInfo::new(H, W, 30.0, vec!["a".into(), "b".into(), "c".into()], vec!["red".into()], recording)
}

fn episode(index: u64, len: usize) -> EpisodeData {
    let meta = EpisodeMeta {
        index,
        scenario: "synthetic".into(),
        seed: index * 11,
        mission: format!("mission {index}"),
        answer: None,
        given_answer: None,
        success: index.is_multiple_of(2),
        length: 0,
        episode_return: 0.0,
        subgoal_rows: None,
        captions: None,
    };
    let mut ep = EpisodeData::new(meta);
    for t in 0..len {
        let frame: Vec<u8> = (0..H * W * 3).map(|i| (i as u64 * 3 + t as u64 * 17 + index * 101) as u8).collect();
        let last = t + 1 == len;
        ep.push_row(&frame, if last { NO_ACTION } else { (t % 3) as i64 }, if last { 0.0 } else { 0.5 }, t + 2 == len, false);
    }
    ep
}

/// Write episodes 0..n of lengths 3 + i % 4, pushed out of order, with small shards.
fn write(dir: &Path, n: u64) -> Vec<EpisodeData> {
    let eps: Vec<EpisodeData> = (0..n).map(|i| episode(i, 3 + (i % 4) as usize)).collect();
    let mut w = DatasetWriter::create(dir, info(n), 10).expect("create");
    for i in (0..n).rev() {
        w.push(eps[i as usize].clone()).expect("push");
    }
    w.finish().expect("finish");
    eps
}

#[test]
fn round_trip_is_byte_identical() {
    let dir = tempfile::tempdir().expect("tempdir");
    let eps = write(dir.path(), 9);
    let ds = Dataset::open(dir.path()).expect("open");
    ds.verify().expect("checksums match");
    assert_eq!(ds.num_episodes(), 9);
    assert!(ds.info().shards.len() > 1, "small shards were cut");
    for (i, ep) in eps.iter().enumerate() {
        let v = ds.episode(i).expect("episode");
        assert_eq!(v.frames(0..v.len()).expect("frames"), ep.frames);
        assert_eq!(v.actions, ep.actions.as_slice());
        assert_eq!(v.rewards, ep.rewards.as_slice());
        assert_eq!(v.terminated, ep.terminated.as_slice());
        assert_eq!(v.meta, &ep.meta);
    }
    assert_eq!(ds.info().total_frames, eps.iter().map(|e| e.len() as u64).sum::<u64>());
}

#[test]
fn batches_are_deterministic_windows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let eps = write(dir.path(), 9);
    let ds = Dataset::open(dir.path()).expect("open");
    let split = ds.split(0.25, 3);
    assert_eq!(split.val.len(), 2);
    assert!(split.train.iter().all(|e| !split.val.contains(e)));
    let mut a = WindowSampler::new(&[(&ds, &split.train)], 3, 4, 5).expect("sampler");
    let mut b = WindowSampler::new(&[(&ds, &split.train)], 3, 4, 5).expect("sampler");
    for _ in 0..10 {
        let (x, y) = (a.next_batch(&[&ds], &Device::Cpu).expect("batch"), b.next_batch(&[&ds], &Device::Cpu).expect("batch"));
        assert_eq!(x.frames.dims(), &[4, 3, H, W, 3]);
        assert_eq!(x.actions.dims(), &[4, 3]);
        assert_eq!(x.episodes, y.episodes);
        assert_eq!(x.starts, y.starts);
        // The tensor holds exactly the episode's bytes.
        let got: Vec<u8> = x.frames.get(0).and_then(|t| t.flatten_all()).and_then(|t| t.to_vec1()).expect("bytes");
        let (e, s) = (x.episodes[0], x.starts[0]);
        assert_eq!(got, eps[e].frames[s * H * W * 3..(s + 3) * H * W * 3]);
    }
    // Every window of an epoch is visited once.
    let mut c = WindowSampler::new(&[(&ds, &split.train)], 3, 1, 9).expect("sampler");
    let n = c.windows_per_epoch();
    let mut seen: Vec<(usize, usize, usize)> = (0..n).flat_map(|_| c.next_windows()).collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), n);
}

#[test]
fn corrupt_and_truncated_shards_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), 6);
    let shard = dir.path().join("data/shard-00000.safetensors");
    let bytes = std::fs::read(&shard).expect("shard");

    // Truncated.
    std::fs::write(&shard, &bytes[..bytes.len() - 10]).expect("write");
    let e = Dataset::open(dir.path()).err().expect("truncated shard fails").to_string();
    assert!(e.contains("shard-00000.safetensors") && e.contains("truncated"), "{e}");

    // Same size, garbage header.
    let mut bad = bytes.clone();
    bad[8..24].copy_from_slice(b"not json at all!");
    std::fs::write(&shard, &bad).expect("write");
    let e = Dataset::open(dir.path()).err().expect("garbled shard fails").to_string();
    assert!(e.contains("shard-00000.safetensors") && e.contains("safetensors"), "{e}");

    // A flipped frame byte is caught by the checksum only.
    let mut flipped = bytes.clone();
    let last = flipped.len() - 200;
    flipped[last] ^= 0xff;
    std::fs::write(&shard, &flipped).expect("write");
    let ds = Dataset::open(dir.path()).expect("structure is intact");
    let e = ds.verify().expect_err("checksum fails").to_string();
    assert!(e.contains("shard-00000.safetensors") && e.contains("SHA-256"), "{e}");

    // A missing shard.
    std::fs::remove_file(&shard).expect("remove");
    let e = Dataset::open(dir.path()).err().expect("missing shard fails").to_string();
    assert!(e.contains("shard-00000.safetensors"), "{e}");

    // A broken info.json.
    std::fs::write(dir.path().join("info.json"), "{").expect("write");
    let e = Dataset::open(dir.path()).err().expect("bad info fails").to_string();
    assert!(e.contains("info.json"), "{e}");
}

#[test]
fn a_shard_changed_after_open_ends_reads_with_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let eps = write(dir.path(), 6);
    let ds = Dataset::open(dir.path()).expect("open");
    let shard = dir.path().join("data/shard-00000.safetensors");
    let bytes = std::fs::read(&shard).expect("shard");
    assert_eq!(ds.episode(0).and_then(|e| e.frame(0)).expect("frame"), eps[0].frames[..H * W * 3]);

    // Rewritten in place at the same size (after a pause, so its modification time moves even
    // on a file system that stamps by clock ticks).
    std::thread::sleep(std::time::Duration::from_millis(50));
    let mut changed = bytes.clone();
    let last = changed.len() - 1;
    changed[last] ^= 0xff;
    std::fs::write(&shard, &changed).expect("rewrite");
    let e = ds.episode(0).and_then(|e| e.frame(0)).expect_err("a rewritten shard fails").to_string();
    assert!(e.contains("shard-00000.safetensors") && e.contains("rewritten while this job read it"), "{e}");

    // Truncated under the open dataset: an error, not a SIGBUS.
    let ds = Dataset::open(dir.path()).expect("open");
    std::fs::OpenOptions::new().write(true).open(&shard).and_then(|f| f.set_len(bytes.len() as u64 / 2)).expect("truncate");
    let e = ds.episode(0).and_then(|e| e.frames(0..e.len())).expect_err("a truncated shard fails").to_string();
    assert!(e.contains("shard-00000.safetensors") && e.contains("truncated while this job read it"), "{e}");
    let e = ds.verify().expect_err("verify fails too").to_string();
    assert!(e.contains("shard-00000.safetensors") && e.contains("SHA-256"), "{e}");
}

#[test]
fn frame_reads_outside_an_episode_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), 2);
    let ds = Dataset::open(dir.path()).expect("open");
    let ep = ds.episode(0).expect("episode");
    assert!(ep.frames(0..ep.len() + 1).is_err());
    assert!(ep.read_frames(0..1, &mut [0u8; 3]).is_err(), "a buffer of the wrong size");
    assert!(ds.window(0, ep.len(), 1).is_err());
}

#[test]
fn resume_continues_and_refuses_a_different_recording() {
    let full = tempfile::tempdir().expect("tempdir");
    let eps = write(full.path(), 8);

    let part = tempfile::tempdir().expect("tempdir");
    let mut w = DatasetWriter::create(part.path(), info(8), 10).expect("create");
    for ep in &eps[..5] {
        w.push(ep.clone()).expect("push");
    }
    // Dropped without finish: what was committed stays, the rest is lost, as after a kill.
    drop(w);
    // An uncommitted shard and an extra episodes.jsonl line, as a kill between renames leaves.
    std::fs::write(part.path().join("data/shard-00009.safetensors.partial"), b"junk").expect("junk");
    let committed = Dataset::open(part.path()).expect("interrupted dataset is valid").num_episodes();
    assert!(committed > 0 && committed < 5, "{committed}");

    let mut other = info(8);
    other.recording.base_seed = 8;
    assert!(DatasetWriter::resume(part.path(), other, 10).err().expect("seed differs").to_string().contains("seed"));
    assert!(DatasetWriter::create(part.path(), info(8), 10).is_err(), "create refuses an existing dataset");

    let mut w = DatasetWriter::resume(part.path(), info(8), 10).expect("resume");
    assert_eq!(w.committed_episodes(), committed as u64);
    for ep in &eps[committed..] {
        w.push(ep.clone()).expect("push");
    }
    w.finish().expect("finish");
    assert!(!part.path().join("data/shard-00009.safetensors.partial").exists());
    let (a, b) = (Dataset::open(full.path()).expect("full"), Dataset::open(part.path()).expect("resumed"));
    assert_eq!(a.num_episodes(), b.num_episodes());
    for i in 0..a.num_episodes() {
        let (x, y) = (a.episode(i).expect("a"), b.episode(i).expect("b"));
        assert_eq!(x.frames(0..x.len()).expect("frames"), y.frames(0..y.len()).expect("frames"));
    }
}

#[test]
fn the_shard_fuzz_targets_seed_is_a_valid_shard() {
    // So that fuzzing starts past the header checks, not at them.
    let bytes = include_bytes!("../../../tests/fuzz/corpus/shard/three_rows.safetensors");
    let (info, entry) = crate::fuzz_targets::shard_info(bytes.len() as u64);
    let path = Path::new("s");
    let columns = read_columns(&bytes[..], bytes.len() as u64, path, &entry, &info).expect("the seed reads");
    columns.check_indices(path, &entry).expect("and numbers its rows");
    assert_eq!(columns.actions, [0, 2, NO_ACTION]);
}

#[test]
fn info_json_must_declare_the_formats_columns_and_sane_totals() {
    let mut good = info(1);
    good.shards.push(ShardEntry { file: "a".into(), first_episode: 0, episodes: 1, frames: 5, bytes: 1, sha256: String::new() });
    (good.total_episodes, good.total_frames) = (1, 5);
    let parse = |i: &DatasetInfo| DatasetInfo::parse(&serde_json::to_string(i).expect("json"), Path::new("info.json"));
    parse(&good).expect("the writer's own description parses");
    // A column with another dtype or shape would be decoded with the wrong width.
    for (name, dtype, shape) in [("rewards", "uint8", vec![]), ("terminated", "uint8", vec![2]), ("frames", "uint8", vec![H, W]), ("actions", "int32", vec![])] {
        let mut bad = good.clone();
        let f = bad.features.get_mut(name).expect("feature");
        (f.dtype, f.shape) = (dtype.into(), shape);
        let e = parse(&bad).expect_err(name).to_string();
        assert!(e.contains("info.json") && e.contains(&format!("features.{name}")), "{e}");
    }
    let mut missing = good.clone();
    missing.features.remove("truncated");
    assert!(parse(&missing).expect_err("missing column").to_string().contains("`truncated`"));
    // Counts that add up past 2^64.
    let mut huge = good.clone();
    huge.shards[0].frames = u64::MAX;
    huge.shards.push(ShardEntry { file: "b".into(), first_episode: 1, episodes: 1, frames: 1, bytes: 1, sha256: String::new() });
    assert!(parse(&huge).expect_err("overflow").to_string().contains("2^64"));
}
