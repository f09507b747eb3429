//! The world: object kinds, floor geometry, the agent's body, the layout of one generated world,
//! what the camera can see, and generation from a scenario and a seed.
//!
//! Everything below `generation` is plain data and geometry that every other part reads;
//! `generation` sits above the task's scenario schema, which it draws from.

pub mod body;
pub mod generation;
pub mod geometry;
pub mod layout;
pub mod object;
pub mod visibility;

pub use body::{AgentSpec, CARRY_GAP, REACH, Spawn};
pub use generation::{MAX_ATTEMPTS, generate};
pub use geometry::{Pose, dist, heading, wrap_angle};
pub use layout::{INNER_WALL, InnerWall, Layout, Lighting, PlacedObject, Room, Texture};
pub use object::{Extent, ObjectColor, Shape, Size, extent};
pub use visibility::visible;
