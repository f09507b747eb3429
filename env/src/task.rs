//! Tasks: missions written as templates over named object roles, and success or failure
//! conditions composed from predicates.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::layout::{Layout, PlacedObject};

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
    /// Every condition holds.
    All(Vec<Predicate>),
    /// At least one condition holds.
    Any(Vec<Predicate>),
    /// The condition does not hold.
    Not(Box<Predicate>),
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
}

impl Predicate {
    /// Evaluate on a world; a role that is not bound makes the predicate false.
    pub fn holds(&self, w: &impl World) -> bool {
        match self {
            Predicate::Near(a, b, r) => w.gap(a, b).is_some_and(|g| g <= *r),
            Predicate::Holding(x) => w.role(x).is_some_and(|i| w.held() == Some(i)),
            Predicate::Visible(x) => w.role(x).is_some_and(|i| w.visible(i)),
            Predicate::All(ps) => ps.iter().all(|p| p.holds(w)),
            Predicate::Any(ps) => ps.iter().any(|p| p.holds(w)),
            Predicate::Not(p) => !p.holds(w),
        }
    }

    /// Every role name the predicate refers to.
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
            Predicate::All(ps) | Predicate::Any(ps) => ps.iter().for_each(|p| p.roles(out)),
            Predicate::Not(p) => p.roles(out),
        }
    }

    /// Every radius in the predicate, for validation.
    pub fn radii(&self, out: &mut Vec<f32>) {
        match self {
            Predicate::Near(_, _, r) => out.push(*r),
            Predicate::All(ps) | Predicate::Any(ps) => ps.iter().for_each(|p| p.radii(out)),
            Predicate::Not(p) => p.radii(out),
            Predicate::Holding(_) | Predicate::Visible(_) => {}
        }
    }
}

/// How a question's answer is computed from ground truth. Every answer is one word of
/// [`answer_vocabulary`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Answer {
    /// The role's colour, e.g. "red".
    ColorOf(String),
    /// The role's shape, e.g. "cone".
    ShapeOf(String),
    /// The role's size, "small" or "large".
    SizeOf(String),
    /// How many objects have the role's colour (the role's object included), e.g. "2".
    CountColor(String),
    /// How many objects have the role's shape (the role's object included).
    CountShape(String),
    /// How many objects there are.
    CountAll,
    /// Whether the first role's object is "left" or "right" of the second's, seen from the agent.
    LeftOrRight(String, String),
}

impl Answer {
    /// Every role the answer reads.
    pub fn roles(&self) -> Vec<String> {
        match self {
            Answer::ColorOf(r) | Answer::ShapeOf(r) | Answer::SizeOf(r) | Answer::CountColor(r) | Answer::CountShape(r) => {
                vec![r.clone()]
            }
            Answer::CountAll => vec![],
            Answer::LeftOrRight(a, b) => vec![a.clone(), b.clone()],
        }
    }

    /// The true answer for a world seen from `pose`, or `None` if a role is unbound.
    pub fn compute(&self, layout: &Layout, pose: &crate::layout::Pose) -> Option<String> {
        let obj = |r: &str| layout.role(r).map(|i| &layout.objects[i]);
        Some(match self {
            Answer::ColorOf(r) => obj(r)?.color.name().to_string(),
            Answer::ShapeOf(r) => obj(r)?.shape.name().to_string(),
            Answer::SizeOf(r) => obj(r)?.size.name().to_string(),
            Answer::CountColor(r) => {
                let c = obj(r)?.color;
                layout.objects.iter().filter(|o| o.color == c).count().to_string()
            }
            Answer::CountShape(r) => {
                let s = obj(r)?.shape;
                layout.objects.iter().filter(|o| o.shape == s).count().to_string()
            }
            Answer::CountAll => layout.objects.len().to_string(),
            Answer::LeftOrRight(a, b) => {
                let (rx, rz) = pose.right();
                let side = |o: &PlacedObject| o.pos.0 * rx + o.pos.1 * rz;
                if side(obj(a)?) < side(obj(b)?) { "left".into() } else { "right".into() }
            }
        })
    }
}

/// The closed set of words an answer can be: colours, shapes, sizes, counts 0–32, left and right.
pub fn answer_vocabulary() -> Vec<String> {
    use crate::object::{ObjectColor, Shape, Size};
    let mut v: Vec<String> = ObjectColor::ALL.iter().map(|c| c.name().to_string()).collect();
    v.extend(Shape::ALL.iter().map(|s| s.name().to_string()));
    v.extend(Size::ALL.iter().map(|s| s.name().to_string()));
    v.extend((0..=32).map(|n| n.to_string()));
    v.extend(["left".to_string(), "right".to_string()]);
    v
}

/// The attributes a placeholder may name: `{role.color}`, `{role.shape}`, `{role.size}`.
pub const ATTRIBUTES: [&str; 3] = ["color", "shape", "size"];

/// The `{role.attribute}` placeholders of a template, or why it is malformed.
pub fn placeholders(template: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or_else(|| format!("unclosed `{{` in \"{template}\""))?;
        let inner = &after[..close];
        let (role, attr) = inner
            .split_once('.')
            .ok_or_else(|| format!("placeholder `{{{inner}}}` must be `{{role.attribute}}`, e.g. `{{target.color}}`"))?;
        if !ATTRIBUTES.contains(&attr) {
            return Err(format!("placeholder `{{{inner}}}` names no attribute (known: {})", ATTRIBUTES.join(", ")));
        }
        out.push((role.to_string(), attr.to_string()));
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return Err(format!("unmatched `}}` in \"{template}\""));
    }
    Ok(out)
}

/// Fill a template with the words of the objects bound to its roles.
pub fn render(template: &str, layout: &Layout) -> String {
    let mut out = template.to_string();
    for (role, index) in &layout.roles {
        let o: &PlacedObject = &layout.objects[*index];
        out = out
            .replace(&format!("{{{role}.color}}"), o.color.name())
            .replace(&format!("{{{role}.shape}}"), o.shape.name())
            .replace(&format!("{{{role}.size}}"), o.size.name());
    }
    out
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

    #[test]
    fn placeholders_parse_and_reject() {
        assert_eq!(
            placeholders("put the {a.color} {a.shape} by {b.shape}").expect("valid"),
            vec![("a".into(), "color".into()), ("a".into(), "shape".into()), ("b".into(), "shape".into())]
        );
        assert!(placeholders("go to the {color}").is_err());
        assert!(placeholders("go to the {a.colour}").is_err());
        assert!(placeholders("go to the {a.color").is_err());
    }
}
