//! The layout: a generated world as plain data (room, walls, light, objects, roles, spawn).

use serde::{Deserialize, Serialize};

// Re-exported: these were this module's public paths before geometry.rs.
pub use crate::world::geometry::{Pose, dist, heading};
use crate::world::object::{Extent, ObjectColor, Shape, Size};

/// One object in the world.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlacedObject {
    /// Shape.
    pub shape: Shape,
    /// Colour.
    pub color: ObjectColor,
    /// Size class.
    pub size: Size,
    /// Footprint radius and height.
    pub extent: Extent,
    /// Centre of the footprint, (x, z).
    pub pos: (f32, f32),
    /// Height of the object's base above the floor (non-zero while carried).
    pub lift: f32,
    /// Rotation about the vertical axis, radians.
    pub yaw: f32,
    /// Displacement per step in the floor plane, (x, z); zero for static objects.
    #[serde(default)]
    pub velocity: (f32, f32),
}

/// The light for one world.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lighting {
    /// Directional illuminance, lux.
    pub illuminance: f32,
    /// Ambient brightness, cd/m².
    pub ambient: f32,
    /// Elevation above the horizon, radians.
    pub elevation: f32,
    /// Azimuth, radians.
    pub azimuth: f32,
}

/// The room: an axis-aligned box centred on the origin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Room {
    /// Extent along x.
    pub width: f32,
    /// Extent along z.
    pub depth: f32,
    /// Wall height.
    pub height: f32,
    /// Wall colour, sRGB.
    pub wall_color: [f32; 3],
    /// Floor colour, sRGB.
    pub floor_color: [f32; 3],
    /// Ceiling colour, sRGB.
    pub ceiling_color: [f32; 3],
    /// Interior walls splitting the floor into rooms, west to east.
    pub inner_walls: Vec<InnerWall>,
    /// Floor pattern.
    pub floor_texture: Texture,
    /// Wall pattern.
    pub wall_texture: Texture,
}

/// A procedural surface pattern: the surface colour alternating with a darker shade.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum Texture {
    /// One flat colour.
    #[default]
    Plain,
    /// Squares of this side, metres.
    Checker(f32),
    /// Vertical stripes (on walls) or bands along x (on floors) of this width, metres.
    Stripes(f32),
}

/// Thickness of interior walls, metres.
pub const INNER_WALL: f32 = 0.1;

/// A wall across the whole depth at `x`, open between `door.0` and `door.1` along z.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct InnerWall {
    /// Position along x.
    pub x: f32,
    /// The doorway's extent along z.
    pub door: (f32, f32),
}

impl Room {
    /// Whether a circle of radius `r` at `(x, z)` lies inside the outer walls and clear of every
    /// interior wall (inside a doorway counts as clear only when the whole circle fits in it).
    pub fn contains_circle(&self, x: f32, z: f32, r: f32) -> bool {
        x.abs() <= self.width / 2.0 - r
            && z.abs() <= self.depth / 2.0 - r
            && self
                .inner_walls
                .iter()
                .all(|w| (x - w.x).abs() >= r + INNER_WALL / 2.0 || (z - r >= w.door.0 && z + r <= w.door.1))
    }

    /// Which room (0 = westmost) a point is in.
    pub fn room_of(&self, x: f32) -> usize {
        self.inner_walls.iter().filter(|w| x > w.x).count()
    }

    /// Whether the straight segment between two floor points passes an interior wall outside its doorway.
    pub fn wall_between(&self, a: (f32, f32), b: (f32, f32)) -> bool {
        self.inner_walls.iter().any(|w| {
            if (a.0 - w.x) * (b.0 - w.x) >= 0.0 {
                return false;
            }
            let t = (w.x - a.0) / (b.0 - a.0);
            let z = a.1 + (b.1 - a.1) * t;
            z < w.door.0 || z > w.door.1
        })
    }
}

/// A generated world, before any step is taken.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Layout {
    /// The room.
    pub room: Room,
    /// The light.
    pub lighting: Lighting,
    /// The objects.
    pub objects: Vec<PlacedObject>,
    /// Each role's name and object index, in the scenario's role order.
    pub roles: Vec<(String, usize)>,
    /// Where the agent starts.
    pub spawn: Pose,
    /// The mission text.
    pub mission: String,
}

impl Layout {
    /// The object bound to a role.
    pub fn role(&self, name: &str) -> Option<usize> {
        self.roles.iter().find(|(n, _)| n == name).map(|(_, i)| *i)
    }

    /// The first role's object: the task's main target.
    pub fn target(&self) -> usize {
        self.roles[0].1
    }

    /// Whether a circle lies in the room and overlaps no object except `ignore`.
    pub fn circle_is_free(&self, c: (f32, f32), r: f32, ignore: Option<usize>) -> bool {
        self.room.contains_circle(c.0, c.1, r)
            && self.objects.iter().enumerate().all(|(i, o)| Some(i) == ignore || dist(c, o.pos) >= r + o.extent.radius)
    }
}
