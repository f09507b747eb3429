//! `sandtable sim` writes PNG frames, a decodable GIF and steps.jsonl.

use crate::util::sandtable;

#[test]
fn sim_writes_gif_pngs_and_steps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("run");
    let o = sandtable(&["sim", "--scenario", "go_to_object", "--seed", "7", "--steps", "200", "--policy", "expert", "--size", "48", "--out", out.to_str().expect("utf8")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(out.join("steps.jsonl"))
        .expect("steps.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("valid JSON line"))
        .collect();
    assert!(!lines.is_empty());
    let last = lines.last().expect("a step");
    assert_eq!(last["terminated"], true, "the expert should finish: {last}");
    assert_eq!(last["info"]["success"], true);
    for l in &lines {
        assert!(l["action"].is_string() && l["reward"].is_number() && l["info"]["objects"].is_array());
    }
    let pngs = std::fs::read_dir(out.join("frames")).expect("frames dir").count();
    assert_eq!(pngs, lines.len() + 1, "one PNG per step plus the reset frame");
    let png = image::open(out.join("frames/000000.png")).expect("PNG decodes");
    assert_eq!((png.width(), png.height()), (48, 48));

    let mut opts = gif::DecodeOptions::new();
    opts.set_color_output(gif::ColorOutput::RGBA);
    let mut dec = opts.read_info(std::fs::File::open(out.join("episode.gif")).expect("gif")).expect("GIF header");
    assert_eq!((dec.width(), dec.height()), (48, 48));
    let mut frames = 0;
    while let Some(f) = dec.read_next_frame().expect("GIF frame") {
        assert_eq!((f.width, f.height), (48, 48));
        frames += 1;
    }
    assert_eq!(frames, lines.len() + 1);
    assert!(!out.join("steps.jsonl.partial").exists() && !out.join("episode.gif.partial").exists());
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("meta.json")).expect("meta")).expect("json");
    assert_eq!(meta["seed"], 7);
}
