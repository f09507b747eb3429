//! Answers: how a question's true answer is computed from ground truth, and the closed set of
//! words an answer can be.

use serde::{Deserialize, Serialize};

use crate::world::geometry::Pose;
use crate::world::layout::{Layout, PlacedObject};
use crate::world::object::{ObjectColor, Shape, Size};

/// How a question's answer is computed from ground truth. Every answer is one word of
/// [`answer_vocabulary`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Answer {
    /// The role's colour, e.g. "red".
    ColorOf(String),
    /// The role's shape, e.g. "cone".
    ShapeOf(String),
    /// The role's size, "small" or "large".
    SizeOf(String),
    /// How many objects have the role's colour (the role's object included), e.g. "2".
    CountColor(String),
    /// How many objects have the role's shape (the role's object included).
    CountShape(String),
    /// How many objects there are.
    CountAll,
    /// Whether the first role's object is "left" or "right" of the second's, seen from the agent.
    LeftOrRight(String, String),
}

impl Answer {
    /// Every role the answer reads.
    pub fn roles(&self) -> Vec<String> {
        match self {
            Answer::ColorOf(r) | Answer::ShapeOf(r) | Answer::SizeOf(r) | Answer::CountColor(r) | Answer::CountShape(r) => {
                vec![r.clone()]
            }
            Answer::CountAll => vec![],
            Answer::LeftOrRight(a, b) => vec![a.clone(), b.clone()],
        }
    }

    /// The one object the answer describes (the role of `ColorOf`, `ShapeOf` and `SizeOf`); counts
    /// and comparisons read several.
    pub fn subject(&self) -> Option<&str> {
        match self {
            Answer::ColorOf(r) | Answer::ShapeOf(r) | Answer::SizeOf(r) => Some(r),
            _ => None,
        }
    }

    /// What a question about one object answers for an object of this colour, shape and size
    /// (its colour word for `ColorOf`); `None` for counts and comparisons.
    pub fn describe(&self, color: ObjectColor, shape: Shape, size: Size) -> Option<&'static str> {
        match self {
            Answer::ColorOf(_) => Some(color.name()),
            Answer::ShapeOf(_) => Some(shape.name()),
            Answer::SizeOf(_) => Some(size.name()),
            _ => None,
        }
    }

    /// Every word a question about one object may be answered with (each colour for
    /// `ColorOf`); empty for counts and comparisons.
    pub fn words(&self) -> Vec<&'static str> {
        match self {
            Answer::ColorOf(_) => ObjectColor::ALL.iter().map(|c| c.name()).collect(),
            Answer::ShapeOf(_) => Shape::ALL.iter().map(|s| s.name()).collect(),
            Answer::SizeOf(_) => Size::ALL.iter().map(|s| s.name()).collect(),
            _ => Vec::new(),
        }
    }

    /// The true answer for a world seen from `pose`, or `None` if a role is unbound.
    pub fn compute(&self, layout: &Layout, pose: &Pose) -> Option<String> {
        let obj = |r: &str| layout.role(r).map(|i| &layout.objects[i]);
        Some(match self {
            Answer::ColorOf(r) | Answer::ShapeOf(r) | Answer::SizeOf(r) => {
                let o = obj(r)?;
                self.describe(o.color, o.shape, o.size)?.to_string()
            }
            Answer::CountColor(r) => {
                let c = obj(r)?.color;
                layout.objects.iter().filter(|o| o.color == c).count().to_string()
            }
            Answer::CountShape(r) => {
                let s = obj(r)?.shape;
                layout.objects.iter().filter(|o| o.shape == s).count().to_string()
            }
            Answer::CountAll => layout.objects.len().to_string(),
            Answer::LeftOrRight(a, b) => {
                let (rx, rz) = pose.right();
                let side = |o: &PlacedObject| o.pos.0 * rx + o.pos.1 * rz;
                if side(obj(a)?) < side(obj(b)?) { "left".into() } else { "right".into() }
            }
        })
    }
}

/// The closed set of words an answer can be: colours, shapes, sizes, counts 0–32, left and right.
pub fn answer_vocabulary() -> Vec<String> {
    let mut v: Vec<String> = ObjectColor::ALL.iter().map(|c| c.name().to_string()).collect();
    v.extend(Shape::ALL.iter().map(|s| s.name().to_string()));
    v.extend(Size::ALL.iter().map(|s| s.name().to_string()));
    v.extend((0..=32).map(|n| n.to_string()));
    v.extend(["left".to_string(), "right".to_string()]);
    v
}
