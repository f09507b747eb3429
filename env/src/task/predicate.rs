//! Predicates: success and failure conditions composed from facts about the world, evaluated
//! through the [`World`] trait so they need no world type.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// Something a predicate can talk about.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Subject {
    /// The agent's body.
    Agent,
    /// The object bound to a role, by the role's name.
    Object(String),
}

/// A condition on the world, evaluated after every step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Predicate {
    /// The gap between the two bodies is at most the radius, metres.
    Near(Subject, Subject, f32),
    /// The agent carries the role's object.
    Holding(String),
    /// The role's object is visible in the current frame.
    Visible(String),
    /// The named door, or the box bound to the named role, is open.
    Open(String),
    /// The named door is not locked (it was never locked, or a key opened it).
    Unlocked(String),
    /// The first role's object is still shut in the second role's box.
    Inside(String, String),
    /// Every condition holds.
    All(Vec<Predicate>),
    /// At least one condition holds.
    Any(Vec<Predicate>),
    /// The condition does not hold.
    Not(Box<Predicate>),
    /// Ordered subgoals: each must hold in turn, counted only once the one before it is done;
    /// the condition holds from the step the last one does. Remembers the past, so it may only
    /// be the whole `success` condition (see [`crate::task::progress`]).
    Then(Vec<Predicate>),
    /// Subgoals in any order: each counts as done once it has held at some step; the condition
    /// holds from the step all of them are done. Only as the whole `success` condition, like `Then`.
    AllEver(Vec<Predicate>),
}

/// How a condition with memory orders its subgoals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// `Then`: one after another.
    Sequence,
    /// `AllEver`: any order.
    AnyOrder,
}

/// What the predicates need to know about the world.
pub trait World {
    /// The object bound to a role.
    fn role(&self, name: &str) -> Option<usize>;
    /// Gap between two subjects' bodies.
    fn gap(&self, a: &Subject, b: &Subject) -> Option<f32>;
    /// The carried object.
    fn held(&self) -> Option<usize>;
    /// Whether an object is visible.
    fn visible(&self, object: usize) -> bool;
    /// Whether the named door, or the box of the named role, is open; `None` if neither exists.
    fn is_open(&self, _name: &str) -> Option<bool> {
        None
    }
    /// Whether the named door is unlocked; `None` if there is no such door.
    fn is_unlocked(&self, _door: &str) -> Option<bool> {
        None
    }
    /// The box an object is shut in.
    fn inside(&self, _object: usize) -> Option<usize> {
        None
    }
}

impl Predicate {
    /// Evaluate on a world; a role that is not bound makes the predicate false.
    pub fn holds(&self, w: &impl World) -> bool {
        match self {
            Predicate::Near(a, b, r) => w.gap(a, b).is_some_and(|g| g <= *r),
            Predicate::Holding(x) => w.role(x).is_some_and(|i| w.held() == Some(i)),
            Predicate::Visible(x) => w.role(x).is_some_and(|i| w.visible(i)),
            Predicate::Open(x) => w.is_open(x) == Some(true),
            Predicate::Unlocked(x) => w.is_unlocked(x) == Some(true),
            Predicate::Inside(x, b) => w.role(x).is_some_and(|i| w.inside(i).is_some() && w.inside(i) == w.role(b)),
            Predicate::All(ps) => ps.iter().all(|p| p.holds(w)),
            Predicate::Any(ps) => ps.iter().any(|p| p.holds(w)),
            Predicate::Not(p) => !p.holds(w),
            // Without memory (see `progress`), the most this instant can show is every part at once.
            Predicate::Then(ps) | Predicate::AllEver(ps) => ps.iter().all(|p| p.holds(w)),
        }
    }

    /// The subgoals and their order, for the two forms that remember the past.
    pub fn subgoals(&self) -> Option<(&[Predicate], Order)> {
        match self {
            Predicate::Then(ps) => Some((ps, Order::Sequence)),
            Predicate::AllEver(ps) => Some((ps, Order::AnyOrder)),
            _ => None,
        }
    }

    /// Whether a `Then` or `AllEver` occurs anywhere in the predicate, this node included.
    pub fn has_memory(&self) -> bool {
        match self {
            Predicate::Then(_) | Predicate::AllEver(_) => true,
            Predicate::All(ps) | Predicate::Any(ps) => ps.iter().any(Predicate::has_memory),
            Predicate::Not(p) => p.has_memory(),
            Predicate::Near(..) | Predicate::Holding(_) | Predicate::Visible(_) | Predicate::Open(_) | Predicate::Unlocked(_) | Predicate::Inside(..) => false,
        }
    }

    /// Every role name the predicate refers to. `Open` and `Unlocked` name a door or a role, and
    /// go to [`Predicate::openables`] instead.
    pub fn roles(&self, out: &mut BTreeSet<String>) {
        let subject = |s: &Subject, out: &mut BTreeSet<String>| {
            if let Subject::Object(n) = s {
                out.insert(n.clone());
            }
        };
        match self {
            Predicate::Near(a, b, _) => {
                subject(a, out);
                subject(b, out);
            }
            Predicate::Holding(x) | Predicate::Visible(x) => {
                out.insert(x.clone());
            }
            Predicate::Inside(x, b) => {
                out.insert(x.clone());
                out.insert(b.clone());
            }
            Predicate::Open(_) | Predicate::Unlocked(_) => {}
            Predicate::All(ps) | Predicate::Any(ps) | Predicate::Then(ps) | Predicate::AllEver(ps) => ps.iter().for_each(|p| p.roles(out)),
            Predicate::Not(p) => p.roles(out),
        }
    }

    /// Every `Inside(object, box)` pair in the predicate.
    pub fn inside_pairs(&self) -> Vec<(String, String)> {
        match self {
            Predicate::Inside(x, b) => vec![(x.clone(), b.clone())],
            Predicate::All(ps) | Predicate::Any(ps) | Predicate::Then(ps) | Predicate::AllEver(ps) => ps.iter().flat_map(Predicate::inside_pairs).collect(),
            Predicate::Not(p) => p.inside_pairs(),
            Predicate::Near(..) | Predicate::Holding(_) | Predicate::Visible(_) | Predicate::Open(_) | Predicate::Unlocked(_) => Vec::new(),
        }
    }

    /// Every name `Open` (a door or a box's role) and `Unlocked` (a door) refer to, with whether
    /// it must be a door.
    pub fn openables(&self, out: &mut Vec<(String, bool)>) {
        match self {
            Predicate::Open(x) => out.push((x.clone(), false)),
            Predicate::Unlocked(x) => out.push((x.clone(), true)),
            Predicate::All(ps) | Predicate::Any(ps) | Predicate::Then(ps) | Predicate::AllEver(ps) => ps.iter().for_each(|p| p.openables(out)),
            Predicate::Not(p) => p.openables(out),
            Predicate::Near(..) | Predicate::Holding(_) | Predicate::Visible(_) | Predicate::Inside(..) => {}
        }
    }

    /// Every radius in the predicate, for validation.
    pub fn radii(&self, out: &mut Vec<f32>) {
        match self {
            Predicate::Near(_, _, r) => out.push(*r),
            Predicate::All(ps) | Predicate::Any(ps) | Predicate::Then(ps) | Predicate::AllEver(ps) => ps.iter().for_each(|p| p.radii(out)),
            Predicate::Not(p) => p.radii(out),
            Predicate::Holding(_) | Predicate::Visible(_) | Predicate::Open(_) | Predicate::Unlocked(_) | Predicate::Inside(..) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake {
        gap: f32,
        held: Option<usize>,
    }
    impl World for Fake {
        fn role(&self, name: &str) -> Option<usize> {
            (name == "a").then_some(0)
        }
        fn gap(&self, _: &Subject, _: &Subject) -> Option<f32> {
            Some(self.gap)
        }
        fn held(&self) -> Option<usize> {
            self.held
        }
        fn visible(&self, _: usize) -> bool {
            true
        }
    }

    #[test]
    fn predicates_compose() {
        let near = Predicate::Near(Subject::Agent, Subject::Object("a".into()), 0.5);
        let p = Predicate::All(vec![near.clone(), Predicate::Not(Box::new(Predicate::Holding("a".into())))]);
        assert!(p.holds(&Fake { gap: 0.4, held: None }));
        assert!(!p.holds(&Fake { gap: 0.6, held: None }));
        assert!(!p.holds(&Fake { gap: 0.4, held: Some(0) }));
        assert!(Predicate::Any(vec![near, Predicate::Visible("a".into())]).holds(&Fake { gap: 9.0, held: None }));
        assert!(!Predicate::Holding("b".into()).holds(&Fake { gap: 0.0, held: Some(0) }));
    }
}
