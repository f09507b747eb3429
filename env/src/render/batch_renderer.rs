//! `BatchRenderPlugin`: every env of the App drawn into one atlas in one render pass per update,
//! read back in the same update. No camera entities: each env's camera and objects are written
//! as instance data at extraction.
//!
//! Bevy runs each camera's whole view schedule separately, so cameras never batch; this path sits
//! beside Bevy's render graph instead of going through it.

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
pub struct BatchScene(Instances);

impl Plugin for BatchRenderPlugin {
    fn build(&self, _app: &mut App) {}

    fn finish(&self, app: &mut App) {
        if let Some(render_app) = app.get_sub_app_mut(RenderApp) {
            render_app
                .insert_resource(BatchScene(Instances { ranges: Vec::with_capacity(self.num_envs), ..default() }))
                .add_systems(ExtractSchedule, extract_instances)
                .add_systems(Render, draw_batch.after(RenderSystems::Render).before(RenderSystems::Cleanup));
        }
    }
}

/// Turn every running env's simulation into mesh instances.
pub fn extract_instances(envs: Extract<Res<EnvSlots>>, store: Res<FrameStore>, mut scene: ResMut<BatchScene>) {
    let instances = &mut scene.0;
    instances.clear();
    for slot in &envs.slots {
        match &slot.state {
            Some(state) => instances.push_env(state, store.width(), store.height()),
            None => instances.push_empty(),
        }
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
    let rendered = gpu.render(device.wgpu_device(), &queue, &mut scene.0, &store, |mark| profile.mark(mark));
    match rendered {
        Ok(()) => {
            store.mark_rendered();
            profile.mark(Mark::Unpacked);
        }
        Err(e) => store.set_error(e),
    }
}
