//! `sandtable dataset manifest`: datasets recorded apart, listed in one manifest, train as the
//! same datasets given one by one; overlapping seeds, another renderer or vocabulary, and a shard
//! that no longer matches are one-line errors.

use std::path::{Path, PathBuf};

use crate::util::{read_tree, sandtable, stderr};

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

fn record(out: &Path, seed: &str, extra: &[&str]) {
    let args = [&["record", "--scenario", "go_to_object", "--episodes", "4", "--policy", "mixed:0.3", "--envs", "1", "--seed", seed, "--out", s(out)][..], extra].concat();
    let o = sandtable(&args);
    assert!(o.status.success(), "{}", stderr(&o));
}

fn manifest(out: &Path, dirs: &[&Path]) -> std::process::Output {
    let mut args = vec!["dataset", "manifest", "--out", s(out)];
    args.extend(dirs.iter().map(|d| s(d)));
    sandtable(&args)
}

fn one_error_line(o: &std::process::Output) -> String {
    assert!(!o.status.success(), "expected a failure");
    let err = stderr(o);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "one error line: {err}");
    errors[0].to_string()
}

fn weights(run: &Path) -> Vec<(String, Vec<u8>)> {
    let latest = std::fs::read_to_string(run.join("checkpoints/latest")).expect("latest");
    read_tree(&run.join("checkpoints").join(latest.trim())).into_iter().filter(|(n, _)| n.ends_with(".safetensors")).collect()
}

#[test]
fn a_manifest_trains_as_its_datasets_do_and_refuses_what_does_not_fit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    record(&a, "1", &[]);
    record(&b, "2", &[]);
    let list = dir.path().join("two.json");
    let o = manifest(&list, &[&a, &b]);
    assert!(o.status.success(), "{}", stderr(&o));
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(&list).expect("manifest")).expect("json");
    assert_eq!(m["format"], "sandtable-manifest");
    assert_eq!(m["datasets"][0]["path"], "a", "paths are relative to the manifest's folder");
    assert_eq!(m["datasets"][1]["base_seed"], 2);

    // The manifest as --data trains to the same weights as the two folders.
    let train = |data: &[&Path], out: &PathBuf| {
        let mut args = vec!["finetune", "--init", "none", "--config", "tiny", "--steps", "6", "--out", s(out)];
        for d in data {
            args.extend(["--data", s(d)]);
        }
        let o = sandtable(&args);
        assert!(o.status.success(), "{}", stderr(&o));
    };
    let (by_manifest, by_folders) = (dir.path().join("by-manifest"), dir.path().join("by-folders"));
    train(&[&list], &by_manifest);
    train(&[&a, &b], &by_folders);
    assert!(weights(&by_manifest) == weights(&by_folders), "the manifest trains to the folders' weights");

    // A dataset listed twice, or given again beside a manifest that lists it.
    let line = one_error_line(&manifest(&dir.path().join("twice.json"), &[&a, &a]));
    assert!(line.contains("overlap"), "{line}");
    let o = sandtable(&["finetune", "--init", "none", "--config", "tiny", "--steps", "2", "--data", s(&list), "--data", s(&a), "--out", s(&dir.path().join("t"))]);
    assert!(one_error_line(&o).contains("overlap"));

    // Overlapping seeds: the same recording twice.
    let c = dir.path().join("c");
    record(&c, "1", &[]);
    let line = one_error_line(&manifest(&dir.path().join("overlap.json"), &[&a, &c]));
    assert!(line.contains("overlap") && line.contains("seed"), "{line}");
    // Another renderer.
    let d = dir.path().join("d");
    record(&d, "3", &["--renderer", "pbr"]);
    let line = one_error_line(&manifest(&dir.path().join("renderer.json"), &[&a, &d]));
    assert!(line.contains("differ in renderer"), "{line}");
    // Another vocabulary, written into a copy of b's description.
    let mut edited: serde_json::Value = serde_json::from_slice(&std::fs::read(&list).expect("manifest")).expect("json");
    edited["datasets"][1]["answer_vocabulary"] = serde_json::json!(["red"]);
    let vocab = dir.path().join("vocab.json");
    std::fs::write(&vocab, edited.to_string()).expect("write");
    let o = sandtable(&["finetune", "--init", "none", "--config", "tiny", "--steps", "2", "--data", s(&vocab), "--out", s(&dir.path().join("v"))]);
    assert!(one_error_line(&o).contains("differ in answer vocabulary"));

    // A shard that no longer matches its manifest is refused.
    let shard = b.join("data/shard-00000.safetensors");
    let mut bytes = std::fs::read(&shard).expect("shard");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&shard, &bytes).expect("write");
    let o = sandtable(&["finetune", "--init", "none", "--config", "tiny", "--steps", "2", "--data", s(&list), "--out", s(&dir.path().join("w"))]);
    let line = one_error_line(&o);
    assert!(line.contains("shard-00000.safetensors") && line.contains("SHA-256") && line.contains("manifest"), "{line}");
}
