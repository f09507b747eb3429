//! The layout: a generated world as plain data (room, walls, light, objects, roles, spawn).

use serde::{Deserialize, Serialize};

// Re-exported: these were this module's public paths before geometry.rs.
pub use crate::world::geometry::{Pose, dist, heading};
use crate::world::object::{Extent, ObjectColor, Shape, Size, TRAY_HEIGHT};

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
    /// For a box: whether it has been opened; for a switch: whether it is thrown (its door open).
    #[serde(default)]
    pub open: bool,
    /// The closed box this object is shut in: while set, it is not drawn, seen, touched or
    /// picked up, and it sits at the box's place.
    #[serde(default)]
    pub inside: Option<usize>,
    /// For a key: it has opened a lock and stays in it, no longer drawn, seen or touched.
    #[serde(default)]
    pub used: bool,
}

impl PlacedObject {
    /// Whether the object is a body others collide with and that hides what is behind it: every
    /// object except one shut in a box and a key left in its lock.
    pub fn solid(&self) -> bool {
        self.inside.is_none() && !self.used
    }

    /// Whether the object blocks bodies and sight: a solid object that is not a key (a key lies
    /// flat on the floor; the agent steps over it).
    pub fn obstacle(&self) -> bool {
        self.solid() && self.shape != Shape::Key
    }

    /// Open a box: it stays a body, as low as a tray, its lid beside it.
    pub fn open_box(&mut self) {
        self.open = true;
        self.extent.height = TRAY_HEIGHT;
    }
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

/// A wall across the whole depth at `x`, with a doorway between `door.0` and `door.1` along z.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct InnerWall {
    /// Position along x.
    pub x: f32,
    /// The doorway's extent along z.
    pub door: (f32, f32),
    /// What fills the doorway.
    #[serde(default)]
    pub gate: Gate,
}

/// What fills a doorway: nothing, or a door that slides into the wall when open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Gate {
    /// An empty doorway.
    #[default]
    None,
    /// An open door.
    Open,
    /// A closed door: `toggle` in front of it opens it.
    Closed,
    /// A locked door: `toggle` in front of it while carrying a key of its colour opens it.
    Locked(ObjectColor),
    /// A barred door: only its switch opens it (and closes it again).
    Barred,
}

impl Gate {
    /// Whether bodies and sight pass through the doorway.
    pub fn passable(self) -> bool {
        matches!(self, Gate::None | Gate::Open)
    }

    /// Whether a door hangs in the doorway.
    pub fn is_door(self) -> bool {
        self != Gate::None
    }
}

/// Colour of a closed, unlocked door, sRGB: wood.
pub const DOOR_COLOR: [f32; 3] = [0.45, 0.30, 0.17];
/// Colour of a barred door, sRGB: dark metal.
pub const BARRED_COLOR: [f32; 3] = [0.22, 0.24, 0.30];
/// Thickness of a door panel, metres: thinner than the wall it slides into.
pub const DOOR_THICKNESS: f32 = 0.06;

impl Room {
    /// Whether a circle of radius `r` at `(x, z)` lies inside the outer walls and clear of every
    /// interior wall (inside a doorway counts as clear only when the whole circle fits in it).
    pub fn contains_circle(&self, x: f32, z: f32, r: f32) -> bool {
        x.abs() <= self.width / 2.0 - r
            && z.abs() <= self.depth / 2.0 - r
            && self
                .inner_walls
                .iter()
                .all(|w| (x - w.x).abs() >= r + INNER_WALL / 2.0 || (w.gate.passable() && z - r >= w.door.0 && z + r <= w.door.1))
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
            z < w.door.0 || z > w.door.1 || !w.gate.passable()
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
    /// Each named door and the interior wall it hangs in, in the scenario's order.
    #[serde(default)]
    pub doors: Vec<(String, usize)>,
    /// Each switch (object index) and the interior wall whose barred door it works.
    #[serde(default)]
    pub switches: Vec<(usize, usize)>,
    /// The switches (object indices) that turn the light on and off.
    #[serde(default)]
    pub light_switches: Vec<usize>,
    /// Whether the light is on; off, the room is lit at [`DARK`] of its light.
    #[serde(default = "lit")]
    pub lit: bool,
}

fn lit() -> bool {
    true
}

/// How much of its light a room keeps while its light is off.
pub const DARK: f32 = 0.15;

impl Layout {
    /// The object bound to a role.
    pub fn role(&self, name: &str) -> Option<usize> {
        self.roles.iter().find(|(n, _)| n == name).map(|(_, i)| *i)
    }

    /// The light the room is lit by now: its own, or [`DARK`] of it while the light is off.
    pub fn light(&self) -> Lighting {
        let k = if self.lit { 1.0 } else { DARK };
        Lighting { illuminance: self.lighting.illuminance * k, ambient: self.lighting.ambient * k, ..self.lighting }
    }

    /// The interior wall a named door hangs in.
    pub fn door(&self, name: &str) -> Option<usize> {
        self.doors.iter().find(|(n, _)| n == name).map(|(_, i)| *i)
    }

    /// The first role's object: the task's main target.
    pub fn target(&self) -> usize {
        self.roles[0].1
    }

    /// Whether a carried object's circle lies in the room and overlaps no object except `ignore`
    /// that stands as high as it is carried: it passes over an open box.
    pub fn carry_is_free(&self, c: (f32, f32), r: f32, ignore: Option<usize>) -> bool {
        self.room.contains_circle(c.0, c.1, r)
            && self.objects.iter().enumerate().all(|(i, o)| Some(i) == ignore || !o.obstacle() || o.open || dist(c, o.pos) >= r + o.extent.radius)
    }

    /// Whether a circle lies in the room and overlaps no object except `ignore`.
    pub fn circle_is_free(&self, c: (f32, f32), r: f32, ignore: Option<usize>) -> bool {
        self.room.contains_circle(c.0, c.1, r)
            && self.objects.iter().enumerate().all(|(i, o)| Some(i) == ignore || !o.obstacle() || dist(c, o.pos) >= r + o.extent.radius)
    }
}
