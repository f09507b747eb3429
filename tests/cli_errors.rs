//! Bad input gets one clear line on stderr and a non-zero exit.

use crate::util::{sandtable, sandtable_env, stderr};

fn assert_one_line_error(o: &std::process::Output, needle: &str) {
    assert!(!o.status.success(), "expected failure");
    let err = stderr(o);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {err}");
    assert!(lines[0].starts_with("error: ") && lines[0].contains(needle), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn unknown_scenario() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = sandtable(&["sim", "--scenario", "no_such_task", "--out", dir.path().to_str().expect("utf8")]);
    assert_one_line_error(&o, "unknown scenario `no_such_task`");
}

#[test]
fn size_zero_and_too_large() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_str().expect("utf8");
    assert_one_line_error(&sandtable(&["sim", "--size", "0", "--out", d]), "frame width must be in 8..=1024");
    assert_one_line_error(&sandtable(&["sim", "--size", "5000", "--out", d]), "frame width must be in 8..=1024");
}

#[test]
fn unwritable_out_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a_file");
    std::fs::write(&file, b"x").expect("write");
    let out = file.join("sub");
    let o = sandtable(&["sim", "--steps", "2", "--out", out.to_str().expect("utf8")]);
    assert_one_line_error(&o, "creating output directory");
}

/// Each cause of an error chain is named once: an OS error is not repeated by the error that
/// wraps it.
#[test]
fn a_missing_file_is_named_once_with_its_cause() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no_dataset");
    let missing = missing.to_str().expect("utf8");
    let o = sandtable(&["dataset", "check", missing]);
    assert_one_line_error(&o, missing);
    assert_eq!(stderr(&o).matches("(os error").count(), 1, "{}", stderr(&o));
}

#[test]
fn wrong_flag() {
    let o = sandtable(&["sim", "--speed", "3"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--speed"));
}

#[test]
fn missing_vulkan_driver_names_the_packages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = sandtable_env(
        &["sim", "--steps", "2", "--out", dir.path().to_str().expect("utf8")],
        &[("VK_ICD_FILENAMES", "/nonexistent/icd.json"), ("VK_DRIVER_FILES", "/nonexistent/icd.json")],
    );
    assert_one_line_error(&o, "mesa-vulkan-drivers");
}
