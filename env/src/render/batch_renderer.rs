//! `BatchRenderPlugin`: every env of the App drawn into one atlas in one render pass per update,
//! read back in the same update. No camera entities: each env's camera and objects are written
//! as instance data at extraction.
//!
//! Bevy runs each camera's whole view schedule separately, so cameras never batch; this path sits
//! beside Bevy's render graph instead of going through it.

use std::ops::Range;

use bevy::prelude::*;
use bevy::render::renderer::{RenderDevice, RenderQueue};
use bevy::render::{Extract, ExtractSchedule, Render, RenderApp, RenderSystems};

use crate::plugin::EnvSlots;
use crate::render::frames::FrameStore;
use crate::render::instance::Instances;
use crate::render::pipeline::BatchGpu;
use crate::render::profile::{FrameProfile, Mark};

/// Registers the batch renderer's extraction and draw systems.
pub struct BatchRenderPlugin {
    /// Number of envs.
    pub num_envs: usize,
}

/// This update's instances, env after env, in the render world.
#[derive(Resource, Default)]
pub struct BatchScene {
    instances: Instances,
    ranges: Vec<Range<u32>>,
}

impl Plugin for BatchRenderPlugin {
    fn build(&self, _app: &mut App) {}

    fn finish(&self, app: &mut App) {
        if let Some(render_app) = app.get_sub_app_mut(RenderApp) {
            render_app
                .insert_resource(BatchScene { instances: Instances::default(), ranges: Vec::with_capacity(self.num_envs) })
                .add_systems(ExtractSchedule, extract_instances)
                .add_systems(Render, draw_batch.after(RenderSystems::Render).before(RenderSystems::Cleanup));
        }
    }
}

/// Turn every running env's simulation into mesh instances.
pub fn extract_instances(envs: Extract<Res<EnvSlots>>, store: Res<FrameStore>, mut scene: ResMut<BatchScene>) {
    let BatchScene { instances, ranges } = scene.as_mut();
    instances.clear();
    ranges.clear();
    for slot in &envs.slots {
        let start = instances.len() as u32;
        if let Some(state) = &slot.state {
            instances.push_env(state, store.width(), store.height());
        }
        ranges.push(start..instances.len() as u32);
    }
}

/// Draw and read back every env; failures go to the frame store for the host to report.
pub fn draw_batch(
    mut scene: ResMut<BatchScene>,
    device: Res<RenderDevice>,
    queue: Res<RenderQueue>,
    store: Res<FrameStore>,
    profile: Res<FrameProfile>,
    mut gpu: Local<Option<BatchGpu>>,
) {
    if gpu.is_none() {
        match BatchGpu::new(device.wgpu_device(), store.len(), store.width(), store.height()) {
            Ok(g) => *gpu = Some(g),
            Err(e) => return store.set_error(e),
        }
    }
    let Some(gpu) = gpu.as_mut() else { return };
    let BatchScene { instances, ranges } = scene.as_mut();
    let rendered = gpu.render(
        device.wgpu_device(),
        &queue,
        instances,
        ranges,
        &store,
        || profile.mark(Mark::Submitted),
        || profile.mark(Mark::GpuDone),
    );
    match rendered {
        Ok(()) => {
            store.mark_rendered();
            profile.mark(Mark::Unpacked);
        }
        Err(e) => store.set_error(e),
    }
}
