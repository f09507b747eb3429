//! What the agent's camera sees: the view frustum and occlusion, computed on ground truth so
//! generation, the simulation and the predicates agree without rendering.

use crate::world::body::AgentSpec;
use crate::world::geometry::{Pose, dist};
use crate::world::layout::{PlacedObject, Room};

/// Whether object `i`'s centre is in the view frustum of an agent at `pose` and not hidden behind
/// another object.
pub fn visible(room: &Room, objects: &[PlacedObject], spec: &AgentSpec, pose: &Pose, i: usize) -> bool {
    let o = &objects[i];
    if !o.solid() {
        return false;
    }
    let eye = [pose.x, spec.eye_height, pose.z];
    let c = [o.pos.0, o.lift + o.extent.height / 2.0, o.pos.1];
    let d = [c[0] - eye[0], c[1] - eye[1], c[2] - eye[2]];
    // Rotate the world offset into camera space: undo yaw, then undo the downward pitch.
    let (fx, fz) = pose.forward();
    let (rx, rz) = pose.right();
    let ahead = d[0] * fx + d[2] * fz;
    let side = d[0] * rx + d[2] * rz;
    let pitch = spec.pitch_deg.to_radians();
    let fwd = ahead * pitch.cos() - d[1] * pitch.sin();
    let up = ahead * pitch.sin() + d[1] * pitch.cos();
    if fwd <= 0.05 {
    return false;
    }
    let half_v = spec.fov_deg.to_radians() / 2.0;
    // Frames are square, so the horizontal half-angle equals the vertical one.
    if (up / fwd).abs() > half_v.tan() || (side / fwd).abs() > half_v.tan() {
    return false;
    }
    // Occlusion: an interior wall outside its doorway, or another object's body, on the way.
    if room.wall_between((eye[0], eye[2]), (c[0], c[2])) {
        return false;
    }
    objects.iter().enumerate().all(|(j, b)| {
    if j == i || !b.obstacle() {
        return true;
    }
    let (sx, sz) = (c[0] - eye[0], c[2] - eye[2]);
    let len2 = sx * sx + sz * sz;
    if len2 < 1e-9 {
        return true;
    }
    let t = (((b.pos.0 - eye[0]) * sx + (b.pos.1 - eye[2]) * sz) / len2).clamp(0.0, 1.0);
    if t >= 0.999 {
        return true;
    }
    let px = eye[0] + sx * t;
    let pz = eye[2] + sz * t;
    let y = eye[1] + (c[1] - eye[1]) * t;
    let inside = dist((px, pz), b.pos) < b.extent.radius * 0.8;
    !(inside && y >= b.lift && y <= b.lift + b.extent.height)
    })
}
