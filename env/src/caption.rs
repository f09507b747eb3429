//! Captions: what the agent's view holds, in the words missions use, from the env's ground
//! truth and with no expert involved ("red cube left , blue sphere ahead"). Pretraining can read
//! them before the frames, so that words meet what they name before any instruction tuning.

use crate::observation::{Info, ObjectInfo};

/// Objects named at most, nearest first: three fit the agent's twelve instruction words.
pub const CAPTION_OBJECTS: usize = 3;
/// An object within this many degrees of straight ahead is `ahead`; further is `left` or `right`.
const AHEAD_DEG: f32 = 10.0;

/// The caption of the view `info` describes: each visible object not carried, nearest first,
/// as colour, shape and side, then what is carried; `nothing in view` when there is neither.
pub fn caption(info: &Info) -> String {
    let at = (info.pose.x, info.pose.z);
    let distance = |o: &ObjectInfo| (o.position[0] - at.0).hypot(o.position[2] - at.1);
    let mut seen: Vec<&ObjectInfo> = info.objects.iter().filter(|o| o.visible && Some(o.id) != info.held).collect();
    seen.sort_by(|a, b| distance(a).total_cmp(&distance(b)).then(a.id.cmp(&b.id)));
    let mut parts: Vec<String> = seen
        .iter()
        .take(CAPTION_OBJECTS)
        .map(|o| {
            let b = info.bearing(o);
            let side = if b.abs() <= AHEAD_DEG.to_radians() { "ahead" } else if b > 0.0 { "left" } else { "right" };
            format!("{} {} {side}", o.color.name(), o.shape.name())
        })
        .collect();
    if let Some(held) = info.held.and_then(|h| info.objects.iter().find(|o| o.id == h)) {
        parts.push(format!("holding {} {}", held.color.name(), held.shape.name()));
    }
    if parts.is_empty() { "nothing in view".into() } else { parts.join(" , ") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::{ObjectColor, Pose, Shape, Size};

    fn object(id: usize, color: ObjectColor, shape: Shape, x: f32, z: f32, visible: bool) -> ObjectInfo {
        ObjectInfo { id, shape, color, size: Size::Small, position: [x, 0.0, z], visible, velocity: [0.0, 0.0], open: false, inside: None, used: false }
    }

    fn info(objects: Vec<ObjectInfo>, held: Option<usize>) -> Info {
        Info {
            scenario: "test".into(),
            seed: 0,
            step: 0,
            success: false,
            target: 0,
            roles: Default::default(),
            answer: None,
            held,
            // Facing −z (yaw 0): x < 0 is to the left.
            pose: Pose { x: 0.0, z: 0.0, yaw: 0.0 },
            objects,
            progress: None,
            doors: Vec::new(),
        }
    }

    #[test]
    fn captions_name_visible_objects_nearest_first_with_their_side() {
        let objects = vec![
            object(0, ObjectColor::Red, Shape::Cube, -2.0, -2.0, true),
            object(1, ObjectColor::Blue, Shape::Sphere, 0.0, -1.0, true),
            object(2, ObjectColor::Green, Shape::Cone, 3.0, -3.0, true),
            object(3, ObjectColor::Yellow, Shape::Torus, 0.0, -0.5, false),
            object(4, ObjectColor::Pink, Shape::Cylinder, 0.0, -9.0, true),
        ];
        assert_eq!(caption(&info(objects.clone(), None)), "blue sphere ahead , red cube left , green cone right");
        assert_eq!(caption(&info(objects, Some(1))), "red cube left , green cone right , pink cylinder ahead , holding blue sphere");
        assert_eq!(caption(&info(vec![object(0, ObjectColor::Red, Shape::Cube, 0.0, 1.0, false)], None)), "nothing in view");
    }
}
