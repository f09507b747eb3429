//! Rendering: the Bevy scene built from each env's simulation ([`scene`]), same-frame readback
//! into the [`frames`] store, the Vulkan probe ([`gpu`]) and per-frame timing ([`profile`]).

pub mod frames;
pub mod gpu;
pub mod profile;
pub mod readback;
pub mod scene;

pub use scene::{EnvCamera, EnvMember, EnvRenderPlugin, Palette, SceneObject, ViewTargets, create_palette, rebuild_scenes, spawn_cameras, sync_poses};
