//! The world: object kinds, floor geometry, the agent's body, the layout of one generated world
//! and what the camera can see: plain data and geometry that every other part reads. Generation
//! from a scenario and a seed sits above it and the task, in `generation`.

pub mod body;
pub mod geometry;
pub mod layout;
pub mod object;
pub mod visibility;

pub use body::{AgentSpec, CARRY_GAP, REACH, Spawn};
pub use geometry::{Pose, dist, heading, wrap_angle};
pub use layout::{INNER_WALL, InnerWall, Layout, Lighting, PlacedObject, Room, Texture};
pub use object::{Extent, ObjectColor, Shape, Size, extent};
pub use visibility::visible;
