//! Why an episode failed, read from the env's ground truth as it is played: whether the target
//! was ever in view, where the agent ended, and whether it stood still at the end; for a
//! question, whether it was answered and what was in view then. `eval` writes one diagnosis per
//! episode and counts them per scenario, so a success rate comes with the kinds of failure behind
//! it.

use std::collections::{BTreeMap, HashMap};

use sandtable_env::task::Answer;
use sandtable_env::{Decision, Info, ObjectInfo, Transition};
use serde::{Deserialize, Serialize};

/// An object this close (centre to centre, metres) to the agent at the end is the one it went to.
const BESIDE: f32 = 1.0;
/// A pose that moves less than this (metres, radians) between rows has not moved.
const STILL: f32 = 1e-3;
/// Standing still for this many decisions at the end is being stuck.
const STUCK: u32 = 10;

/// How a failed episode with a target object went wrong, the first that applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// The target was still shut in its box at the end.
    TargetInBox,
    /// It ended with a shut door (closed, locked or barred) between it and the target.
    DoorShut,
    /// It ended holding another object than the target.
    HeldWrongObject,
    /// It ended beside another object than the target, having walked up to it (it started more
    /// than [`BESIDE`] away from it).
    WrongObject,
    /// The target was never in view.
    NeverSawTarget,
    /// It saw the target but stood still for its last decisions, pressing against something.
    Stuck,
    /// It saw the target, kept moving and ended neither at it nor at an object it walked up to.
    Lost,
    /// A question: the episode ended without an answer (at the step limit, or by `done`).
    Unanswered,
    /// A question about one object, answered with a word of another kind than it asks for (a
    /// colour to a size question).
    WrongKindOfWord,
    /// A question about one object, answered wrongly while that object was out of view.
    AnsweredUnseen,
    /// A question about one object, answered in its view with what another object in view is
    /// (its colour, for a colour question): it looked at the wrong object.
    DescribedOtherObject,
    /// A question about one object, answered in its view with a word that fits no object in view.
    Misread,
    /// A question about several objects (a count, a comparison), answered wrongly.
    WrongAnswer,
}

/// What the other object an episode ended at shares with the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shares {
    /// Its colour.
    Color,
    /// Its shape.
    Shape,
    /// Neither.
    Neither,
}

/// One episode's diagnosis; only episodes whose scenario names a target object get one (for a
/// question, the object of its first role).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// First row at which the target was in view (`None`: never).
    pub target_seen_at: Option<u32>,
    /// Centre distance from the agent to the target at the end (for a question, where it was
    /// answered), metres.
    pub final_distance: f32,
    /// Decisions at the end during which the agent's pose did not change.
    pub still_at_end: u32,
    /// For a failure: its kind.
    pub failure: Option<Failure>,
    /// For a wrong object, held or beside: what it shares with the target.
    pub wrong_object_shares: Option<Shares>,
}

/// The running trace of one episode.
#[derive(Default)]
struct Trace {
    seen_at: Option<u32>,
    rows: u32,
    still: u32,
    last: Option<(f32, f32, f32)>,
    /// Each object's distance from the agent at the first row.
    start: Vec<f32>,
    /// For a question: the word given. Answering ends the episode and moves nothing, so the last
    /// row's ground truth is what was in view when it was given.
    answer: Option<String>,
}

impl Trace {
    /// Follow one more row.
    fn observe(&mut self, info: &Info) {
        if self.rows == 0 {
            self.start = info.objects.iter().map(|o| distance(info, o)).collect();
        }
        if self.seen_at.is_none() && info.objects.get(info.target).is_some_and(|o| o.visible) {
            self.seen_at = Some(self.rows);
        }
        let pose = (info.pose.x, info.pose.z, info.pose.yaw);
        let moved = self.last.is_none_or(|p| (p.0 - pose.0).abs().max((p.1 - pose.1).abs()).max((p.2 - pose.2).abs()) > STILL);
        self.still = if moved { 0 } else { self.still + 1 };
        self.last = Some(pose);
        self.rows += 1;
    }
}

/// Diagnoses episodes from their transitions, which may interleave.
#[derive(Default)]
pub struct Diagnoser {
    open: HashMap<u64, Trace>,
}

impl Diagnoser {
    /// Add a row; returns the episode's diagnosis at its last row (`None` for an episode without
    /// a target object, and before the end).
    pub fn push(&mut self, t: &Transition) -> Option<Diagnosis> {
        let trace = self.open.entry(t.episode).or_default();
        trace.observe(&t.info);
        if let Some(Decision::Answer(word)) = &t.decision {
            trace.answer = Some(word.clone());
        }
        if !t.is_last() {
            return None;
        }
        let trace = self.open.remove(&t.episode)?;
        if t.info.roles.is_empty() {
            return None;
        }
        match &t.scenario.task.answer {
            Some(question) => diagnose_answer(question, &t.info, &trace),
            None => diagnose(&t.info, &trace),
        }
    }
}

fn distance(info: &Info, o: &ObjectInfo) -> f32 {
    (o.position[0] - info.pose.x).hypot(o.position[2] - info.pose.z)
}

/// The diagnosis of an episode whose last row is `info`; `None` if its target is not an object.
fn diagnose(info: &Info, trace: &Trace) -> Option<Diagnosis> {
    let target = info.objects.get(info.target)?;
    let held_other = info.held.filter(|&h| h != target.id).and_then(|h| info.objects.get(h));
    let nearest = info.objects.iter().filter(|o| info.held != Some(o.id)).min_by(|a, b| distance(info, a).total_cmp(&distance(info, b)));
    let approached = |o: &ObjectInfo| trace.start.get(o.id).is_some_and(|&d| d > BESIDE);
    let beside_other = nearest.filter(|o| o.id != target.id && distance(info, o) <= BESIDE && approached(o));
    let other = held_other.or(beside_other);
    let door_shut = info.doors.iter().any(|d| !d.gate.passable() && (info.pose.x - d.x) * (target.position[0] - d.x) < 0.0);
    let failure = if info.success {
        None
    } else if target.inside.is_some() {
        Some(Failure::TargetInBox)
    } else if door_shut {
        Some(Failure::DoorShut)
    } else if held_other.is_some() {
        Some(Failure::HeldWrongObject)
    } else if beside_other.is_some() {
        Some(Failure::WrongObject)
    } else if trace.seen_at.is_none() {
        Some(Failure::NeverSawTarget)
    } else if trace.still >= STUCK {
        Some(Failure::Stuck)
    } else {
        Some(Failure::Lost)
    };
    let wrong = matches!(failure, Some(Failure::HeldWrongObject | Failure::WrongObject));
    let shares = other.filter(|_| wrong).map(|o| match (o.color == target.color, o.shape == target.shape) {
        (true, _) => Shares::Color,
        (false, true) => Shares::Shape,
        (false, false) => Shares::Neither,
    });
    Some(Diagnosis { target_seen_at: trace.seen_at, final_distance: distance(info, target), still_at_end: trace.still, failure, wrong_object_shares: shares })
}

/// The diagnosis of a question episode whose last row is `info`; `None` if its first role is not
/// an object.
fn diagnose_answer(question: &Answer, info: &Info, trace: &Trace) -> Option<Diagnosis> {
    let target = info.objects.get(info.target)?;
    let failure = match &trace.answer {
        _ if info.success => None,
        None => Some(Failure::Unanswered),
        Some(word) => match question.subject().and_then(|role| info.roles.get(role)).and_then(|&i| info.objects.get(i)) {
            None => Some(Failure::WrongAnswer),
            Some(_) if !question.words().contains(&word.as_str()) => Some(Failure::WrongKindOfWord),
            Some(subject) if !subject.visible => Some(Failure::AnsweredUnseen),
            Some(subject) => {
                let other = info.objects.iter().filter(|o| o.id != subject.id && o.visible).find(|o| question.describe(o.color, o.shape, o.size) == Some(word.as_str()));
                Some(if other.is_some() { Failure::DescribedOtherObject } else { Failure::Misread })
            }
        },
    };
    Some(Diagnosis { target_seen_at: trace.seen_at, final_distance: distance(info, target), still_at_end: trace.still, failure, wrong_object_shares: None })
}

/// Failure counts by kind, with the wrong objects split by what they share with the target.
pub fn tally<'a>(diagnoses: impl Iterator<Item = &'a Diagnosis>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for d in diagnoses {
        let Some(f) = d.failure else { continue };
        let name = serde_json::to_value(f).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        *counts.entry(name.clone()).or_default() += 1;
        if let Some(s) = d.wrong_object_shares {
            let part = serde_json::to_value(s).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            *counts.entry(format!("{name}_sharing_{part}")).or_default() += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use sandtable_env::{ObjectColor, Pose, Shape, Size};

    use super::*;

    fn object(id: usize, color: ObjectColor, shape: Shape, x: f32, visible: bool) -> ObjectInfo {
        ObjectInfo { id, shape, color, size: Size::Small, position: [x, 0.0, 0.0], visible, velocity: [0.0, 0.0], open: false, inside: None, used: false }
    }

    /// The agent at `x` facing along -z; the target (a red cube) at x = 3, a red sphere at x = 0
    /// and a blue cone at x = -3.
    fn row(x: f32, target_visible: bool, held: Option<usize>, success: bool) -> Info {
        Info {
            scenario: "go_to_object".into(),
            seed: 1,
            step: 0,
            success,
            target: 0,
            roles: [("target".to_string(), 0)].into(),
            answer: None,
            held,
            pose: Pose { x, z: 0.5, yaw: 0.0 },
            objects: vec![
                object(0, ObjectColor::Red, Shape::Cube, 3.0, target_visible),
                object(1, ObjectColor::Red, Shape::Sphere, 0.0, false),
                object(2, ObjectColor::Blue, Shape::Cone, -3.0, false),
            ],
            progress: None,
            doors: Vec::new(),
        }
    }

    fn played(rows: &[Info]) -> Diagnosis {
        let mut trace = Trace::default();
        rows.iter().for_each(|r| trace.observe(r));
        diagnose(rows.last().expect("rows"), &trace).expect("a target object")
    }

    #[test]
    fn each_kind_of_failure_is_told_apart() {
        // Walked from the target's side to the red sphere: the wrong object, sharing the colour.
        let d = played(&[row(2.0, true, None, false), row(1.0, false, None, false), row(0.3, false, None, false)]);
        assert_eq!((d.failure, d.wrong_object_shares, d.target_seen_at), (Some(Failure::WrongObject), Some(Shares::Color), Some(0)));
        // Holding the blue cone, wherever it stands, is a wrong pick sharing nothing.
        let d = played(&[row(-1.5, false, Some(2), false), row(-1.5, false, Some(2), false)]);
        assert_eq!((d.failure, d.wrong_object_shares), (Some(Failure::HeldWrongObject), Some(Shares::Neither)));
        // Away from every object without ever seeing the target.
        let d = played(&[row(1.5, false, None, false), row(1.6, false, None, false)]);
        assert_eq!((d.failure, d.target_seen_at), (Some(Failure::NeverSawTarget), None));
        // Saw it, then stood still for the last 12 decisions.
        let mut rows = vec![row(1.4, true, None, false)];
        rows.extend(std::iter::repeat_n(row(1.5, false, None, false), 13));
        let d = played(&rows);
        assert_eq!((d.failure, d.still_at_end), (Some(Failure::Stuck), 12));
        // Started beside the red sphere and dithered there: not a walk to the wrong object.
        let d = played(&[row(0.2, true, None, false), row(0.3, false, None, false)]);
        assert_eq!((d.failure, d.wrong_object_shares), (Some(Failure::Lost), None));
        // Saw it and kept moving: lost.
        let d = played(&[row(1.4, true, None, false), row(1.5, false, None, false), row(1.6, false, None, false)]);
        assert_eq!((d.failure, d.still_at_end), (Some(Failure::Lost), 0));
        // A shut door between it and the target comes first, whatever it holds.
        let mut shut = row(-1.5, false, Some(2), false);
        shut.doors = vec![sandtable_env::DoorInfo { name: "door".into(), x: 1.0, span: [0.0, 1.0], gate: sandtable_env::world::Gate::Closed }];
        let d = played(&[shut.clone()]);
        assert_eq!((d.failure, d.wrong_object_shares), (Some(Failure::DoorShut), None));
        shut.doors[0].gate = sandtable_env::world::Gate::Open;
        assert_eq!(played(&[shut.clone()]).failure, Some(Failure::HeldWrongObject));
        // A target never taken out of its box.
        shut.objects[0].inside = Some(1);
        assert_eq!(played(&[shut]).failure, Some(Failure::TargetInBox));
        // A success has no failure, even beside another object.
        let d = played(&[row(0.3, true, None, true)]);
        assert_eq!((d.failure, d.wrong_object_shares), (None, None));
        assert!((d.final_distance - 2.7f32.hypot(0.5)).abs() < 1e-5);
    }

    #[test]
    fn a_question_tells_what_was_in_view_when_it_was_answered() {
        // "What colour is the target?" (the red cube); the red sphere and the blue cone beside it.
        let colour = Answer::ColorOf("target".into());
        let diagnose_with = |question: &Answer, word: Option<&str>, in_view: [bool; 3], success: bool| {
            let mut at = row(1.0, in_view[0], None, success);
            at.objects.iter_mut().zip(in_view).for_each(|(o, v)| o.visible = v);
            let mut trace = Trace::default();
            trace.observe(&at);
            trace.answer = word.map(str::to_string);
            diagnose_answer(question, &at, &trace).expect("a first role").failure
        };
        assert_eq!(diagnose_with(&colour, None, [true; 3], false), Some(Failure::Unanswered));
        assert_eq!(diagnose_with(&colour, Some("blue"), [false, true, true], false), Some(Failure::AnsweredUnseen));
        assert_eq!(diagnose_with(&colour, Some("blue"), [true, false, true], false), Some(Failure::DescribedOtherObject));
        // A shape to a colour question, or a colour to a size question, whatever is in view.
        assert_eq!(diagnose_with(&colour, Some("sphere"), [true, true, false], false), Some(Failure::WrongKindOfWord));
        assert_eq!(diagnose_with(&Answer::SizeOf("target".into()), Some("red"), [false, true, false], false), Some(Failure::WrongKindOfWord));
        // The cone is blue but out of view: nothing in view is blue.
        assert_eq!(diagnose_with(&colour, Some("blue"), [true, true, false], false), Some(Failure::Misread));
        assert_eq!(diagnose_with(&colour, Some("red"), [true, false, false], true), None);
        assert_eq!(diagnose_with(&Answer::CountColor("target".into()), Some("3"), [true; 3], false), Some(Failure::WrongAnswer));
    }

    #[test]
    fn the_tally_counts_kinds_and_what_wrong_objects_share() {
        let wrong = played(&[row(2.0, false, None, false), row(0.3, false, None, false)]);
        let held = played(&[row(-1.5, false, Some(2), false)]);
        assert_eq!(held.failure, Some(Failure::HeldWrongObject), "a held object counts however near it started");
        let won = played(&[row(2.8, true, None, true)]);
        let counts = tally([&wrong, &wrong, &held, &won].into_iter());
        let expected: BTreeMap<String, usize> = [("wrong_object", 2), ("wrong_object_sharing_color", 2), ("held_wrong_object", 1), ("held_wrong_object_sharing_neither", 1)]
            .into_iter()
            .map(|(k, n)| (k.to_string(), n))
            .collect();
        assert_eq!(counts, expected);
    }
}
