//! The world: object kinds, floor geometry, the agent's body, the layout of one generated world
//! and what the camera can see: plain data and geometry that every other part reads. Generation
//! from a scenario and a seed sits above it and the task, in `generation`.

pub mod appearance;
pub mod body;
pub mod geometry;
pub mod layout;
pub mod object;
pub mod visibility;

pub use body::{AgentSpec, CARRY_GAP, REACH, Spawn};
pub use geometry::{Pose, dist, heading, wrap_angle};
pub use layout::{BARRED_COLOR, DOOR_COLOR, DOOR_THICKNESS, Gate, INNER_WALL, InnerWall, Layout, Lighting, PlacedObject, Room, Texture};
pub use object::{BOX_HEIGHT, BOX_SIDE, Extent, ObjectColor, Shape, Size, TRAY_HEIGHT, extent};
pub use visibility::visible;
