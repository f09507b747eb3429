//! Floor-plane geometry: the agent's pose, distances, headings and angles.

use serde::{Deserialize, Serialize};

/// Where the agent stands and which way it faces. `yaw = 0` looks along -z; positive yaw turns left.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pose {
    /// Position along x, metres.
    pub x: f32,
    /// Position along z, metres.
    pub z: f32,
    /// Heading, radians.
    pub yaw: f32,
}

impl Pose {
    /// The unit vector the agent faces, as (x, z).
    pub fn forward(&self) -> (f32, f32) {
        (-self.yaw.sin(), -self.yaw.cos())
    }

    /// The unit vector to the agent's right, as (x, z).
    pub fn right(&self) -> (f32, f32) {
        (self.yaw.cos(), -self.yaw.sin())
    }
}

/// The yaw that faces from `from` towards `to`.
pub fn heading(from: (f32, f32), to: (f32, f32)) -> f32 {
    (-(to.0 - from.0)).atan2(-(to.1 - from.1))
}

/// Distance in the floor plane.
pub fn dist(a: (f32, f32), b: (f32, f32)) -> f32 {
    ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
}

/// Wrap an angle into (-π, π].
pub fn wrap_angle(a: f32) -> f32 {
    let tau = std::f32::consts::TAU;
    let mut a = a % tau;
    if a > std::f32::consts::PI {
        a -= tau;
    } else if a <= -std::f32::consts::PI {
        a += tau;
    }
    a
}
