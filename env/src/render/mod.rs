//! Rendering: two renderers fill the same [`frames`] store in the same update. The batch
//! renderer ([`batch_renderer`], [`pipeline`], [`atlas`], [`instance`], [`mesh`]) draws every env
//! in one pass; the PBR path ([`scene`], [`readback`]) is Bevy's own, one camera per env. Also the
//! Vulkan probe ([`gpu`]), per-update timing ([`profile`]) and the choice between the two ([`renderer`]).

pub mod atlas;
pub mod batch_renderer;
pub mod frames;
pub mod gpu;
pub mod instance;
pub mod mesh;
pub mod pipeline;
pub mod profile;
pub mod readback;
pub mod renderer;
pub mod scene;

pub use batch_renderer::BatchRenderPlugin;
pub use frames::FramesPlugin;
pub use renderer::Renderer;
pub use scene::{EnvCamera, EnvMember, Palette, PbrRenderPlugin, SceneObject, ViewTargets, create_palette, rebuild_scenes, spawn_cameras, sync_lights, sync_poses};
