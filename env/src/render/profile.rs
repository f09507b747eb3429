//! `FrameProfile`: where one `update()` spends its time, from marks taken in the main and render
//! worlds. `sandtable bench env --profile` reports it; it costs a few `Instant::now()` per frame.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bevy::prelude::*;

/// Marks taken during one update, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// The host called `update()`.
    Start = 0,
    /// The main world's schedule finished (simulation, transforms, visibility).
    MainDone = 1,
    /// The render world's schedule started (extraction finished).
    Extracted = 2,
    /// Preparation, queueing and sorting finished; the render graph is about to run.
    Prepared = 3,
    /// The render graph was encoded and submitted; readback begins.
    Submitted = 4,
    /// The GPU (lavapipe on CPU) finished rasterising and copying.
    GpuDone = 5,
    /// Pixels were unpacked into the frame store.
    Unpacked = 6,
    /// `update()` returned.
    End = 7,
}

/// The phases between consecutive marks, named for reports.
pub const PHASES: [&str; 7] = [
    "main world (simulation, transforms, visibility)",
    "extract to the render world",
    "prepare, queue and sort",
    "render graph encode and submit",
    "wait for the GPU (raster + copy)",
    "unpack pixels",
    "render cleanup and return",
];

/// Shared between the main and render worlds and the host.
#[derive(Resource, Clone, Debug, Default)]
pub struct FrameProfile {
    inner: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    marks: [Option<Instant>; 8],
    totals: [Duration; 7],
    frames: u64,
}

impl FrameProfile {
    /// Record `mark` now.
    pub fn mark(&self, mark: Mark) {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).marks[mark as usize] = Some(Instant::now());
    }

    /// Fold the current update's marks into the totals (only when every mark was taken).
    pub fn finish_frame(&self) {
        let mut s = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let marks = std::mem::take(&mut s.marks);
        if let Some(m) = marks.iter().copied().collect::<Option<Vec<Instant>>>() {
            for (k, w) in m.windows(2).enumerate() {
                s.totals[k] += w[1].saturating_duration_since(w[0]);
            }
            s.frames += 1;
        }
    }

    /// Mean milliseconds per update for each phase, and the number of updates measured.
    pub fn report(&self) -> (Vec<(&'static str, f64)>, u64) {
        let s = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let n = s.frames.max(1) as f64;
        (PHASES.iter().zip(s.totals).map(|(p, d)| (*p, d.as_secs_f64() * 1000.0 / n)).collect(), s.frames)
    }

    /// Forget what was measured.
    pub fn clear(&self) {
        let mut s = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        s.totals = Default::default();
        s.frames = 0;
    }
}

/// Main world: the last system of `Last`.
pub fn mark_main_done(p: Res<FrameProfile>) {
    p.mark(Mark::MainDone);
}

/// Render world: first system of `Render`.
pub fn mark_extracted(p: Res<FrameProfile>) {
    p.mark(Mark::Extracted);
}

/// Render world: just before the render graph runs.
pub fn mark_prepared(p: Res<FrameProfile>) {
    p.mark(Mark::Prepared);
}
