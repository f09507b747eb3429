//! What an env hands back: frames, observations, ground-truth info and step results.

use serde::{Deserialize, Serialize};

use crate::task::progress::Progress;
use crate::world::geometry::{Pose, heading, wrap_angle};
use crate::world::layout::Gate;
use crate::world::object::{ObjectColor, Shape, Size};

/// An RGB image, row-major, 3 bytes per pixel, top row first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `height * width * 3` bytes.
    pub rgb: Vec<u8>,
}

impl Frame {
    /// A black frame.
    pub fn black(width: u32, height: u32) -> Self {
        Self { width, height, rgb: vec![0; (width * height * 3) as usize] }
    }

    /// The pixel at (x, y).
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = ((y * self.width + x) * 3) as usize;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }
}

/// What the agent sees after a reset or step.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// The first-person camera image.
    pub frame: Frame,
    /// The mission text.
    pub mission: String,
    /// The agent's pose.
    pub pose: Pose,
}

/// Ground truth about one object, for perception tasks and checks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObjectInfo {
    /// Index in the world's object list.
    pub id: usize,
    /// Shape.
    pub shape: Shape,
    /// Colour.
    pub color: ObjectColor,
    /// Size class.
    pub size: Size,
    /// Centre of the object's base: x, height above the floor, z.
    pub position: [f32; 3],
    /// Whether the object's centre is inside the camera frustum with an unblocked line of sight.
    pub visible: bool,
    /// Displacement per step, (x, z); zero for static objects.
    pub velocity: [f32; 2],
    /// For a box: whether it is open.
    #[serde(default)]
    pub open: bool,
    /// The box the object is shut in, if any: it is then neither drawn nor seen.
    #[serde(default)]
    pub inside: Option<usize>,
    /// For a key: it has opened a lock and stays in it.
    #[serde(default)]
    pub used: bool,
}

/// Ground truth about one door.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DoorInfo {
    /// The scenario's name for it.
    pub name: String,
    /// The interior wall's position along x.
    pub x: f32,
    /// The doorway's extent along z.
    pub span: [f32; 2],
    /// Open, closed or locked (with its colour).
    pub gate: Gate,
}

/// Typed ground truth returned by `reset` and `step`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Info {
    /// The scenario's name.
    pub scenario: String,
    /// The episode's seed.
    pub seed: u64,
    /// Steps taken in this episode.
    pub step: u32,
    /// Whether the task's success condition holds.
    pub success: bool,
    /// Index of the task's main target object (the first role).
    pub target: usize,
    /// Every role's object index, by role name.
    pub roles: std::collections::BTreeMap<String, usize>,
    /// For question scenarios, the true answer from the agent's current view.
    pub answer: Option<String>,
    /// The object being carried, if any.
    pub held: Option<usize>,
    /// The agent's pose.
    pub pose: Pose,
    /// Every object.
    pub objects: Vec<ObjectInfo>,
    /// Which subgoals are done, when the success condition is a `Then` or an `AllEver`
    /// (`progress.current()` is the subgoal being worked on); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
    /// Every named door, in the scenario's order; absent where there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub doors: Vec<DoorInfo>,
}

impl Info {
    /// Where `object` lies from the agent's heading, radians in (−π, π]: 0 straight ahead,
    /// positive to the left (the side the expert turns to reach it).
    pub fn bearing(&self, object: &ObjectInfo) -> f32 {
        wrap_angle(heading((self.pose.x, self.pose.z), (object.position[0], object.position[2])) - self.pose.yaw)
    }
}

/// The result of one step, with Gymnasium's meanings.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The observation after the action.
    pub obs: Observation,
    /// The reward for this step.
    pub reward: f32,
    /// The task ended (succeeded or failed) and the episode is over.
    pub terminated: bool,
    /// An outside limit (the step budget) ended the episode.
    pub truncated: bool,
    /// Ground truth after the action.
    pub info: Info,
}
