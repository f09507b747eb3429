//! The agent's body: its size, camera and step sizes from the scenario, and the reach and
//! carrying distances the simulation and the expert share.

use serde::{Deserialize, Serialize};

/// Gap kept between a carried object and the agent's body, metres.
pub const CARRY_GAP: f32 = 0.05;
/// Furthest gap at which an object can be picked up, metres.
pub const REACH: f32 = 0.45;

/// The agent's body, camera and step sizes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentSpec {
    /// Body radius for collision, metres.
    pub radius: f32,
    /// Distance walked by forward, back and strafe actions, metres.
    pub move_step: f32,
    /// Angle turned by a turn action, degrees.
    pub turn_step_deg: f32,
    /// Camera height, metres.
    pub eye_height: f32,
    /// Camera downward tilt, degrees.
    pub pitch_deg: f32,
    /// Vertical field of view, degrees.
    pub fov_deg: f32,
    /// Where the agent starts.
    pub spawn: Spawn,
}

/// How the agent's start pose is chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Spawn {
    /// Anywhere free, at least 1.5 m from the main target, facing a random direction.
    #[default]
    Random,
    /// Somewhere every object is visible from, facing them: for questions about the scene.
    Overview,
}

impl Default for AgentSpec {
    fn default() -> Self {
        Self { radius: 0.25, move_step: 0.25, turn_step_deg: 15.0, eye_height: 0.9, pitch_deg: 12.0, fov_deg: 70.0, spawn: Spawn::Random }
    }
}
