//! What an object or a door looks like, as boxes and plain shapes: the one description both
//! renderers draw from. A plain object is one part; a key is a ring, a shaft and a tooth; a box is
//! its body and its lid; a door is one panel. Every object has the same number of parts whatever
//! its state, so a renderer can keep one drawable per part; a part with zero scale draws nothing.

use crate::world::layout::{BARRED_COLOR, DOOR_COLOR, DOOR_THICKNESS, Gate, InnerWall, PlacedObject};
use crate::world::object::{BOX_HEIGHT, BOX_SIDE, Shape, TRAY_HEIGHT};

/// The side of the unit cube mesh: a cube part of scale `s` is `CUBE_SIDE * s` metres across.
const CUBE_SIDE: f32 = 0.85;
/// A box's lid thickness, metres.
const LID: f32 = 0.08;

/// One drawable piece: a plain shape's unit mesh (the mesh of extent 1), scaled along its own
/// axes, turned by `yaw` about the vertical and centred at `centre`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Part {
    /// Which unit mesh: always a plain shape.
    pub mesh: Shape,
    /// Centre, (x, y, z) metres.
    pub centre: [f32; 3],
    /// Scale along the mesh's x, y and z before turning.
    pub scale: [f32; 3],
    /// Turn about the vertical axis, radians.
    pub yaw: f32,
    /// Colour, sRGB.
    pub srgb: [f32; 3],
}

impl Part {
    /// Whether the part draws anything.
    pub fn drawn(&self) -> bool {
        self.scale.iter().all(|s| *s > 0.0)
    }

    /// A radius around `centre` that holds the whole part.
    pub fn bound(&self) -> f32 {
        let [x, y, z] = self.scale;
        x.max(y).max(z) * std::f32::consts::SQRT_2
    }
}

/// How many parts an object of `shape` has.
pub fn part_count(shape: Shape) -> usize {
    match shape {
        Shape::Key => 3,
        Shape::Box | Shape::Switch => 2,
        _ => 1,
    }
}

/// A point `(x, y, z)` in the object's own frame, turned by its yaw and moved to its place.
fn at(o: &PlacedObject, local: [f32; 3]) -> [f32; 3] {
    let (s, c) = o.yaw.sin_cos();
    [o.pos.0 + local[0] * c + local[2] * s, o.lift + local[1], o.pos.1 - local[0] * s + local[2] * c]
}

/// A cube part `size` metres along each axis.
fn cuboid(centre: [f32; 3], size: [f32; 3], yaw: f32, srgb: [f32; 3]) -> Part {
    Part { mesh: Shape::Cube, centre, scale: size.map(|v| v / CUBE_SIDE), yaw, srgb }
}

/// Call `f` with each of the object's [`part_count`] parts.
pub fn object_parts(o: &PlacedObject, mut f: impl FnMut(Part)) {
    let srgb = o.color.srgb();
    let hidden = !o.solid();
    let mut emit = |mut p: Part| {
        if hidden {
            p.scale = [0.0; 3];
        }
        f(p)
    };
    match o.shape {
        Shape::Key => {
            // Lying flat along its own x: the ring at one end, the shaft, a tooth at the other.
            let ring = 0.2;
            emit(Part { mesh: Shape::Torus, centre: at(o, [-0.09, 0.036, 0.0]), scale: [ring; 3], yaw: o.yaw, srgb });
            emit(cuboid(at(o, [0.06, 0.02, 0.0]), [0.2, 0.04, 0.04], o.yaw, srgb));
            emit(cuboid(at(o, [0.14, 0.02, 0.04]), [0.04, 0.04, 0.07], o.yaw, srgb));
        }
        Shape::Box => {
            let lid = srgb.map(|v| v * 0.6);
            if o.open {
                emit(cuboid(at(o, [0.0, TRAY_HEIGHT / 2.0, 0.0]), [BOX_SIDE, TRAY_HEIGHT, BOX_SIDE], o.yaw, srgb));
                // The lid lies on the floor beside it, hiding nothing.
                emit(cuboid(at(o, [BOX_SIDE + LID / 2.0 + 0.02, LID / 2.0, 0.0]), [BOX_SIDE + LID, LID, BOX_SIDE + LID], o.yaw, lid));
            } else {
                let body = BOX_HEIGHT - LID;
                emit(cuboid(at(o, [0.0, body / 2.0, 0.0]), [BOX_SIDE, body, BOX_SIDE], o.yaw, srgb));
                emit(cuboid(at(o, [0.0, body + LID / 2.0, 0.0]), [BOX_SIDE + LID, LID, BOX_SIDE + LID], o.yaw, lid));
            }
        }
        Shape::Switch => {
            // A post in the switch's colour, and a dark knob: up while the switch is off, low
            // on the post once thrown.
            let post = o.extent.height - 0.1;
            // The unit cylinder is 0.45 m in radius and 1.1 m tall.
            emit(Part { mesh: Shape::Cylinder, centre: at(o, [0.0, post / 2.0, 0.0]), scale: [0.2, post / 1.1, 0.2], yaw: o.yaw, srgb });
            let knob = if o.open { post * 0.5 } else { post + 0.05 };
            emit(cuboid(at(o, [0.0, knob, 0.0]), [0.16, 0.1, 0.16], o.yaw, [0.12, 0.12, 0.12]));
        }
        shape => {
            let e = o.size.extent();
            emit(Part { mesh: shape, centre: [o.pos.0, o.lift + o.extent.height / 2.0, o.pos.1], scale: [e; 3], yaw: o.yaw, srgb });
        }
    }
}

/// The panel of the door in `wall`, `height` metres tall, if the doorway has a door. Closed, it
/// fills the doorway; open, it has slid into the wall on the doorway's +z side, out of sight.
pub fn door_panel(wall: &InnerWall, height: f32) -> Option<Part> {
    let srgb = match wall.gate {
        Gate::None => return None,
        Gate::Open | Gate::Closed => DOOR_COLOR,
        Gate::Locked(c) => c.srgb(),
        Gate::Barred => BARRED_COLOR,
    };
    let width = wall.door.1 - wall.door.0;
    let z = (wall.door.0 + wall.door.1) / 2.0 + if wall.gate == Gate::Open { width } else { 0.0 };
    Some(cuboid([wall.x, height / 2.0, z], [DOOR_THICKNESS, height, width], 0.0, srgb))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::object::{ObjectColor, Size, extent};

    fn object(shape: Shape) -> PlacedObject {
        PlacedObject { shape, color: ObjectColor::Red, size: Size::Small, extent: extent(shape, Size::Small), pos: (1.0, 2.0), lift: 0.0, yaw: 0.7, velocity: (0.0, 0.0), open: false, inside: None, used: false }
    }

    #[test]
    fn every_shape_has_its_count_of_parts_in_every_state_and_hidden_objects_draw_nothing() {
        for shape in Shape::ALL.into_iter().chain(Shape::ENTITIES) {
            for (open, inside) in [(false, None), (true, None), (false, Some(0))] {
                let mut o = object(shape);
                o.open = open;
                o.inside = inside;
                let mut parts = Vec::new();
                object_parts(&o, |p| parts.push(p));
                assert_eq!(parts.len(), part_count(shape), "{shape:?}");
                assert!(parts.iter().all(|p| p.mesh.is_plain()));
                assert_eq!(parts.iter().all(Part::drawn), inside.is_none(), "{shape:?}");
            }
        }
    }

    #[test]
    fn a_box_body_stands_on_the_floor_and_its_lid_on_top_until_opened() {
        let mut b = object(Shape::Box);
        let mut parts = Vec::new();
        object_parts(&b, |p| parts.push(p));
        let top = |p: &Part| p.centre[1] + p.scale[1] * CUBE_SIDE / 2.0;
        assert!((parts[0].centre[1] - parts[0].scale[1] * CUBE_SIDE / 2.0).abs() < 1e-5);
        assert!((top(&parts[1]) - BOX_HEIGHT).abs() < 1e-5);
        b.open_box();
        parts.clear();
        object_parts(&b, |p| parts.push(p));
        assert!((top(&parts[0]) - TRAY_HEIGHT).abs() < 1e-5, "an open box is a tray");
    }
}
