//! The simulation of one env: kinematic motion with collision, carrying, the task and visibility.
//!
//! Everything here is plain Rust with no Bevy and no wall clock, so it is deterministic by construction.

use std::sync::Arc;

use crate::action::Action;
use crate::error::Result;
use crate::observation::{DoorInfo, Info, ObjectInfo};
use crate::task::predicate::{Subject, World};
use crate::task::progress::Progress;
use crate::task::scenario::Scenario;
// Re-exported: these were the simulation's public paths before they moved down into `world`.
pub use crate::world::body::{CARRY_GAP, REACH};
use crate::generation::generate;
use crate::world::geometry::{Pose, dist};
pub use crate::world::geometry::wrap_angle;
use crate::world::layout::{Gate, INNER_WALL, Layout, PlacedObject};
use crate::world::object::Shape;
pub use crate::world::visibility::visible;

/// How high a carried object is lifted, metres.
const CARRY_LIFT: f32 = 0.25;
/// Half-angle of the cone in front of the agent where objects can be picked up.
const REACH_HALF_ANGLE: f32 = 0.6;

/// Whether `point` lies within the reaching cone of an agent at `a` facing `f`.
fn facing(a: Pose, f: (f32, f32), point: (f32, f32)) -> bool {
    let (dx, dz) = (point.0 - a.x, point.1 - a.z);
    let len = (dx * dx + dz * dz).sqrt().max(1e-6);
    ((dx * f.0 + dz * f.1) / len).clamp(-1.0, 1.0).acos() <= REACH_HALF_ANGLE
}

/// One env's state between steps.
#[derive(Clone, Debug)]
pub struct SimState {
    /// The scenario being played.
    pub scenario: Arc<Scenario>,
    /// The episode's seed.
    pub seed: u64,
    /// The world, with objects at their current positions.
    pub layout: Layout,
    /// The agent's pose.
    pub agent: Pose,
    /// Index of the carried object.
    pub held: Option<usize>,
    /// Steps taken.
    pub step: u32,
    /// Whether the episode has ended (terminated or truncated).
    pub over: bool,
    /// Whether the task's success condition held at the last step.
    pub success: bool,
    /// Which subgoals are done, when the success condition is a `Then` or an `AllEver`.
    pub progress: Option<Progress>,
}

/// What a step produced, before the frame is rendered.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepEffect {
    /// Reward.
    pub reward: f32,
    /// Task ended.
    pub terminated: bool,
    /// Step budget ran out.
    pub truncated: bool,
}

impl SimState {
    /// Start an episode.
    pub fn new(scenario: Arc<Scenario>, seed: u64) -> Result<Self> {
        let layout = generate(&scenario, seed)?;
        let agent = layout.spawn;
        let progress = Progress::start(scenario.task.success.as_ref());
        let mut s = Self { scenario, seed, layout, agent, held: None, step: 0, over: false, success: false, progress };
        s.success = s.advance_task();
        Ok(s)
    }

    /// Apply one action and advance the episode.
    pub fn step(&mut self, action: Action) -> StepEffect {
        let spec = &self.scenario.agent;
        let step_len = spec.move_step;
        let turn = spec.turn_step_deg.to_radians();
        let (fx, fz) = self.agent.forward();
        let (rx, rz) = self.agent.right();
        match action {
            Action::Noop | Action::Done => {}
            Action::Forward => self.try_pose(Pose { x: self.agent.x + fx * step_len, z: self.agent.z + fz * step_len, ..self.agent }),
            Action::Back => self.try_pose(Pose { x: self.agent.x - fx * step_len, z: self.agent.z - fz * step_len, ..self.agent }),
            Action::StrafeRight => self.try_pose(Pose { x: self.agent.x + rx * step_len, z: self.agent.z + rz * step_len, ..self.agent }),
            Action::StrafeLeft => self.try_pose(Pose { x: self.agent.x - rx * step_len, z: self.agent.z - rz * step_len, ..self.agent }),
            Action::TurnLeft => self.try_pose(Pose { yaw: wrap_angle(self.agent.yaw + turn), ..self.agent }),
            Action::TurnRight => self.try_pose(Pose { yaw: wrap_angle(self.agent.yaw - turn), ..self.agent }),
            Action::PickUp => self.pick_up(),
            Action::Drop => self.drop_held(),
            Action::Toggle => self.toggle(),
        }
        self.roll_balls();
        self.step += 1;
        self.success = self.advance_task();
        let failed = self.scenario.task.failure.as_ref().is_some_and(|f| f.holds(&*self));
        let max = self.scenario.max_steps;
        let terminated = self.success || failed || action == Action::Done;
        let truncated = !terminated && self.step >= max;
        self.over = terminated || truncated;
        let reward = self.scenario.task.reward.of(self.success, failed, self.step, max);
        StepEffect { reward, terminated, truncated }
    }

    /// Move to `pose` if the body (and any carried object) stays inside the room and clear of objects.
    fn try_pose(&mut self, pose: Pose) {
        if self.pose_is_free(&pose) {
            self.agent = pose;
            if let Some(h) = self.held {
                let p = self.carry_position(&pose, h);
                self.layout.objects[h].pos = p;
            }
        }
    }

    /// Advance every moving object by its velocity, in index order. A ball that would leave the
    /// room or touch a body bounces (its velocity is reflected) and stays put this step.
    fn roll_balls(&mut self) {
        let r = self.scenario.agent.radius;
        for i in 0..self.layout.objects.len() {
            let o = &self.layout.objects[i];
            if o.velocity == (0.0, 0.0) || self.held == Some(i) {
                continue;
            }
            let (mut vx, mut vz) = o.velocity;
            let next = (o.pos.0 + vx, o.pos.1 + vz);
            let room = &self.layout.room;
            let mut blocked = false;
            if next.0.abs() > room.width / 2.0 - o.extent.radius {
                vx = -vx;
                blocked = true;
            }
            if next.1.abs() > room.depth / 2.0 - o.extent.radius {
                vz = -vz;
                blocked = true;
            }
            if !blocked && !room.contains_circle(next.0, next.1, o.extent.radius) {
                // An interior wall: they all run along z, so bounce in x.
                vx = -vx;
                blocked = true;
            }
            if !blocked {
                let mut bodies: Vec<((f32, f32), f32)> =
                    self.layout.objects.iter().enumerate().filter(|(j, b)| *j != i && b.obstacle()).map(|(_, b)| (b.pos, b.extent.radius)).collect();
                bodies.push(((self.agent.x, self.agent.z), r));
                if let Some((c, _)) = bodies.into_iter().find(|(c, cr)| dist(next, *c) < o.extent.radius + cr) {
                    // Reflect about the line joining the centres.
                    let (nx, nz) = (o.pos.0 - c.0, o.pos.1 - c.1);
                    let len = (nx * nx + nz * nz).sqrt().max(1e-6);
                    let (nx, nz) = (nx / len, nz / len);
                    let dot = vx * nx + vz * nz;
                    if dot < 0.0 {
                        vx -= 2.0 * dot * nx;
                        vz -= 2.0 * dot * nz;
                    }
                    blocked = true;
                }
            }
            let o = &mut self.layout.objects[i];
            o.velocity = (vx, vz);
            if !blocked {
                o.pos = next;
            }
        }
    }

    /// Whether the agent could stand at `pose` with what it carries.
    pub fn pose_is_free(&self, pose: &Pose) -> bool {
        let r = self.scenario.agent.radius;
        if !self.layout.circle_is_free((pose.x, pose.z), r, self.held) {
            return false;
        }
        match self.held {
            Some(h) => {
                let p = self.carry_position(pose, h);
                self.layout.carry_is_free(p, self.layout.objects[h].extent.radius, Some(h))
            }
            None => true,
        }
    }


    fn carry_position(&self, pose: &Pose, h: usize) -> (f32, f32) {
        let d = self.scenario.agent.radius + self.layout.objects[h].extent.radius + CARRY_GAP;
        let (fx, fz) = pose.forward();
        (pose.x + fx * d, pose.z + fz * d)
    }

    fn pick_up(&mut self) {
        if self.held.is_some() {
            return;
        }
        let a = self.agent;
        // Boxes stay where they are; what an open box held can be taken from it.
        let best = self.in_reach(|o| o.solid() && !matches!(o.shape, Shape::Box | Shape::Switch));
        if let Some(i) = best {
            let p = self.carry_position(&a, i);
            // Only lift it if it fits in front of the agent without hitting anything else.
            if self.layout.carry_is_free(p, self.layout.objects[i].extent.radius, Some(i)) {
                self.held = Some(i);
                self.layout.objects[i].pos = p;
                self.layout.objects[i].lift = CARRY_LIFT;
            }
        }
    }

    /// The nearest object that `which` accepts within reach in front of the agent.
    fn in_reach(&self, which: impl Fn(&PlacedObject) -> bool) -> Option<usize> {
        let r = self.scenario.agent.radius;
        let a = self.agent;
        let (fx, fz) = a.forward();
        self.layout
            .objects
            .iter()
            .enumerate()
            .filter(|(_, o)| which(o))
            .filter_map(|(i, o)| {
                let gap = dist((a.x, a.z), o.pos) - r - self.reach_radius(i);
                (gap <= REACH && facing(a, (fx, fz), o.pos)).then_some((i, gap))
            })
            .min_by(|x, y| x.1.total_cmp(&y.1))
            .map(|(i, _)| i)
    }

    /// How far beyond its body the agent reaches to toggle: [`REACH`], and what it carries
    /// reaches further (a key is put to the lock at arm's length).
    pub fn toggle_reach(&self) -> f32 {
        REACH + self.held.map_or(0.0, |h| 2.0 * self.layout.objects[h].extent.radius + CARRY_GAP)
    }

    /// The door the agent looks at within reach: the interior wall it hangs in and the gap from
    /// the body to the wall along the line of sight. Looked at means the line straight ahead
    /// meets the wall inside the doorway.
    fn door_in_reach(&self) -> Option<(usize, f32)> {
        let r = self.scenario.agent.radius;
        let a = self.agent;
        let (fx, fz) = a.forward();
        self.layout
            .room
            .inner_walls
            .iter()
            .enumerate()
            .filter(|(_, w)| w.gate.is_door() && fx.abs() > 1e-3)
            .filter_map(|(k, w)| {
                let t = (w.x - a.x) / fx;
                let z = a.z + t * fz;
                let gap = ((w.x - a.x).abs() - INNER_WALL / 2.0) / fx.abs() - r;
                (t > 0.0 && gap <= self.toggle_reach() && z >= w.door.0 && z <= w.door.1).then_some((k, gap))
            })
            .min_by(|x, y| x.1.total_cmp(&y.1))
    }

    /// Operate the nearest door or closed box in front of the agent, within reach.
    fn toggle(&mut self) {
        let thing = self
            .in_reach(|o| o.solid() && ((o.shape == Shape::Box && !o.open) || o.shape == Shape::Switch))
            .map(|i| (i, self.gap_to(i)));
        let door = self.door_in_reach();
        match (thing, door) {
            (Some((i, gi)), Some((_, gd))) if gi <= gd => self.operate_object(i),
            (Some((i, _)), None) => self.operate_object(i),
            (_, Some((k, _))) => self.operate_door(k),
            (None, None) => {}
        }
    }

    fn operate_object(&mut self, i: usize) {
        match self.layout.objects[i].shape {
            Shape::Box => self.open_box(i),
            Shape::Switch => self.throw_switch(i),
            _ => {}
        }
    }

    /// Throw switch `i`: the light goes on (or off), its barred doors open, or, thrown back, bar
    /// again (unless a body stands in a doorway: then the doors and the switch stay).
    fn throw_switch(&mut self, i: usize) {
        let on = !self.layout.objects[i].open;
        if self.layout.light_switches.contains(&i) {
            self.layout.lit = on;
        }
        let walls: Vec<usize> = self.layout.switches.iter().filter(|(o, _)| *o == i).map(|(_, k)| *k).collect();
        let before: Vec<Gate> = walls.iter().map(|k| self.layout.room.inner_walls[*k].gate).collect();
        for k in &walls {
            let gate = &mut self.layout.room.inner_walls[*k].gate;
            *gate = if on { Gate::Open } else { Gate::Barred };
        }
        if !on && self.doorways_blocked() {
            for (k, g) in walls.iter().zip(before) {
                self.layout.room.inner_walls[*k].gate = g;
            }
            return;
        }
        self.layout.objects[i].open = on;
    }

    /// Whether the agent or a solid object stands where a shut door is.
    fn doorways_blocked(&self) -> bool {
        let room = &self.layout.room;
        !room.contains_circle(self.agent.x, self.agent.z, self.scenario.agent.radius)
            || self.layout.objects.iter().any(|o| o.solid() && !room.contains_circle(o.pos.0, o.pos.1, o.extent.radius))
    }

    /// Open box `b`: what it held rests on its floor, in view, and can be taken from it.
    fn open_box(&mut self, b: usize) {
        self.layout.objects[b].open_box();
        let floor = self.layout.objects[b].extent.height;
        for o in &mut self.layout.objects {
            if o.inside == Some(b) {
                o.inside = None;
                o.lift = floor;
            }
        }
    }

    /// The open box object `i` rests in, if any.
    pub fn resting_in(&self, i: usize) -> Option<usize> {
        let o = &self.layout.objects[i];
        if o.shape == Shape::Box || self.held == Some(i) {
            return None;
        }
        self.layout.objects.iter().position(|b| b.shape == Shape::Box && b.open && dist(b.pos, o.pos) < 1e-4)
    }

    /// How wide object `i` is to reach for: its own footprint, or the open box's it rests in.
    pub fn reach_radius(&self, i: usize) -> f32 {
        let own = self.layout.objects[i].extent.radius;
        self.resting_in(i).map_or(own, |b| own.max(self.layout.objects[b].extent.radius))
    }

    /// Gap between the agent's body and what it reaches across for object `i` ([`Self::reach_radius`]).
    pub fn reach_gap(&self, i: usize) -> f32 {
        dist((self.agent.x, self.agent.z), self.layout.objects[i].pos) - self.scenario.agent.radius - self.reach_radius(i)
    }

    /// Open a closed door; close an open one unless a body stands in the doorway; open a locked
    /// one when the agent carries a key of its colour, which stays in the lock.
    fn operate_door(&mut self, k: usize) {
        let gate = self.layout.room.inner_walls[k].gate;
        match gate {
            // A barred door opens only from its switch; one a switch opened closes only from it.
            Gate::None | Gate::Barred => {}
            Gate::Open if self.layout.switches.iter().any(|(_, w)| *w == k) => {}
            Gate::Closed => self.layout.room.inner_walls[k].gate = Gate::Open,
            Gate::Open => {
                self.layout.room.inner_walls[k].gate = Gate::Closed;
                if self.doorways_blocked() {
                    self.layout.room.inner_walls[k].gate = Gate::Open;
                }
            }
            Gate::Locked(color) => {
                if let Some(h) = self.held
                    && self.layout.objects[h].shape == Shape::Key
                    && self.layout.objects[h].color == color
                {
                    self.layout.room.inner_walls[k].gate = Gate::Open;
                    let w = self.layout.room.inner_walls[k];
                    let key = &mut self.layout.objects[h];
                    key.used = true;
                    key.pos = (w.x, (w.door.0 + w.door.1) / 2.0);
                    key.lift = 0.0;
                    self.held = None;
                }
            }
        }
    }

    fn drop_held(&mut self) {
        if let Some(h) = self.held.take() {
            self.layout.objects[h].lift = 0.0;
        }
    }

    /// Mark the subgoals that hold now as done, then say whether the task has succeeded.
    fn advance_task(&mut self) -> bool {
        let scenario = Arc::clone(&self.scenario);
        let Some(success) = &scenario.task.success else {
            return false;
        };
        // Taken out for the update, since the state itself is the world the subgoals look at.
        match self.progress.take() {
            Some(mut p) => {
                let done = p.advance(success, &*self);
                self.progress = Some(p);
                done
            }
            None => success.holds(&*self),
        }
    }

    /// The true answer to the scenario's question, from where the agent stands now.
    pub fn true_answer(&self) -> Option<String> {
        self.scenario.task.answer.as_ref().and_then(|a| a.compute(&self.layout, &self.agent))
    }

    /// Answer the question: the episode terminates, successfully if the answer is right.
    pub fn answer(&mut self, word: &str) -> StepEffect {
        self.step += 1;
        self.success = self.true_answer().is_some_and(|t| t == word);
        self.over = true;
        let max = self.scenario.max_steps;
        let reward = self.scenario.task.reward.of(self.success, !self.success, self.step, max);
        StepEffect { reward, terminated: true, truncated: false }
    }

    /// Gap between the agent's body and an object's footprint.
    pub fn gap_to(&self, i: usize) -> f32 {
        let o = &self.layout.objects[i];
        dist((self.agent.x, self.agent.z), o.pos) - self.scenario.agent.radius - o.extent.radius
    }

    /// Ground truth for the current state.
    pub fn info(&self) -> Info {
        let objects = self
            .layout
            .objects
            .iter()
            .enumerate()
            .map(|(id, o)| ObjectInfo {
                id,
                shape: o.shape,
                color: o.color,
                size: o.size,
                position: [o.pos.0, o.lift, o.pos.1],
                velocity: [o.velocity.0, o.velocity.1],
                visible: self.is_visible(id),
                open: o.open,
                inside: o.inside,
                used: o.used,
            })
            .collect();
        Info {
            scenario: self.scenario.name.clone(),
            seed: self.seed,
            step: self.step,
            success: self.success,
            target: self.layout.target(),
            roles: self.layout.roles.iter().cloned().collect(),
            answer: self.true_answer(),
            held: self.held,
            pose: self.agent,
            objects,
            progress: self.progress.clone(),
            doors: self
                .layout
                .doors
                .iter()
                .map(|(name, k)| {
                    let w = &self.layout.room.inner_walls[*k];
                    DoorInfo { name: name.clone(), x: w.x, span: [w.door.0, w.door.1], gate: w.gate }
                })
                .collect(),
        }
    }

    /// The camera's eye position, as (x, y, z).
    pub fn eye(&self) -> [f32; 3] {
        [self.agent.x, self.scenario.agent.eye_height, self.agent.z]
    }

    /// Whether object `i`'s centre is in the view frustum and not hidden behind another object.
    pub fn is_visible(&self, i: usize) -> bool {
        visible(&self.layout.room, &self.layout.objects, &self.scenario.agent, &self.agent, i)
    }
}

impl World for SimState {
    fn role(&self, name: &str) -> Option<usize> {
        self.layout.role(name)
    }

    fn gap(&self, a: &Subject, b: &Subject) -> Option<f32> {
        let body = |s: &Subject| -> Option<((f32, f32), f32)> {
            match s {
                Subject::Agent => Some(((self.agent.x, self.agent.z), self.scenario.agent.radius)),
                // Nothing is near an object shut in a box.
                Subject::Object(n) => self.layout.role(n).filter(|i| self.layout.objects[*i].solid()).map(|i| {
                    let o = &self.layout.objects[i];
                    (o.pos, o.extent.radius)
                }),
            }
        };
        let (pa, ra) = body(a)?;
        let (pb, rb) = body(b)?;
        Some(dist(pa, pb) - ra - rb)
    }

    fn held(&self) -> Option<usize> {
        self.held
    }

    fn visible(&self, object: usize) -> bool {
        self.is_visible(object)
    }

    fn is_open(&self, name: &str) -> Option<bool> {
        if let Some(k) = self.layout.door(name) {
            return Some(self.layout.room.inner_walls[k].gate == Gate::Open);
        }
        let o = &self.layout.objects[self.layout.role(name)?];
        matches!(o.shape, Shape::Box | Shape::Switch).then_some(o.open)
    }

    fn is_unlocked(&self, door: &str) -> Option<bool> {
        let k = self.layout.door(door)?;
        Some(!matches!(self.layout.room.inner_walls[k].gate, Gate::Locked(_)))
    }

    fn inside(&self, object: usize) -> Option<usize> {
        self.layout.objects.get(object)?.inside
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn state(seed: u64) -> SimState {
        let sc = Arc::new(Scenario::load("go_to_object").expect("builtin"));
        SimState::new(sc, seed).expect("gen")
    }

    #[test]
    fn random_walk_never_leaves_room_or_enters_objects() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for seed in 0..20 {
            let mut s = state(seed);
            for _ in 0..1000 {
                let a = Action::RANDOM[rng.random_range(0..Action::RANDOM.len())];
                s.step(a);
                let r = s.scenario.agent.radius;
                assert!(s.layout.room.contains_circle(s.agent.x, s.agent.z, r));
                for (i, o) in s.layout.objects.iter().enumerate() {
                    if Some(i) != s.held {
                        assert!(dist((s.agent.x, s.agent.z), o.pos) >= r + o.extent.radius - 1e-4);
                    }
                }
            }
        }
    }

    #[test]
    fn balls_roll_bounce_and_never_overlap_anything() {
        let sc = Arc::new(Scenario::load("moving_balls").expect("builtin"));
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for seed in 0..10 {
            let mut s = SimState::new(sc.clone(), seed).expect("gen");
            let start: Vec<(f32, f32)> = s.layout.objects.iter().map(|o| o.pos).collect();
            assert!(s.layout.objects.iter().filter(|o| o.velocity != (0.0, 0.0)).count() >= 2);
            for _ in 0..500 {
                if s.over {
                    break;
                }
                s.step(Action::ALL[rng.random_range(0..7)]);
                let objs = &s.layout.objects;
                for (i, a) in objs.iter().enumerate() {
                    assert!(s.layout.room.contains_circle(a.pos.0, a.pos.1, a.extent.radius - 1e-4));
                    assert!(dist(a.pos, (s.agent.x, s.agent.z)) >= a.extent.radius + s.scenario.agent.radius - 1e-4);
                    for b in &objs[i + 1..] {
                        assert!(dist(a.pos, b.pos) >= a.extent.radius + b.extent.radius - 1e-4);
                    }
                }
            }
            let moved = s.layout.objects.iter().zip(&start).filter(|(o, p)| o.pos != **p).count();
            assert!(moved >= 1, "seed {seed}: nothing moved");
        }
    }

    #[test]
    fn turning_changes_only_heading() {
        let mut s = state(1);
        let before = s.agent;
        s.step(Action::TurnLeft);
        assert_eq!((s.agent.x, s.agent.z), (before.x, before.z));
        assert!((wrap_angle(s.agent.yaw - before.yaw) - 15f32.to_radians()).abs() < 1e-5);
    }

    #[test]
    fn truncates_at_max_steps() {
        let mut s = state(2);
        let max = s.scenario.max_steps;
        for k in 1..=max {
            let o = s.step(Action::Noop);
            assert_eq!(o.truncated, k == max);
            assert!(!o.terminated);
        }
        assert!(s.over);
    }

    #[test]
    fn done_terminates_without_reward() {
        let mut s = state(3);
        let o = s.step(Action::Done);
        assert!(o.terminated && !o.truncated);
        assert_eq!(o.reward, 0.0);
    }

    /// Stand the agent 0.2 m from object `i`, wherever around it there is room.
    fn stand_near(s: &mut SimState, i: usize) {
        let (c, reach) = (s.layout.objects[i].pos, s.scenario.agent.radius + s.layout.objects[i].extent.radius + 0.2);
        let pose = (0..72)
            .map(|k| k as f32 * 5f32.to_radians())
            .map(|t| Pose { x: c.0 + reach * t.cos(), z: c.1 + reach * t.sin(), yaw: 0.0 })
            .find(|p| s.pose_is_free(p))
            .expect("room beside the object");
        s.agent = pose;
    }

    #[test]
    fn a_sequence_ignores_step_two_before_step_one_and_succeeds_after_the_last() {
        let sc = Arc::new(Scenario::load("go_to_then_pick_up").expect("builtin"));
        let mut s = SimState::new(sc, 4).expect("gen");
        let (a, b) = (s.layout.role("a").expect("a"), s.layout.role("b").expect("b"));
        assert_eq!(s.info().progress.map(|p| p.done), Some(vec![false, false]));
        // Step 2 (holding b) before step 1: not counted.
        s.held = Some(b);
        let o = s.step(Action::Noop);
        assert!(!o.terminated && !s.success);
        assert_eq!(s.progress.as_ref().map(|p| p.current()), Some(0));
        s.held = None;
        // Step 1: near a.
        stand_near(&mut s, a);
        let o = s.step(Action::Noop);
        assert!(!o.terminated && !s.success);
        assert_eq!(s.info().progress.map(|p| p.current()), Some(1));
        // Leaving a keeps step 1 done; step 2 then ends the episode with success.
        stand_near(&mut s, b);
        s.held = Some(b);
        let o = s.step(Action::Noop);
        assert!(o.terminated && s.success && o.reward > 0.0);
        assert_eq!(s.info().progress.map(|p| p.done), Some(vec![true, true]));
    }

    #[test]
    fn a_conjunction_over_time_succeeds_once_both_have_held_in_either_order() {
        let sc = Arc::new(Scenario::load("go_to_both").expect("builtin"));
        for first in ["a", "b"] {
            let second = if first == "a" { "b" } else { "a" };
            let mut s = SimState::new(sc.clone(), 6).expect("gen");
            let (i, j) = (s.layout.role(first).expect("role"), s.layout.role(second).expect("role"));
            stand_near(&mut s, i);
            assert!(!s.step(Action::Noop).terminated, "{first} alone is not enough");
            stand_near(&mut s, j);
            assert!(s.step(Action::Noop).terminated && s.success, "{first} then {second}");
        }
    }

    /// The unlock_door world of `seed` cut down to the target and the two keys: the agent stands
    /// 0.9 m before the middle of the doorway, facing it, the target 1.2 m beyond, in line.
    fn at_locked_door(seed: u64) -> (SimState, usize, usize, usize) {
        let sc = Arc::new(Scenario::load("unlock_door").expect("builtin"));
        let mut s = SimState::new(sc, seed).expect("gen");
        let keep = ["target", "key", "other_key"].map(|r| s.layout.role(r).expect("role"));
        s.layout.objects = keep.iter().map(|&i| s.layout.objects[i].clone()).collect();
        s.layout.roles = vec![("target".into(), 0), ("key".into(), 1), ("other_key".into(), 2)];
        let w = s.layout.room.inner_walls[0];
        let zc = (w.door.0 + w.door.1) / 2.0;
        s.agent = Pose { x: w.x - 0.9, z: zc, yaw: crate::world::geometry::heading((w.x - 0.9, zc), (w.x, zc)) };
        s.layout.objects[0].pos = (w.x + 1.2, zc);
        (s, 0, 1, 2)
    }

    /// Carry key `k`: put it down just in front of the agent and pick it up.
    fn carry(s: &mut SimState, k: usize) {
        let (fx, fz) = s.agent.forward();
        let d = s.scenario.agent.radius + s.layout.objects[k].extent.radius + 0.1;
        s.layout.objects[k].pos = (s.agent.x + fx * d, s.agent.z + fz * d);
        s.step(Action::PickUp);
        assert_eq!(s.held, Some(k), "picked up key {k}");
    }

    #[test]
    fn a_locked_door_blocks_the_way_and_the_view_until_the_right_key_opens_it() {
        for seed in 0..5 {
            let (mut s, target, key, other) = at_locked_door(seed);
            let wall = s.layout.room.inner_walls[0];
            assert!(matches!(wall.gate, Gate::Locked(c) if c == s.layout.objects[key].color) && s.layout.objects[other].color != s.layout.objects[key].color);
            assert!(!s.is_visible(target), "seed {seed}: seen through a locked door");
            // Walking into it: the agent stops before the wall.
            let start = s.agent;
            for _ in 0..6 {
                s.step(Action::Forward);
            }
            assert!(s.agent.x < wall.x - s.scenario.agent.radius, "seed {seed}: walked through a locked door");
            s.agent = start;
            // Toggling with nothing in hand, and with the wrong key, does nothing.
            s.step(Action::Toggle);
            assert_eq!(s.layout.room.inner_walls[0].gate, wall.gate, "seed {seed}: opened without a key");
            carry(&mut s, other);
            s.step(Action::Toggle);
            assert_eq!(s.layout.room.inner_walls[0].gate, wall.gate, "seed {seed}: the wrong key opened it");
            assert_eq!(s.held, Some(other), "the wrong key stays in hand");
            // The right key opens it and stays in the lock.
            s.step(Action::Drop);
            s.layout.objects[other].pos = (s.agent.x - 1.0, s.agent.z);
            carry(&mut s, key);
            s.step(Action::Toggle);
            assert_eq!(s.layout.room.inner_walls[0].gate, Gate::Open, "seed {seed}: the right key did not open it");
            assert_eq!(s.held, None);
            assert!(s.layout.objects[key].used && !s.layout.objects[key].solid());
            assert!(s.is_visible(target), "seed {seed}: the open doorway still hides the target");
            for _ in 0..8 {
                s.step(Action::Forward);
            }
            assert!(s.agent.x > wall.x, "seed {seed}: could not walk through the open door");
        }
    }

    #[test]
    fn a_closed_door_opens_and_closes_but_not_on_the_agent() {
        let sc = Arc::new(Scenario::load("open_door_go_to").expect("builtin"));
        let mut s = SimState::new(sc, 3).expect("gen");
        let w = s.layout.room.inner_walls[0];
        let zc = (w.door.0 + w.door.1) / 2.0;
        let target = s.layout.role("target").expect("target");
        s.layout.objects = vec![s.layout.objects[target].clone()];
        s.layout.roles = vec![("target".into(), 0)];
        s.layout.objects[0].pos = (w.x + 2.0, zc);
        s.agent = Pose { x: w.x - 0.6, z: zc, yaw: crate::world::geometry::heading((w.x - 0.6, zc), (w.x, zc)) };
        assert_eq!(w.gate, Gate::Closed);
        assert_eq!(s.is_open("door"), Some(false));
        s.step(Action::Toggle);
        assert_eq!(s.is_open("door"), Some(true));
        s.step(Action::Toggle);
        assert_eq!(s.is_open("door"), Some(false), "toggle closes an open door");
        s.step(Action::Toggle);
        // With something in the doorway, the door will not close on it.
        s.layout.objects[0].pos = (w.x, zc);
        s.step(Action::Toggle);
        assert_eq!(s.is_open("door"), Some(true), "closed on an object in the doorway");
        // Close beside the wall but looking along it at the doorway: out of reach.
        s.layout.objects[0].pos = (w.x + 2.0, zc);
        s.step(Action::Toggle);
        assert_eq!(s.is_open("door"), Some(false));
        // Towards the far end of the wall from the doorway: at least 1.5 m along it.
        let z = if zc > 0.0 { zc - 1.5 } else { zc + 1.5 };
        s.agent = Pose { x: w.x - 0.4, z, yaw: crate::world::geometry::heading((w.x - 0.4, z), (w.x, zc)) };
        assert!(s.pose_is_free(&s.agent));
        s.step(Action::Toggle);
        assert_eq!(s.is_open("door"), Some(false), "worked a door 1.5 m off along the wall");
    }

    #[test]
    fn a_barred_door_opens_and_bars_again_only_from_its_switch() {
        let sc = Arc::new(Scenario::load("switch_door").expect("builtin"));
        let mut s = SimState::new(sc, 2).expect("gen");
        let w = s.layout.room.inner_walls[0];
        let zc = (w.door.0 + w.door.1) / 2.0;
        let lever = s.layout.role("lever").expect("lever");
        let target = s.layout.role("target").expect("target");
        s.layout.objects = vec![s.layout.objects[lever].clone(), s.layout.objects[target].clone()];
        s.layout.roles = vec![("lever".into(), 0), ("target".into(), 1)];
        s.layout.switches = vec![(0, 0)];
        s.layout.objects[1].pos = (w.x + 1.5, zc);
        // Facing the door: toggling it by hand does nothing.
        s.agent = Pose { x: w.x - 0.9, z: zc, yaw: crate::world::geometry::heading((w.x - 0.9, zc), (w.x, zc)) };
        assert_eq!(w.gate, Gate::Barred);
        s.step(Action::Toggle);
        assert_eq!(s.layout.room.inner_walls[0].gate, Gate::Barred, "opened by hand");
        assert!(!s.is_visible(1));
        // Facing the switch, 0.3 m away: toggle throws it and the door opens; again, it bars.
        let at = (s.agent.x, s.agent.z + 0.3 + s.scenario.agent.radius + s.layout.objects[0].extent.radius);
        s.layout.objects[0].pos = at;
        s.agent.yaw = crate::world::geometry::heading((s.agent.x, s.agent.z), at);
        s.step(Action::Toggle);
        assert!(s.layout.objects[0].open && s.layout.room.inner_walls[0].gate == Gate::Open);
        assert_eq!(s.is_open("lever"), Some(true));
        s.step(Action::Toggle);
        assert!(!s.layout.objects[0].open && s.layout.room.inner_walls[0].gate == Gate::Barred);
    }

    #[test]
    fn a_light_switch_lights_the_dark_room_and_dims_it_again() {
        let sc = Arc::new(Scenario::load("lights_on").expect("builtin"));
        let mut s = SimState::new(sc, 4).expect("gen");
        let switch = s.layout.role("switch").expect("switch");
        assert!(!s.layout.lit && s.layout.light().ambient < s.layout.lighting.ambient * 0.2);
        let (fx, fz) = s.agent.forward();
        let d = s.scenario.agent.radius + s.layout.objects[switch].extent.radius + 0.2;
        let at = (s.agent.x + fx * d, s.agent.z + fz * d);
        s.layout.objects.retain(|o| o.shape == Shape::Switch);
        s.layout.objects[0].pos = at;
        s.layout.light_switches = vec![0];
        s.layout.roles = vec![("switch".into(), 0)];
        s.step(Action::Toggle);
        assert!(s.layout.lit && s.layout.light() == s.layout.lighting);
        assert_eq!(s.is_open("switch"), Some(true));
        s.step(Action::Toggle);
        assert!(!s.layout.lit);
    }
}
