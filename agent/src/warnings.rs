//! Warnings that would repeat once per episode: each kind is logged in full the first time,
//! counted after, and its count logged once at the end.

use std::collections::BTreeMap;

/// A tally of repeated warnings, logged with their counts when dropped.
#[derive(Debug, Default)]
pub struct RepeatedWarnings {
    counts: BTreeMap<&'static str, u64>,
}

impl RepeatedWarnings {
    /// Count one more `kind`; whether it is the first, which the caller then logs in full.
    pub fn first(&mut self, kind: &'static str) -> bool {
        let n = self.counts.entry(kind).or_default();
        *n += 1;
        *n == 1
    }

    /// How often `kind` was counted.
    pub fn count(&self, kind: &str) -> u64 {
        self.counts.get(kind).copied().unwrap_or(0)
    }
}

impl Drop for RepeatedWarnings {
    fn drop(&mut self) {
        for (kind, n) in self.counts.iter().filter(|(_, n)| **n > 1) {
            tracing::warn!(times = n, "{kind}: {n} times in all, logged once above");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_of_each_kind_is_logged_in_full() {
        let mut w = RepeatedWarnings::default();
        assert!(w.first("a"));
        assert!(!w.first("a"));
        assert!(w.first("b"));
        assert!(!w.first("a"));
        assert_eq!((w.count("a"), w.count("b"), w.count("c")), (3, 1, 0));
    }
}
