//! The PBR path's same-frame readback: a render-world system that copies every env's target texture into the
//! `FrameStore` before `update()` returns, so step N's observation is frame N with no latency.
//!
//! Bevy's own `Readback` component delivers a frame late, which would break the step contract.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bevy::prelude::*;
use bevy::render::render_asset::RenderAssets;
use bevy::render::render_resource::{
    Buffer, BufferDescriptor, BufferUsages, CommandEncoderDescriptor, Extent3d, MapMode, PollType,
    TexelCopyBufferInfo, TexelCopyBufferLayout,
};
use bevy::render::renderer::{RenderDevice, RenderQueue};
use bevy::render::texture::GpuImage;

use crate::render::frames::FrameStore;
use crate::render::profile::{FrameProfile, Mark};

/// The render targets to read, in env order.
#[derive(Resource, Clone)]
pub struct ReadbackTargets {
    /// One image per env.
    pub images: Vec<AssetId<Image>>,
}

/// Staging buffers, created on first use.
#[derive(Default)]
pub struct StagingBuffers {
    buffers: Vec<Buffer>,
    stride: usize,
}

/// Copy all targets to staging buffers in one submission, wait once, then unpack.
pub fn read_back_frames(
    targets: Res<ReadbackTargets>,
    store: Res<FrameStore>,
    images: Res<RenderAssets<GpuImage>>,
    device: Res<RenderDevice>,
    queue: Res<RenderQueue>,
    profile: Res<FrameProfile>,
    mut staging: Local<StagingBuffers>,
) {
    profile.mark(Mark::Submitted);
    let (w, h) = (store.width(), store.height());
    if staging.buffers.is_empty() {
        staging.stride = RenderDevice::align_copy_bytes_per_row(w as usize * 4);
        let size = (staging.stride * h as usize) as u64;
        staging.buffers = (0..targets.images.len())
            .map(|_| {
                device.create_buffer(&BufferDescriptor {
                    label: Some("sandtable_readback"),
                    size,
                    usage: BufferUsages::MAP_READ | BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                })
            })
            .collect();
    }
    let stride = staging.stride;
    let mut encoder = device.create_command_encoder(&CommandEncoderDescriptor { label: Some("sandtable_readback") });
    let mut copied = Vec::with_capacity(targets.images.len());
    for (i, id) in targets.images.iter().enumerate() {
        let Some(gpu) = images.get(*id) else { continue };
        encoder.copy_texture_to_buffer(
            gpu.texture.as_image_copy(),
            TexelCopyBufferInfo {
                buffer: &staging.buffers[i],
                layout: TexelCopyBufferLayout { offset: 0, bytes_per_row: Some(stride as u32), rows_per_image: None },
            },
            Extent3d { width: w, height: h, depth_or_array_layers: 1 },
        );
        copied.push(i);
    }
    if copied.len() != targets.images.len() {
        store.set_error(format!("{} of {} render targets were not ready", targets.images.len() - copied.len(), targets.images.len()));
        return;
    }
    queue.submit([encoder.finish()]);
    let failed = Arc::new(AtomicBool::new(false));
    for &i in &copied {
        let failed = failed.clone();
        staging.buffers[i].slice(..).map_async(MapMode::Read, move |r| {
            if r.is_err() {
                failed.store(true, Ordering::Release);
            }
        });
    }
    if let Err(e) = device.poll(PollType::wait_indefinitely()) {
        store.set_error(format!("waiting for the GPU failed: {e}"));
        return;
    }
    profile.mark(Mark::GpuDone);
    if failed.load(Ordering::Acquire) {
        store.set_error("mapping a readback buffer failed".into());
        return;
    }
    for &i in &copied {
        {
            let view = staging.buffers[i].slice(..).get_mapped_range();
            store.put_rgba(i, &view, stride);
        }
        staging.buffers[i].unmap();
    }
    store.mark_rendered();
    profile.mark(Mark::Unpacked);
}
