//! Helpers shared by the integration tests.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use sandtable_env::Scenario;

/// The built-in go-to scenario.
pub fn go_to() -> Arc<Scenario> {
    Arc::new(Scenario::load("go_to_object").expect("built-in scenario loads"))
}

/// Run the real `sandtable` binary.
pub fn sandtable(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sandtable")).args(args).output().expect("the sandtable binary runs")
}

/// Run `sandtable` with extra environment variables.
pub fn sandtable_env(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sandtable"));
    c.args(args);
    for (k, v) in vars {
        c.env(k, v);
    }
    c.output().expect("the sandtable binary runs")
}

/// Stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// All files under `dir`, relative path → bytes, sorted.
pub fn read_tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("readable dir") {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).expect("under dir").display().to_string();
                out.push((rel, std::fs::read(&p).expect("readable file")));
            }
        }
    }
    out.sort();
    out
}
