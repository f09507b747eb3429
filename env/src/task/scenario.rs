//! The scenario schema: what a `.ron` file under `assets/scenarios/` may say, loading and checking.

use std::path::Path;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{EnvError, Result};
use crate::task::answer::Answer;
use crate::task::mission::placeholders;
use crate::task::predicate::Predicate;
// The body and surface types are plain data the world uses too, so they live in `world`;
// re-exported so `scenario::{AgentSpec, Spawn, Texture}` keep working.
pub use crate::world::body::{AgentSpec, Spawn};
pub use crate::world::layout::Texture;
use crate::world::object::{ObjectColor, Shape, Size};

/// Built-in scenarios, compiled into the binary so they work from any directory.
const BUILTINS: &[(&str, &str)] = &[
    ("go_to_object", include_str!("../../../assets/scenarios/go_to_object.ron")),
    ("pick_up_object", include_str!("../../../assets/scenarios/pick_up_object.ron")),
    ("put_next_to", include_str!("../../../assets/scenarios/put_next_to.ron")),
    ("count_objects", include_str!("../../../assets/scenarios/count_objects.ron")),
    ("describe_object", include_str!("../../../assets/scenarios/describe_object.ron")),
    ("size_of_object", include_str!("../../../assets/scenarios/size_of_object.ron")),
    ("moving_balls", include_str!("../../../assets/scenarios/moving_balls.ron")),
    ("multi_room_go_to", include_str!("../../../assets/scenarios/multi_room_go_to.ron")),
    ("go_to_then_pick_up", include_str!("../../../assets/scenarios/go_to_then_pick_up.ron")),
    ("go_to_both", include_str!("../../../assets/scenarios/go_to_both.ron")),
    ("avoid_hazard", include_str!("../../../assets/scenarios/avoid_hazard.ron")),
    ("open_door_go_to", include_str!("../../../assets/scenarios/open_door_go_to.ron")),
    ("unlock_door", include_str!("../../../assets/scenarios/unlock_door.ron")),
    ("find_in_box", include_str!("../../../assets/scenarios/find_in_box.ron")),
    ("key_in_box", include_str!("../../../assets/scenarios/key_in_box.ron")),
    ("switch_door", include_str!("../../../assets/scenarios/switch_door.ron")),
    ("lights_on", include_str!("../../../assets/scenarios/lights_on.ron")),
];

/// The names of the built-in scenarios.
pub fn builtin_names() -> Vec<&'static str> {
    BUILTINS.iter().map(|(n, _)| *n).collect()
}

/// A randomised value: what it is without randomisation, and the range it is drawn from otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range<T> {
    /// Used when randomisation is off.
    pub default: T,
    /// Inclusive lower bound.
    pub min: T,
    /// Inclusive upper bound.
    pub max: T,
}

impl<T: Copy> Range<T> {
    /// A range that always yields `v`.
    pub const fn fixed(v: T) -> Self {
        Self { default: v, min: v, max: v }
    }
}

impl<T: Copy + PartialOrd + rand::distr::uniform::SampleUniform> Range<T> {
    /// Draw a value, or return the default when `randomize` is off.
    pub fn sample(&self, rng: &mut impl Rng, randomize: bool) -> T {
        if randomize && self.max > self.min {
            rng.random_range(self.min..=self.max)
        } else {
            self.default
        }
    }
}

/// A scenario: a world generator plus a task, loaded from RON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short identifier, used in dataset metadata.
    pub name: String,
    /// One line for `scenario list`.
    pub description: String,
    /// Global switch: false makes every `Range` yield its default (for evaluation).
    #[serde(default = "yes")]
    pub randomize: bool,
    /// The room.
    pub room: RoomSpec,
    /// The light.
    #[serde(default)]
    pub lighting: LightingSpec,
    /// What objects to place.
    pub objects: ObjectsSpec,
    /// The agent's body and motion.
    #[serde(default)]
    pub agent: AgentSpec,
    /// What the agent must do.
    pub task: TaskSpec,
    /// Episodes are truncated after this many steps.
    pub max_steps: u32,
}

fn yes() -> bool {
    true
}

/// The room's size and surfaces.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomSpec {
    /// Number of rooms in a row along x, joined by doorways.
    #[serde(default = "one_room")]
    pub rooms: Range<u32>,
    /// Width of each doorway, metres.
    #[serde(default = "default_door")]
    pub door_width: f32,
    /// Extent along x of each room, metres.
    pub width: Range<f32>,
    /// Extent along z, metres.
    pub depth: Range<f32>,
    /// Wall height, metres.
    #[serde(default = "default_wall_height")]
    pub height: f32,
    /// Wall colour, sRGB.
    #[serde(default = "default_wall_color")]
    pub wall_color: [f32; 3],
    /// Floor colour, sRGB.
    #[serde(default = "default_floor_color")]
    pub floor_color: [f32; 3],
    /// Ceiling colour, sRGB.
    #[serde(default = "default_ceiling_color")]
    pub ceiling_color: [f32; 3],
    /// Pattern on the floor.
    #[serde(default)]
    pub floor_texture: Texture,
    /// Pattern on the walls.
    #[serde(default)]
    pub wall_texture: Texture,
    /// Multiplier on every surface colour, drawn per episode (quantised to steps of 0.05).
    #[serde(default = "default_brightness")]
    pub brightness: Range<f32>,
    /// Doors hung in the doorways, west to east; doorways beyond the list stay empty.
    #[serde(default)]
    pub doors: Vec<DoorSpec>,
}

/// A door in a doorway, named for the conditions (`Open("door")`, `Unlocked("door")`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoorSpec {
    /// The name conditions use; distinct from every role's.
    pub name: String,
    /// How it starts.
    pub state: DoorState,
}

/// How a door starts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DoorState {
    /// Open.
    Open,
    /// Closed: `toggle` in front of it opens it.
    Closed,
    /// Locked with the colour of the named key role: `toggle` in front of it while carrying
    /// that key (or any key of its colour) opens it.
    Locked(String),
    /// Barred: only a switch role that `opens` it opens it.
    Barred,
}

fn default_brightness() -> Range<f32> {
    Range { default: 1.0, min: 0.85, max: 1.15 }
}

fn one_room() -> Range<u32> {
    Range::fixed(1)
}
fn default_door() -> f32 {
    1.0
}
fn default_wall_height() -> f32 {
    2.5
}
fn default_wall_color() -> [f32; 3] {
    [0.62, 0.60, 0.56]
}
fn default_floor_color() -> [f32; 3] {
    [0.36, 0.30, 0.26]
}
fn default_ceiling_color() -> [f32; 3] {
    [0.85, 0.85, 0.85]
}

/// The sun-like directional light and the ambient fill.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LightingSpec {
    /// Directional light illuminance, lux.
    pub illuminance: Range<f32>,
    /// Ambient brightness, cd/m².
    pub ambient: Range<f32>,
    /// Angle of the light above the horizon, degrees.
    pub elevation_deg: Range<f32>,
    /// Compass direction of the light, degrees.
    pub azimuth_deg: Range<f32>,
    /// The light starts off: the room is dim until a light switch is thrown.
    pub dark: bool,
}

impl Default for LightingSpec {
    fn default() -> Self {
        Self {
            illuminance: Range { default: 4000.0, min: 3000.0, max: 5000.0 },
            ambient: Range { default: 900.0, min: 700.0, max: 1100.0 },
            elevation_deg: Range { default: 60.0, min: 45.0, max: 75.0 },
            azimuth_deg: Range { default: 30.0, min: 0.0, max: 360.0 },
            dark: false,
        }
    }
}

/// How many objects, and what they may look like.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectsSpec {
    /// Number of objects, the target included.
    pub count: Range<u32>,
    /// Shapes to draw from.
    pub shapes: Vec<Shape>,
    /// Colours to draw from.
    pub colors: Vec<ObjectColor>,
    /// Sizes to draw from.
    pub sizes: Vec<Size>,
    /// Named objects the task talks about; the first is the task's main target.
    #[serde(default = "default_roles")]
    pub roles: Vec<RoleSpec>,
    /// How the objects that fill no role are drawn.
    #[serde(default)]
    pub distractors: DistractorRule,
    /// Extra small balls that roll in straight lines and bounce off walls, objects and the agent.
    #[serde(default)]
    pub moving: Option<MovingSpec>,
}

/// Balls that move on fixed rules, so the next frame depends on dynamics and not only on the
/// agent's own motion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MovingSpec {
    /// How many balls.
    pub count: Range<u32>,
    /// Distance each ball rolls per step, metres.
    pub speed: Range<f32>,
}

/// A named object the mission and the conditions refer to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleSpec {
    /// The name used in `{name.color}` placeholders and in predicates.
    pub name: String,
    /// No other object shares this object's colour and shape, so the mission is unambiguous.
    #[serde(default = "yes")]
    pub unique: bool,
    /// No other object has this object's shape ("the cone" names it alone).
    #[serde(default)]
    pub sole_shape: bool,
    /// No other object has this object's colour ("the red object" names it alone).
    #[serde(default)]
    pub sole_color: bool,
    /// What the role's object is: a plain object drawn from `objects.shapes` and `sizes`, a key,
    /// or a box.
    #[serde(default)]
    pub kind: RoleKind,
}

/// What kind of thing a role is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum RoleKind {
    /// A plain object, of the listed shapes and sizes.
    #[default]
    Object,
    /// A key, of one of the listed colours.
    Key,
    /// A box of one of the listed colours, holding the named role's object until it is opened.
    Box {
        /// The role shut inside; none for an empty box.
        #[serde(default)]
        holds: Option<String>,
    },
    /// A switch of one of the listed colours: it opens and closes the named barred door, or,
    /// with `light: true`, turns the room's light on and off.
    Switch {
        /// The door it works.
        #[serde(default)]
        opens: Option<String>,
        /// It works the light.
        #[serde(default)]
        light: bool,
    },
}

fn default_roles() -> Vec<RoleSpec> {
    vec![RoleSpec { name: "target".into(), unique: true, sole_shape: false, sole_color: false, kind: RoleKind::Object }]
}

/// How distractor objects are drawn.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum DistractorRule {
    /// Any shape, colour and size (never a unique role's colour and shape together).
    #[default]
    Any,
    /// Distractors share the named role's colour (so the shape must be read).
    ShareColor(String),
    /// Distractors share the named role's shape (so the colour must be read).
    ShareShape(String),
}

/// What the agent must do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    /// Mission template, e.g. "go to the {target.color} {target.shape}".
    pub mission: String,
    /// When this holds the episode terminates with reward `1 - 0.9 * steps / max_steps`.
    #[serde(default)]
    pub success: Option<Predicate>,
    /// For questions: how the answer is computed from ground truth. The episode ends when the
    /// agent answers, with success if the answer is right.
    #[serde(default)]
    pub answer: Option<Answer>,
    /// For a question about one object: the expert first walks until that object is in view and
    /// within this many metres (from the body to the object's edge), then answers. Objects a few
    /// pixels wide cannot be told apart from afar, so its demonstrations show looking closer.
    /// Unset, it answers at once. The episode's rules are the same either way.
    #[serde(default)]
    pub inspect: Option<f32>,
    /// When this holds the episode terminates with the failure reward.
    #[serde(default)]
    pub failure: Option<Predicate>,
    /// What success, failure and time are worth.
    #[serde(default)]
    pub reward: RewardSpec,
}

/// Sparse rewards: `success - time_penalty * steps / max_steps` when the task succeeds,
/// `failure` when the failure condition ends it (or a question is answered wrongly), 0 otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RewardSpec {
    /// Reward for success before the time penalty.
    pub success: f32,
    /// How much of it the whole step budget costs.
    pub time_penalty: f32,
    /// Reward when the episode fails.
    pub failure: f32,
}

impl Default for RewardSpec {
    fn default() -> Self {
        Self { success: 1.0, time_penalty: 0.9, failure: 0.0 }
    }
}

impl RewardSpec {
    /// The reward for an episode that ends at `step` of `max_steps`.
    pub fn of(&self, success: bool, failed: bool, step: u32, max_steps: u32) -> f32 {
        if success {
            self.success - self.time_penalty * step as f32 / max_steps as f32
        } else if failed {
            self.failure
        } else {
            0.0
        }
    }
}

impl Scenario {
    /// Whether the world has something to `toggle`: a door, or a role or distractor that is a box.
    pub fn interactive(&self) -> bool {
        !self.room.doors.is_empty()
            || self.objects.roles.iter().any(|r| matches!(r.kind, RoleKind::Box { .. } | RoleKind::Switch { .. }))
            || self.objects.shapes.contains(&Shape::Box)
    }

    /// Load a built-in scenario by name, or a `.ron` file by path.
    pub fn load(name_or_path: &str) -> Result<Self> {
        if let Some((name, text)) = BUILTINS.iter().find(|(n, _)| *n == name_or_path) {
            return Self::from_ron(text, &format!("builtin:{name}"));
        }
        let path = Path::new(name_or_path);
        if path.is_file() {
            return Self::from_file(path);
        }
        Err(EnvError::UnknownScenario { name: name_or_path.to_string(), builtins: builtin_names().join(", ") })
    }

    /// Load and validate a scenario file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|cause| EnvError::ScenarioIo { path: path.to_path_buf(), cause })?;
        Self::from_ron(&text, &path.display().to_string())
    }

    /// Parse and validate RON text; `origin` names it in errors.
    pub fn from_ron(text: &str, origin: &str) -> Result<Self> {
        // Optional fields are written bare (`answer: ColorOf("target")`), not wrapped in `Some(..)`.
        let options = ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
        let scenario: Scenario = options.from_str(text).map_err(|e| EnvError::ScenarioSyntax {
            origin: origin.to_string(),
            line: e.span.start.line,
            col: e.span.start.col,
            message: e.code.to_string(),
        })?;
        scenario.validate(origin).map_err(|e| match e {
            EnvError::ScenarioInvalid { origin, field, message } => match locate(text, &field) {
                Some((line, col)) => EnvError::ScenarioInvalid { origin: format!("{origin}:{line}:{col}"), field, message },
                None => EnvError::ScenarioInvalid { origin, field, message },
            },
            e => e,
        })?;
        Ok(scenario)
    }

    /// Check values that the schema cannot: ranges, empty lists, placeholders, room for the objects.
    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |field: &str, message: String| EnvError::ScenarioInvalid {
            origin: origin.to_string(),
            field: field.to_string(),
            message,
        };
        check_range_f32(&self.room.width, 2.0, 50.0).map_err(|m| bad("room.width", m))?;
        check_range_f32(&self.room.depth, 2.0, 50.0).map_err(|m| bad("room.depth", m))?;
        let rooms = &self.room.rooms;
        if rooms.min < 1 || rooms.min > rooms.max || rooms.default < rooms.min || rooms.default > rooms.max || rooms.max > 4 {
            return Err(bad("room.rooms", format!("need 1 <= min <= default <= max <= 4, got min {} default {} max {}", rooms.min, rooms.default, rooms.max)));
        }
        if !(0.8..=3.0).contains(&self.room.door_width) || self.room.door_width + 0.6 > self.room.depth.min {
            return Err(bad("room.door_width", format!("{} must be within 0.8..=3 metres and 0.6 m narrower than the room depth", self.room.door_width)));
        }
        if !(1.0..=20.0).contains(&self.room.height) {
            return Err(bad("room.height", format!("{} is outside 1..=20 metres", self.room.height)));
        }
        for (field, c) in [
            ("room.wall_color", self.room.wall_color),
            ("room.floor_color", self.room.floor_color),
            ("room.ceiling_color", self.room.ceiling_color),
        ] {
            if !c.iter().all(|v| (0.0..=1.0).contains(v)) {
                return Err(bad(field, format!("components {c:?} must each be within 0..=1")));
            }
        }
        for (field, t) in [("room.floor_texture", self.room.floor_texture), ("room.wall_texture", self.room.wall_texture)] {
            if let Texture::Checker(size) | Texture::Stripes(size) = t
                && !(0.05..=5.0).contains(&size)
            {
                return Err(bad(field, format!("pattern size {size} is outside 0.05..=5 metres")));
            }
        }
        check_range_f32(&self.room.brightness, 0.2, 2.0).map_err(|m| bad("room.brightness", m))?;
        let l = &self.lighting;
        check_range_f32(&l.illuminance, 0.0, 200_000.0).map_err(|m| bad("lighting.illuminance", m))?;
        check_range_f32(&l.ambient, 0.0, 100_000.0).map_err(|m| bad("lighting.ambient", m))?;
        check_range_f32(&l.elevation_deg, 1.0, 90.0).map_err(|m| bad("lighting.elevation_deg", m))?;
        check_range_f32(&l.azimuth_deg, -720.0, 720.0).map_err(|m| bad("lighting.azimuth_deg", m))?;
        let c = &self.objects.count;
        if c.min > c.max || c.default < c.min || c.default > c.max {
            return Err(bad("objects.count", format!("need min <= default <= max, got min {} default {} max {}", c.min, c.default, c.max)));
        }
        if c.min == 0 {
            return Err(bad("objects.count", "the task needs at least one object (the target)".into()));
        }
        if let Some(m) = &self.objects.moving {
            if m.count.min > m.count.max || m.count.default < m.count.min || m.count.default > m.count.max || m.count.max > 8 {
                return Err(bad("objects.moving.count", format!("need min <= default <= max <= 8, got min {} default {} max {}", m.count.min, m.count.default, m.count.max)));
            }
            check_range_f32(&m.speed, 0.0, 0.5).map_err(|msg| bad("objects.moving.speed", msg))?;
        }
        if c.max > 32 {
            return Err(bad("objects.count", format!("max {} is above the limit of 32", c.max)));
        }
        if self.objects.shapes.is_empty() {
            return Err(bad("objects.shapes", "the list is empty".into()));
        }
        if self.objects.colors.is_empty() {
            return Err(bad("objects.colors", "the list is empty".into()));
        }
        if self.objects.sizes.is_empty() {
            return Err(bad("objects.sizes", "the list is empty".into()));
        }
        let a = &self.agent;
        if !(a.radius > 0.0 && a.radius < 1.0) {
            return Err(bad("agent.radius", format!("{} is outside (0, 1) metres", a.radius)));
        }
        if !(a.move_step > 0.0 && a.move_step <= 1.0) {
            return Err(bad("agent.move_step", format!("{} is outside (0, 1] metres", a.move_step)));
        }
        if !(a.turn_step_deg > 0.0 && a.turn_step_deg <= 90.0) {
            return Err(bad("agent.turn_step_deg", format!("{} is outside (0, 90] degrees", a.turn_step_deg)));
        }
        if !(a.fov_deg >= 20.0 && a.fov_deg <= 140.0) {
            return Err(bad("agent.fov_deg", format!("{} is outside 20..=140 degrees", a.fov_deg)));
        }
        if !(a.eye_height > 0.0 && a.eye_height < self.room.height) {
            return Err(bad("agent.eye_height", format!("{} must be above 0 and below the room height {}", a.eye_height, self.room.height)));
        }
        if !(-89.0..=89.0).contains(&a.pitch_deg) {
            return Err(bad("agent.pitch_deg", format!("{} is outside -89..=89 degrees", a.pitch_deg)));
        }
        if self.max_steps == 0 {
            return Err(bad("max_steps", "must be at least 1".into()));
        }
        let roles = &self.objects.roles;
        if roles.is_empty() {
            return Err(bad("objects.roles", "the task needs at least one role".into()));
        }
        for (i, r) in roles.iter().enumerate() {
            if r.name.is_empty() || !r.name.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
                return Err(bad("objects.roles", format!("role name `{}` must be letters, digits or `_`", r.name)));
            }
            if roles[..i].iter().any(|o| o.name == r.name) {
                return Err(bad("objects.roles", format!("role `{}` is defined twice", r.name)));
            }
        }
        let defined = |name: &str| roles.iter().any(|r| r.name == name);
        if c.min < roles.len() as u32 {
            return Err(bad("objects.count", format!("min {} is below the {} roles the task needs", c.min, roles.len())));
        }
        match &self.objects.distractors {
            DistractorRule::Any => {}
            DistractorRule::ShareColor(r) | DistractorRule::ShareShape(r) => {
                if !defined(r) {
                    return Err(bad("objects.distractors", format!("role `{r}` is not defined in objects.roles")));
                }
            }
        }
        self.validate_entities().map_err(|(field, m)| bad(field, m))?;
        // Unique roles need distinct colour-and-shape pairs, and distractors need one more.
        // (Keys and boxes have shapes of their own; `validate_entities` counts their colours.)
        let unique = roles.iter().filter(|r| r.unique && r.kind == RoleKind::Object).count();
        let combos = self.objects.shapes.len() * self.objects.colors.len();
        let needed = unique + usize::from(c.max as usize > roles.len());
        if combos < needed {
            return Err(bad("objects", format!("{combos} colour-and-shape pairs cannot keep {unique} roles unique among the objects")));
        }
        for (role, _) in placeholders(&self.task.mission).map_err(|m| bad("task.mission", m))? {
            if !defined(&role) {
                return Err(bad("task.mission", format!("placeholder `{{{role}...}}` binds to nothing: no role `{role}` in objects.roles")));
            }
        }
        let rw = &self.task.reward;
        if ![rw.success, rw.time_penalty, rw.failure].iter().all(|v| v.is_finite() && v.abs() <= 1000.0) {
            return Err(bad("task.reward", "values must be finite and within ±1000".into()));
        }
        if self.task.success.is_none() && self.task.answer.is_none() {
            return Err(bad("task", "needs a `success` condition, an `answer`, or both".into()));
        }
        if let Some(answer) = &self.task.answer
            && let Some(r) = answer.roles().into_iter().find(|r| !defined(r))
        {
            return Err(bad("task.answer", format!("refers to `{r}`, which is not defined in objects.roles")));
        }
        // Answers name plain shapes only (the closed answer vocabulary).
        if self.task.answer.is_some()
            && (self.objects.shapes.iter().any(|s| !s.is_plain()) || roles.iter().any(|r| r.kind != RoleKind::Object))
        {
            return Err(bad("objects", "a question scenario may hold plain objects only: its answers name the six plain shapes".into()));
        }
        if let Some(d) = self.task.inspect {
            if self.task.answer.as_ref().and_then(Answer::subject).is_none() || self.task.success.is_some() {
                return Err(bad("task.inspect", "needs a question about one object (ColorOf, ShapeOf or SizeOf) and no success condition".into()));
            }
            if !(d > 0.0 && d < 5.0) {
                return Err(bad("task.inspect", format!("{d} is outside (0, 5) metres")));
            }
        }
        for (field, pred) in [("task.success", self.task.success.as_ref()), ("task.failure", self.task.failure.as_ref())] {
            let Some(pred) = pred else { continue };
            let mut used = std::collections::BTreeSet::new();
            pred.roles(&mut used);
            if let Some(r) = used.iter().find(|r| !defined(r)) {
                return Err(bad(field, format!("condition refers to `{r}`, which is not defined in objects.roles")));
            }
            if let Some((x, b)) = pred.inside_pairs().into_iter().find(|(_, b)| !roles.iter().any(|r| r.name == *b && matches!(r.kind, RoleKind::Box { .. }))) {
                return Err(bad(field, format!("`Inside(\"{x}\", \"{b}\")`: `{b}` is not a box role")));
            }
            let mut openables = Vec::new();
            pred.openables(&mut openables);
            for (name, door_only) in openables {
                let door = self.room.doors.iter().any(|d| d.name == name);
                let a_box = roles.iter().any(|r| r.name == name && matches!(r.kind, RoleKind::Box { .. } | RoleKind::Switch { .. }));
                if !door && (door_only || !a_box) {
                    let what = if door_only { "a door in room.doors" } else { "a door in room.doors, a box or a switch role" };
                    return Err(bad(field, format!("condition refers to `{name}`, which is not {what}")));
                }
            }
            let mut radii = Vec::new();
            pred.radii(&mut radii);
            if let Some(r) = radii.iter().find(|r| !(**r > 0.0 && **r < 5.0)) {
                return Err(bad(field, format!("radius {r} is outside (0, 5) metres")));
            }
            check_memory(pred, field == "task.success").map_err(|m| bad(field, m))?;
        }
        // Objects need floor space: compare their footprints with the smallest room's area.
        let min_area = self.room.width.min.min(self.room.width.default) * self.room.depth.min.min(self.room.depth.default) * rooms.min as f32;
        let largest = self.objects.sizes.iter().map(|s| s.extent()).fold(0.0, f32::max);
        let balls = self.objects.moving.as_ref().map_or(0, |m| m.count.max);
        let needed = ((c.max + balls) as f32 + 1.0) * (largest + 2.0 * a.radius).powi(2) * 2.0;
        if needed > min_area {
            return Err(bad("objects.count", format!("{} objects do not fit in a {:.1} m² room (need about {:.1} m²)", c.max, min_area, needed)));
        }
        Ok(())
    }
}

impl Scenario {
    /// Check doors, keys and boxes: the doors fit the doorways every world has, names are
    /// unique, a lock names a key role, a box holds a plain role that no other box holds.
    /// Errors name the field.
    fn validate_entities(&self) -> std::result::Result<(), (&'static str, String)> {
        let roles = &self.objects.roles;
        let role = |name: &str| roles.iter().find(|r| r.name == name);
        let doorways = self.room.rooms.min.saturating_sub(1) as usize;
        if self.room.doors.len() > doorways {
            return Err(("room.doors", format!("{} doors listed, but a world with room.rooms.min = {} rooms has {doorways} doorways", self.room.doors.len(), self.room.rooms.min)));
        }
        for (i, d) in self.room.doors.iter().enumerate() {
            if d.name.is_empty() || !d.name.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
                return Err(("room.doors", format!("door name `{}` must be letters, digits or `_`", d.name)));
            }
            if self.room.doors[..i].iter().any(|o| o.name == d.name) || role(&d.name).is_some() {
                return Err(("room.doors", format!("the name `{}` is used twice (doors and roles share one set of names)", d.name)));
            }
            if let DoorState::Locked(key) = &d.state {
                // A key stays in the first lock it opens.
                if self.room.doors[..i].iter().any(|o| o.state == d.state) {
                    return Err(("room.doors", format!("door `{}` is locked with `{key}` like an earlier door; a key opens one lock (it stays in it), so give each locked door its own key role", d.name)));
                }
                match role(key) {
                    Some(r) if r.kind == RoleKind::Key => {}
                    Some(_) => return Err(("room.doors", format!("door `{}` is locked with `{key}`, which is not a key role (kind: Key)", d.name))),
                    None => return Err(("room.doors", format!("door `{}` is locked with `{key}`, which is not defined in objects.roles", d.name))),
                }
            }
        }
        for d in &self.room.doors {
            if d.state == DoorState::Barred && !roles.iter().any(|r| matches!(&r.kind, RoleKind::Switch { opens: Some(opens), .. } if *opens == d.name)) {
                return Err(("room.doors", format!("door `{}` is barred, but no switch role opens it (kind: Switch(opens: \"{}\"))", d.name, d.name)));
            }
        }
        let mut held: Vec<&str> = Vec::new();
        for r in roles {
            if let RoleKind::Switch { opens, light } = &r.kind {
                match (opens, light) {
                    (Some(_), true) | (None, false) => {
                        return Err(("objects.roles", format!("switch `{}` must either open a door (opens: \"door\") or work the light (light: true)", r.name)));
                    }
                    (None, true) => {}
                    (Some(opens), false) => match self.room.doors.iter().find(|d| d.name == *opens) {
                        Some(d) if d.state == DoorState::Barred => {}
                        Some(_) => return Err(("objects.roles", format!("switch `{}` opens door `{opens}`, which is not barred (state: Barred)", r.name))),
                        None => return Err(("objects.roles", format!("switch `{}` opens `{opens}`, which is not a door in room.doors", r.name))),
                    },
                }
            }
            if let RoleKind::Box { holds: Some(h) } = &r.kind {
                match role(h) {
                    None => return Err(("objects.roles", format!("box `{}` holds `{h}`, which is not defined in objects.roles", r.name))),
                    Some(o) if matches!(o.kind, RoleKind::Box { .. }) => {
                        return Err(("objects.roles", format!("box `{}` holds `{h}`, which is a box (a box holds a plain object or a key)", r.name)));
                    }
                    Some(_) if held.contains(&h.as_str()) => return Err(("objects.roles", format!("`{h}` is held by two boxes"))),
                    Some(_) => held.push(h),
                }
            }
        }
        let colors = self.objects.colors.len();
        let keys = roles.iter().filter(|r| r.kind == RoleKind::Key).count();
        let boxes = roles.iter().filter(|r| matches!(r.kind, RoleKind::Box { .. })).count();
        let switches = roles.iter().filter(|r| matches!(r.kind, RoleKind::Switch { .. })).count();
        for (what, n) in [("keys", keys), ("boxes", boxes), ("switches", switches)] {
            if n > colors {
                return Err(("objects.colors", format!("{n} {what} need {n} colours to stay apart; {colors} are listed")));
            }
        }
        Ok(())
    }
}

/// Where a validation error's field is written in a scenario's text, as 1-based (line, column):
/// each dotted part of `field` is looked up as a `name:` key after the one before it, outside
/// comments. A field left out of the file falls back to the deepest part that is written.
pub fn locate(text: &str, field: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    let mut found = None;
    for part in field.split('.') {
        let Some(at) = find_key(text, part, from) else { break };
        found = Some(at);
        from = at + part.len();
    }
    let at = found?;
    let line = text[..at].matches('\n').count() + 1;
    let col = at - text[..at].rfind('\n').map_or(0, |n| n + 1) + 1;
    Some((line, col))
}

/// The byte offset of the first `key:` at or after `from` that is a whole word outside a `//` comment.
fn find_key(text: &str, key: &str, from: usize) -> Option<usize> {
    let mut start = from;
    while let Some(rel) = text.get(start..)?.find(key) {
        let at = start + rel;
        start = at + key.len();
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let line_start = text[..at].rfind('\n').map_or(0, |n| n + 1);
        if text[line_start..at].contains("//") {
            continue;
        }
        if text[start..].trim_start().starts_with(':') {
            return Some(at);
        }
    }
    None
}

/// `Then` and `AllEver` remember the past, and that memory belongs to the episode's success: so
/// they may only be the whole success condition, with at least one subgoal, each of which looks
/// at one instant.
fn check_memory(pred: &Predicate, is_success: bool) -> std::result::Result<(), String> {
    let Some((parts, _)) = pred.subgoals() else {
        if pred.has_memory() {
            return Err("`Then` and `AllEver` may only be the whole success condition, not nested inside `All`, `Any` or `Not`".into());
        }
        return Ok(());
    };
    if !is_success {
        return Err("`Then` and `AllEver` remember which subgoals are done, so they belong in `success`, not here".into());
    }
    if parts.is_empty() {
        return Err("`Then` and `AllEver` need at least one subgoal".into());
    }
    if let Some(i) = parts.iter().position(Predicate::has_memory) {
        return Err(format!("subgoal {i} nests a `Then` or `AllEver`; subgoals must be conditions on one instant"));
    }
    Ok(())
}

fn check_range_f32(r: &Range<f32>, lo: f32, hi: f32) -> std::result::Result<(), String> {
    if !(r.min.is_finite() && r.max.is_finite() && r.default.is_finite()) {
        return Err("values must be finite numbers".into());
    }
    if r.min > r.max {
        return Err(format!("min {} is above max {}", r.min, r.max));
    }
    if r.default < r.min || r.default > r.max {
        return Err(format!("default {} is outside min {} ..= max {}", r.default, r.min, r.max));
    }
    if r.min < lo || r.max > hi {
        return Err(format!("range {}..={} is outside the allowed {lo}..={hi}", r.min, r.max));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn builtins_load() {
        for name in builtin_names() {
            let s = Scenario::load(name).expect("builtin loads");
            assert_eq!(s.name, name);
        }
    }

    #[test]
    fn unknown_field_reports_line_and_column() {
        let text = BUILTINS[0].1.replacen("max_steps:", "max_stepz:", 1);
        let err = Scenario::from_ron(&text, "x.ron").expect_err("must fail");
        let msg = err.to_string();
        assert!(msg.starts_with("x.ron:"), "{msg}");
        assert!(msg.contains("max_stepz"), "{msg}");
    }

    #[test]
    fn bad_placeholder_is_named() {
        let text = BUILTINS[0].1.replacen("{target.shape}", "{targt.shape}", 1);
        let err = Scenario::from_ron(&text, "x.ron").expect_err("must fail").to_string();
        assert!(err.contains("task.mission") && err.contains("no role `targt`"), "{err}");
    }

    #[test]
    fn inspect_needs_a_question_about_one_object_and_a_sane_distance() {
        let describe = Scenario::load("describe_object").expect("builtin");
        let text = |name: &str| BUILTINS.iter().find(|(n, _)| *n == name).expect("builtin").1;
        for bad in ["9.0", "0.0", "NaN"] {
            let far = text("describe_object").replacen("inspect: 1.5", &format!("inspect: {bad}"), 1);
            let err = Scenario::from_ron(&far, "x.ron").expect_err(bad).to_string();
            assert!(err.contains("task.inspect") && err.contains("outside (0, 5)"), "{bad}: {err}");
        }
        let count = text("count_objects").replacen("answer: CountColor(\"target\"),", "answer: CountColor(\"target\"), inspect: 1.0,", 1);
        let err = Scenario::from_ron(&count, "x.ron").expect_err("a count reads several objects").to_string();
        assert!(err.contains("task.inspect") && err.contains("one object"), "{err}");
        assert_eq!(describe.task.inspect, Some(1.5));
    }

    /// Property test: mutated versions of every built-in file never panic the loader, the
    /// validator or world generation, and every accepted mutation generates or fails cleanly.
    #[test]
    fn mutated_builtins_never_panic() {
        use rand::SeedableRng;
        let tokens = ["(", ")", ",", ":", "[", "]", "\"", "-1", "1e9", "NaN", "inf", "0", "0.0", "foo: 1,", "-", "99999999999", "Some(", "cube", "Then([", "AllEver([", "Holding(\"a\"),"];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut accepted = 0;
        for (_, text) in BUILTINS {
            let chars: Vec<char> = text.chars().collect();
            for _ in 0..3000 {
                let mut m = chars.clone();
                for _ in 0..rng.random_range(1..=3) {
                    let at = rng.random_range(0..m.len());
                    match rng.random_range(0..4) {
                        0 => {
                            let end = (at + rng.random_range(1..=8)).min(m.len());
                            m.drain(at..end);
                        }
                        1 => {
                            let t = tokens[rng.random_range(0..tokens.len())];
                            m.splice(at..at, t.chars());
                        }
                        2 => {
                            if let Some(d) = m[at..].iter().position(|c| c.is_ascii_digit()) {
                                m[at + d] = char::from(b'0' + rng.random_range(0..10u8));
                            }
                        }
                        _ => {
                            let end = (at + rng.random_range(1..=12)).min(m.len());
                            let copy: Vec<char> = m[at..end].to_vec();
                            m.splice(end..end, copy);
                        }
                    }
                    if m.is_empty() {
                        break;
                    }
                }
                let text: String = m.into_iter().collect();
                let result = std::panic::catch_unwind(|| {
                    let parsed = Scenario::from_ron(&text, "fuzz.ron");
                    if let Ok(s) = &parsed {
                        for seed in 0..2 {
                            let _ = crate::generation::generate(s, seed);
                        }
                    }
                    parsed.is_ok()
                });
                match result {
                    Ok(ok) => accepted += usize::from(ok),
                    Err(_) => panic!("input panicked:\n{text}"),
                }
            }
        }
        // Some mutations (a changed digit) stay valid, so generation was exercised too.
        assert!(accepted > 0);
    }

    #[test]
    fn memory_forms_only_as_the_whole_success_condition() {
        let base = Scenario::load("go_to_then_pick_up").expect("builtin");
        let text = include_str!("../../../assets/scenarios/go_to_then_pick_up.ron");
        let cases = [
            ("success: Then([", "success: Not(Then([", ")),", "task.success", "not nested"),
            ("success: Then([", "success: Then([AllEver([Holding(\"a\")]), ", "", "task.success", "subgoal 0 nests"),
            ("success: Then([", "failure: Then([Holding(\"a\")]), success: Then([", "", "task.failure", "belong in `success`"),
        ];
        for (from, to, close, field, why) in cases {
            let mut t = text.replacen(from, to, 1);
            if !close.is_empty() {
                t = t.replacen("]),\n    ),\n    max_steps", &format!("]{close}\n    ),\n    max_steps"), 1);
            }
            let err = Scenario::from_ron(&t, "x.ron").expect_err(why).to_string();
            assert!(err.contains(field) && err.contains(why), "{err}");
        }
        let mut empty = base.clone();
        empty.task.success = Some(Predicate::AllEver(vec![]));
        let err = empty.validate("t").expect_err("empty").to_string();
        assert!(err.contains("task.success") && err.contains("at least one subgoal"), "{err}");
    }

    #[test]
    fn inverted_range_is_named() {
        let mut s = Scenario::load("go_to_object").expect("builtin");
        s.room.width.min = 9.0;
        let err = s.validate("t").expect_err("must fail").to_string();
        assert!(err.contains("room.width") && err.contains("above max"), "{err}");
    }

    /// A door, key or box that makes no sense is refused with the file, line and column of the
    /// field, and what is wrong.
    #[test]
    fn bad_doors_keys_and_boxes_are_refused_where_they_are_written() {
        let text = include_str!("../../../assets/scenarios/unlock_door.ron");
        let cases = [
            (text.replace("Locked(\"key\")", "Locked(\"target\")"), "room.doors", "not a key role"),
            (text.replace("Locked(\"key\")", "Locked(\"nothing\")"), "room.doors", "not defined in objects.roles"),
            (text.replace("(name: \"door\", state", "(name: \"key\", state"), "room.doors", "used twice"),
            (
                text.replace("rooms: (default: 2, min: 2, max: 2)", "rooms: (default: 3, min: 3, max: 3)")
                    .replace("doors: [(name: \"door\", state: Locked(\"key\"))]", "doors: [(name: \"door\", state: Locked(\"key\")), (name: \"door2\", state: Locked(\"key\"))]"),
                "room.doors",
                "a key opens one lock",
            ),
            (text.replace("rooms: (default: 2, min: 2, max: 2)", "rooms: (default: 2, min: 1, max: 2)"), "room.doors", "doorways"),
            (text.replace("(name: \"other_key\", kind: Key)", "(name: \"other_key\", kind: Box(holds: \"crate\"))"), "objects.roles", "not defined"),
            (text.replace("success: Near(Agent, Object(\"target\"), 0.5)", "success: Unlocked(\"target\")"), "task.success", "not a door"),
            (text.replace("success: Near(Agent, Object(\"target\"), 0.5)", "success: Open(\"key\")"), "task.success", "not a door in room.doors, a box or a switch role"),
        ];
        for (ron, field, why) in cases {
            let err = Scenario::from_ron(&ron, "t.ron").expect_err(why).to_string();
            let (line, col) = locate(&ron, field).expect("the field is written");
            assert!(err.starts_with(&format!("t.ron:{line}:{col}: field `{field}`")) && err.contains(why), "{err}");
        }
        let switch = include_str!("../../../assets/scenarios/switch_door.ron");
        for (ron, field, why) in [
            (switch.replace("state: Barred", "state: Closed"), "objects.roles", "not barred"),
            (switch.replace("Switch(opens: \"door\")", "Switch(opens: \"gate\")"), "room.doors", "no switch role opens it"),
            (switch.replace("Switch(opens: \"door\")", "Switch(opens: \"door\", light: true)"), "objects.roles", "either open a door"),
        ] {
            let err = Scenario::from_ron(&ron, "s.ron").expect_err(why).to_string();
            let (line, col) = locate(&ron, field).expect("the field is written");
            assert!(err.starts_with(&format!("s.ron:{line}:{col}: field `{field}`")) && err.contains(why), "{err}");
        }
        let boxes = include_str!("../../../assets/scenarios/find_in_box.ron").replace("kind: Box())", "kind: Box(holds: \"box\"))");
        let err = Scenario::from_ron(&boxes, "b.ron").expect_err("a box in a box").to_string();
        assert!(err.contains("objects.roles") && err.contains("is a box"), "{err}");
    }

    #[test]
    fn locate_finds_nested_keys_outside_comments() {
        let text = "// room: not this\n(\n    room: (\n        doors: [],\n    ),\n)";
        assert_eq!(locate(text, "room.doors"), Some((4, 9)));
        assert_eq!(locate(text, "room.width"), Some((3, 5)), "a field left out points at its parent");
        assert_eq!(locate(text, "task"), None);
    }
}
