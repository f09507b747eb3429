//! Entry point of the scenario fuzz target (`scripts/fuzz.sh`) and of its regression tests: it
//! takes any bytes and must return, with a value or an error, and never panic.

use crate::generation::generate;
use crate::task::Scenario;

/// A target: its name and its entry point.
pub type FuzzTarget = (&'static str, fn(&[u8]));

/// The targets by name, as `scripts/fuzz.sh` and the corpus folders name them.
pub const TARGETS: [FuzzTarget; 1] = [("scenario", scenario)];

/// A scenario file: parsed and validated, and when valid, two worlds generated from it.
pub fn scenario(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Ok(s) = Scenario::from_ron(text, "fuzz.ron") {
        for seed in 0..2 {
            let _ = generate(&s, seed);
        }
    }
}
