//! `FrameStore`: the shared memory where the render world leaves each env's pixels.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bevy::prelude::*;
use bevy::render::{Render, RenderApp, RenderSystems};

use crate::render::profile::{FrameProfile, mark_extracted, mark_main_done, mark_prepared};

/// Shares a [`FrameStore`] and a [`FrameProfile`] between the main and render worlds, and marks
/// the update's phases. Either renderer then fills the store.
pub struct FramesPlugin {
    /// Number of envs.
    pub num_envs: usize,
    /// Frame width, pixels.
    pub width: u32,
    /// Frame height, pixels.
    pub height: u32,
}

impl Plugin for FramesPlugin {
    fn build(&self, app: &mut App) {
        let store = FrameStore::new(self.num_envs, self.width, self.height);
        let profile = FrameProfile::default();
        app.insert_resource(store.clone()).insert_resource(profile.clone()).add_systems(Last, mark_main_done);
        if let Some(render_app) = app.get_sub_app_mut(RenderApp) {
            render_app.insert_resource(store).insert_resource(profile).add_systems(
                Render,
                (
                    mark_extracted.before(RenderSystems::ExtractCommands),
                    mark_prepared.after(RenderSystems::PrepareBindGroups).before(RenderSystems::Render),
                ),
            );
        }
    }
}

/// Per-env RGB frames written by the readback system and read by the host, plus a render counter.
#[derive(Resource, Clone, Debug)]
pub struct FrameStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    width: u32,
    height: u32,
    frames: Vec<Mutex<Vec<u8>>>,
    renders: AtomicU64,
    error: Mutex<Option<String>>,
}

impl FrameStore {
    /// Storage for `n` frames of `width × height`.
    pub fn new(n: usize, width: u32, height: u32) -> Self {
        let frames = (0..n).map(|_| Mutex::new(vec![0; (width * height * 3) as usize])).collect();
        Self { inner: Arc::new(Inner { width, height, frames, renders: AtomicU64::new(0), error: Mutex::new(None) }) }
    }

    /// Frame width.
    pub fn width(&self) -> u32 {
        self.inner.width
    }

    /// Frame height.
    pub fn height(&self) -> u32 {
        self.inner.height
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.inner.frames.len()
    }

    /// Whether the store holds no frames.
    pub fn is_empty(&self) -> bool {
        self.inner.frames.is_empty()
    }

    /// Copy of env `i`'s latest frame.
    pub fn get(&self, i: usize) -> Vec<u8> {
        self.inner.frames[i].lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Overwrite env `i`'s frame from tightly packed RGBA rows with `stride` bytes per row.
    pub fn put_rgba(&self, i: usize, rgba: &[u8], stride: usize) {
        let (w, h) = (self.inner.width as usize, self.inner.height as usize);
        let mut dst = self.inner.frames[i].lock().unwrap_or_else(PoisonError::into_inner);
        for y in 0..h {
            let row = &rgba[y * stride..y * stride + w * 4];
            for x in 0..w {
                let o = (y * w + x) * 3;
                dst[o..o + 3].copy_from_slice(&row[x * 4..x * 4 + 3]);
            }
        }
    }

    /// How many readbacks have completed since start.
    pub fn renders(&self) -> u64 {
        self.inner.renders.load(Ordering::Acquire)
    }

    /// Record a completed readback.
    pub fn mark_rendered(&self) {
        self.inner.renders.fetch_add(1, Ordering::AcqRel);
    }

    /// Record a readback failure for the host to report.
    pub fn set_error(&self, e: String) {
        *self.inner.error.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
    }

    /// Take a recorded readback failure.
    pub fn take_error(&self) -> Option<String> {
        self.inner.error.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}
