//! `sandtable scenario list|check|preview` against real files.

use crate::util::{sandtable, stderr};

fn builtin_text() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/scenarios/go_to_object.ron")).expect("asset")
}

#[test]
fn list_shows_builtins_with_descriptions() {
    let o = sandtable(&["scenario", "list"]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.lines().any(|l| l.starts_with("go_to_object") && l.contains("Walk to the object")), "{out}");
}

#[test]
fn check_accepts_every_shipped_file() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/scenarios");
    let files: Vec<String> = std::fs::read_dir(dir)
        .expect("assets dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "ron"))
        .map(|p| p.display().to_string())
        .collect();
    assert!(!files.is_empty());
    let mut args = vec!["scenario", "check"];
    args.extend(files.iter().map(String::as_str));
    let o = sandtable(&args);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn check_reports_unknown_field_at_file_line_col_and_stops_at_first_bad_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.ron");
    let text = builtin_text().replacen("max_steps: 150", "max_step: 150", 1);
    let line = text.lines().position(|l| l.contains("max_step:")).expect("line") + 1;
    std::fs::write(&bad, text).expect("write");
    let also_bad = dir.path().join("also_bad.ron");
    std::fs::write(&also_bad, "(").expect("write");
    let o = sandtable(&["scenario", "check", bad.to_str().expect("utf8"), also_bad.to_str().expect("utf8")]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(&format!("bad.ron:{line}:")), "{err}");
    assert!(err.contains("max_step"), "{err}");
    assert!(!err.contains("also_bad"), "{err}");
}

#[test]
fn check_names_the_field_of_a_semantic_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        ("colors: [red, green, blue, yellow, purple, orange]", "colors: []", "objects.colors", "the list is empty"),
        ("width: (default: 6.0, min: 5.0, max: 8.0)", "width: (default: 6.0, min: 9.0, max: 8.0)", "room.width", "min 9 is above max 8"),
        ("{target.color} {target.shape}", "{thing.color} {target.shape}", "task.mission", "binds to nothing: no role `thing`"),
        ("{target.color} {target.shape}", "{target.colour} {target.shape}", "task.mission", "names no attribute"),
        ("Object(\"target\")", "Object(\"goal\")", "task.success", "refers to `goal`, which is not defined"),
        ("count: (default: 5, min: 3, max: 8)", "count: (default: 30, min: 3, max: 30)", "objects.count", "do not fit"),
    ];
    for (from, to, field, why) in cases {
        let p = dir.path().join("case.ron");
        let text = builtin_text();
        assert!(text.contains(from), "{from}");
        std::fs::write(&p, text.replacen(from, to, 1)).expect("write");
        let o = sandtable(&["scenario", "check", p.to_str().expect("utf8")]);
        assert!(!o.status.success());
        let err = stderr(&o);
        assert!(err.contains(&format!("field `{field}`")) && err.contains(why), "{err}");
    }
}

#[test]
fn preview_writes_a_labelled_grid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("grid.png");
    let o = sandtable(&["scenario", "preview", "go_to_object", "--seeds", "6", "--size", "32", "--out", out.to_str().expect("utf8")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let img = image::open(&out).expect("PNG").to_rgb8();
    // 6 seeds -> 3 columns x 2 rows of (32 + 2) px cells plus the 9 px label strip.
    assert_eq!((img.width(), img.height()), (3 * 34 + 2, 2 * (32 + 9 + 2) + 2));
    let legend: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("grid.json")).expect("json")).expect("valid");
    assert_eq!(legend["cells"].as_array().map(Vec::len), Some(6));
    assert_eq!(legend["cells"][5]["seed"], 5);
}
