//! The coverage-guided fuzz targets in one libFuzzer binary; `SANDTABLE_FUZZ_TARGET` names the
//! one to run. Built and run by `scripts/fuzz.sh` (stable Rust: the coverage instrumentation comes
//! from `scripts/fuzz_rustc.sh`).

#![no_main]
#![allow(unsafe_code)] // the fuzz_target! entry point is an exported C function

use std::sync::OnceLock;

fn chosen() -> fn(&[u8]) {
    static TARGET: OnceLock<fn(&[u8])> = OnceLock::new();
    *TARGET.get_or_init(|| {
        let name = std::env::var("SANDTABLE_FUZZ_TARGET").unwrap_or_default();
        sandtable::fuzz_targets::all()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| f)
            .unwrap_or_else(|| {
                let names: Vec<&str> = sandtable::fuzz_targets::all().map(|(n, _)| n).collect();
                eprintln!(
                    "error: SANDTABLE_FUZZ_TARGET is `{name}`; the targets are {}",
                    names.join(", ")
                );
                std::process::exit(2)
            })
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| chosen()(data));
