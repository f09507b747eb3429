//! The fuzz targets' corpus and regressions (`tests/fuzz/`), replayed through the same entry
//! points `scripts/fuzz.sh` fuzzes: no input may panic. Every crash a fuzzing run finds is
//! copied into `tests/fuzz/regressions/TARGET/` and stays a test here.

use std::path::{Path, PathBuf};

fn targets() -> Vec<sandtable_agent::fuzz_targets::FuzzTarget> {
    sandtable::fuzz_targets::all().collect()
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.expect("entry").path()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn every_corpus_and_regression_input_returns_without_a_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz");
    for (name, target) in targets() {
        let corpus = files(&root.join("corpus").join(name));
        assert!(
            !corpus.is_empty(),
            "target {name} has no seed corpus in tests/fuzz/corpus/{name}"
        );
        for path in corpus
            .iter()
            .chain(&files(&root.join("regressions").join(name)))
        {
            let bytes = std::fs::read(path).expect("readable input");
            let outcome = std::panic::catch_unwind(|| target(&bytes));
            assert!(outcome.is_ok(), "{name}: {} panicked", path.display());
        }
    }
    // No folder for a target that does not exist.
    let names: Vec<&str> = targets().iter().map(|t| t.0).collect();
    for kind in ["corpus", "regressions"] {
        for dir in files(&root.join(kind)) {
            let n = dir
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            assert!(
                names.contains(&n.as_str()),
                "tests/fuzz/{kind}/{n} names no target ({names:?})"
            );
        }
    }
}
