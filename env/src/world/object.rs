//! Object kinds: the shapes, colours and sizes a world is built from, and their physical extents.

use serde::{Deserialize, Serialize};

/// The geometric shape of an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// An axis-aligned box.
    Cube,
    /// A ball.
    Sphere,
    /// An upright cylinder.
    Cylinder,
    /// An upright cone.
    Cone,
    /// An upright capsule.
    Capsule,
    /// A ring lying flat on the floor.
    Torus,
    /// A key lying flat: it opens the locked doors of its colour (`toggle` while carrying it).
    Key,
    /// A box with a lid, which may hold one object until it is opened (`toggle`).
    Box,
    /// A lever on a post: `toggle` opens and closes the barred door it works.
    Switch,
}

impl Shape {
    /// Every plain shape: the ones drawn as one mesh, named in answers and drawn for
    /// distractors by default. Keys and boxes are [`Shape::ENTITIES`].
    pub const ALL: [Shape; 6] = [
        Shape::Cube,
        Shape::Sphere,
        Shape::Cylinder,
        Shape::Cone,
        Shape::Capsule,
        Shape::Torus,
    ];

    /// The shapes the agent interacts with beyond carrying: keys, boxes and switches.
    pub const ENTITIES: [Shape; 3] = [Shape::Key, Shape::Box, Shape::Switch];

    /// Whether this is a plain shape (one of [`Shape::ALL`]).
    pub fn is_plain(self) -> bool {
        !Self::ENTITIES.contains(&self)
    }

    /// The word used in missions.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Cube => "cube",
            Shape::Sphere => "sphere",
            Shape::Cylinder => "cylinder",
            Shape::Cone => "cone",
            Shape::Capsule => "capsule",
            Shape::Torus => "torus",
            Shape::Key => "key",
            Shape::Box => "box",
            Shape::Switch => "switch",
        }
    }
}

/// A named object colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum ObjectColor {
    /// Red.
    Red,
    /// Green.
    Green,
    /// Blue.
    Blue,
    /// Yellow.
    Yellow,
    /// Purple.
    Purple,
    /// Orange.
    Orange,
    /// Cyan.
    Cyan,
    /// Pink.
    Pink,
}

impl ObjectColor {
    /// Every colour.
    pub const ALL: [ObjectColor; 8] = [
        ObjectColor::Red,
        ObjectColor::Green,
        ObjectColor::Blue,
        ObjectColor::Yellow,
        ObjectColor::Purple,
        ObjectColor::Orange,
        ObjectColor::Cyan,
        ObjectColor::Pink,
    ];

    /// The word used in missions.
    pub fn name(self) -> &'static str {
        match self {
            ObjectColor::Red => "red",
            ObjectColor::Green => "green",
            ObjectColor::Blue => "blue",
            ObjectColor::Yellow => "yellow",
            ObjectColor::Purple => "purple",
            ObjectColor::Orange => "orange",
            ObjectColor::Cyan => "cyan",
            ObjectColor::Pink => "pink",
        }
    }

    /// The base colour as sRGB components in 0..=1, chosen to stay distinct at 64×64.
    pub fn srgb(self) -> [f32; 3] {
        match self {
            ObjectColor::Red => [0.86, 0.08, 0.08],
            ObjectColor::Green => [0.10, 0.72, 0.16],
            ObjectColor::Blue => [0.10, 0.28, 0.95],
            ObjectColor::Yellow => [0.96, 0.86, 0.08],
            ObjectColor::Purple => [0.52, 0.14, 0.78],
            ObjectColor::Orange => [1.00, 0.50, 0.04],
            ObjectColor::Cyan => [0.08, 0.84, 0.86],
            ObjectColor::Pink => [1.00, 0.52, 0.76],
        }
    }
}

/// An object's size class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Size {
    /// About 0.35 m across.
    Small,
    /// About 0.6 m across.
    Large,
}

impl Size {
    /// Every size.
    pub const ALL: [Size; 2] = [Size::Small, Size::Large];

    /// The word used in missions.
    pub fn name(self) -> &'static str {
        match self {
            Size::Small => "small",
            Size::Large => "large",
        }
    }

    /// The characteristic extent in metres.
    pub fn extent(self) -> f32 {
        match self {
            Size::Small => 0.35,
            Size::Large => 0.6,
        }
    }
}

/// A box's side, metres.
pub const BOX_SIDE: f32 = 0.5;
/// A shut box's height, lid included, metres.
pub const BOX_HEIGHT: f32 = 0.5;
/// An open box's height: its lid lies beside it and what it held rests on its floor, metres.
pub const TRAY_HEIGHT: f32 = 0.1;

/// The physical extent of an object: what collision, reach and visibility use.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Extent {
    /// Radius of the circle that bounds the object's footprint on the floor.
    pub radius: f32,
    /// Height above the floor.
    pub height: f32,
}

/// The extent of a shape at a size. The renderer scales its unit meshes to match.
pub fn extent(shape: Shape, size: Size) -> Extent {
    let e = size.extent();
    match shape {
        Shape::Cube => {
            let side = 0.85 * e;
            Extent { radius: side * std::f32::consts::FRAC_1_SQRT_2, height: side }
        }
        Shape::Sphere => Extent { radius: e / 2.0, height: e },
        Shape::Cylinder => Extent { radius: 0.45 * e, height: 1.1 * e },
        Shape::Cone => Extent { radius: 0.5 * e, height: 1.2 * e },
        Shape::Capsule => Extent { radius: 0.3 * e, height: 1.3 * e },
        Shape::Torus => Extent { radius: 0.6 * e, height: 0.36 * e },
        // A key is 0.32 m long whatever its size class; a box 0.5 m on a side, 0.5 m tall shut.
        Shape::Key => Extent { radius: 0.17, height: 0.08 },
        Shape::Box => Extent { radius: BOX_SIDE * std::f32::consts::FRAC_1_SQRT_2, height: BOX_HEIGHT },
        Shape::Switch => Extent { radius: 0.12, height: 0.9 },
    }
}
