//! `sandtable demo --quick` end to end, its resume, `sandtable report` on a lone run, and the
//! report in headless Chromium (Debian's `chromium`, which `scripts/test.sh` installs).

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::util::{sandtable, stderr};

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).expect("JSON")
}

fn stage_done(run: &Path) -> bool {
    let latest = std::fs::read_to_string(run.join("checkpoints/latest")).expect("checkpoints/latest");
    json(&run.join("checkpoints").join(latest.trim()).join("state.json"))["stage"] == "done"
}

fn chromium() -> &'static str {
    for c in ["chromium", "chromium-browser"] {
        if Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()) {
            return c;
        }
    }
    panic!("headless Chromium is needed for the report test: install Debian's `chromium` (scripts/test.sh does)");
}

/// Load `report` in headless Chromium with a probe appended; returns what the probe saw.
fn probe(report: &Path, dir: &Path) -> Value {
    let html = std::fs::read_to_string(report).expect("report.html");
    let script = r#"<script>window.addEventListener('load', () => {
        const imgs = Array.from(document.images);
        const bad = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt);
        const rows = document.querySelectorAll('table#success tbody tr').length;
        const out = document.createElement('pre'); out.id = 'probe';
        out.textContent = JSON.stringify({ images: imgs.length, bad: bad, rows: rows });
        document.body.appendChild(out);
    });</script></body>"#;
    let probed = dir.join("probed.html");
    std::fs::write(&probed, html.replace("</body>", script)).expect("write probe page");
    let profile = dir.join("chromium-profile");
    let o = Command::new(chromium())
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000", "--dump-dom"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("file://{}", probed.display()))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&o.stdout);
    let start = dom.find("<pre id=\"probe\">").unwrap_or_else(|| panic!("no probe output; chromium said: {}", stderr(&o))) + "<pre id=\"probe\">".len();
    let end = start + dom[start..].find("</pre>").expect("probe end");
    serde_json::from_str(&dom[start..end].replace("&amp;", "&")).expect("probe JSON")
}

#[test]
fn the_demo_runs_every_stage_resumes_and_its_report_renders() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("demo");
    let o = sandtable(&["demo", "--quick", "--out", s(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    for k in 1..=6 {
        assert!(text.contains(&format!("== {k}/6")), "stage {k} announced: {text}");
    }

    // Every stage's outputs, well formed.
    for name in ["go_to_object", "pick_up_object", "describe_object", "count_objects"] {
        let png = std::fs::read(out.join("previews").join(format!("{name}.png"))).expect("preview");
        assert!(png.starts_with(b"\x89PNG"));
    }
    for (d, n) in [("pretrain", 8), ("val", 2), ("demos", 8), ("questions", 8)] {
        assert_eq!(json(&out.join("data").join(d).join("info.json"))["total_episodes"], n, "{d}");
    }
    assert!(stage_done(&out.join("world")) && stage_done(&out.join("agent")));
    // Fine-tuning ends online: the expert's round and one round of the agent's own play, labelled.
    assert_eq!(json(&out.join("agent/online/info.json"))["total_episodes"], 8);
    let metrics = std::fs::read_to_string(out.join("agent/metrics.jsonl")).expect("metrics");
    assert_eq!(metrics.lines().filter(|l| l.contains("\"stage\":\"online\"")).count(), 2, "{metrics}");
    let wm = json(&out.join("world/eval-wm/eval.json"));
    assert!(wm["report"]["copy_last_psnr"].as_f64().is_some_and(f64::is_finite));
    assert!(std::fs::read(out.join("world/dream.gif")).expect("dream").starts_with(b"GIF89a"));
    let eval = json(&out.join("agent/eval/eval.json"));
    let results = eval["results"].as_array().expect("results");
    assert_eq!(results.iter().filter(|r| r["subset"] == "all").count(), 15, "3 policies x 5 scenarios (4 tuned, 1 zero-shot)");
    let zero_shot = results.iter().find(|r| r["scenario"] == "size_of_object" && r["policy"] == "agent").expect("the zero-shot row");
    assert!(zero_shot["summary"]["majority"][1].as_f64().is_some_and(|p| p > 0.0), "{zero_shot}");
    let commands: Vec<Value> = std::fs::read_to_string(out.join("commands.jsonl")).expect("commands").lines().map(|l| serde_json::from_str(l).expect("line")).collect();
    assert!(commands.iter().any(|c| c["argv"][0] == "finetune" && c["reused"] == false));
    let report = out.join("report.html");
    let html = std::fs::read_to_string(&report).expect("report");
    assert!(html.contains("sandtable finetune --online") && html.contains("base seed") && html.contains("majority answer"));
    assert!(html.contains("online_success.svg"), "the report shows the online learning curve");
    assert!(!html.contains("src=\"http") && !html.contains("<script"), "self-contained, no scripts");

    // A second run reuses every stage.
    let o = sandtable(&["demo", "--quick", "--out", s(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let commands: Vec<Value> = std::fs::read_to_string(out.join("commands.jsonl")).expect("commands").lines().map(|l| serde_json::from_str(l).expect("line")).collect();
    assert!(commands.iter().filter(|c| c["stage"] != "report").all(|c| c["reused"] == true), "{commands:?}");

    // The report in a browser: every image decodes, one success row per scenario.
    let seen = probe(&report, dir.path());
    assert!(seen["images"].as_u64().expect("count") >= 12, "{seen}");
    assert_eq!(seen["bad"], serde_json::json!([]), "images that did not load: {seen}");
    assert_eq!(seen["rows"], 5, "{seen}");
    let shot = dir.path().join("report.png");
    let o = Command::new(chromium())
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1200,2400"])
        .arg(format!("--user-data-dir={}", dir.path().join("chromium-profile").display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", report.display()))
        .output()
        .expect("chromium runs");
    let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot ({e}): {}", stderr(&o)));
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);

    // `report` on a run made by `pretrain` alone.
    let o = sandtable(&["report", s(&out.join("world"))]);
    assert!(o.status.success(), "{}", stderr(&o));
    let html = std::fs::read_to_string(out.join("world/report.html")).expect("world report");
    assert!(html.contains("dynamics_loss.svg") && html.contains("copying the last frame"));
    let o = sandtable(&["report", s(&dir.path().join("missing"))]);
    assert!(!o.status.success() && stderr(&o).contains("not a run directory"));
}
