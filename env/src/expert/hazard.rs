//! Hazards: objects that a failure condition tells the agent to keep away from.
//!
//! A failure such as `Near(Agent, Object("hazard"), 0.25)` ends the episode when the agent's body
//! comes within 0.25 m of that object, so the expert treats the object as that much larger.
//! Conditions under `Any` or `All` count too (under `All` the failure needs more than nearness,
//! so steering clear is merely cautious); under `Not` nearness is what keeps the agent safe, so
//! those are left alone.

use crate::task::predicate::{Predicate, Subject};
use crate::world::layout::Layout;

/// Extra distance kept beyond a failure radius, metres: a step's rounding never lands on the edge.
pub const HAZARD_MARGIN: f32 = 0.05;

/// Each object a failure condition names with the agent, with the clearance its body must keep
/// beyond touching (the condition's radius plus [`HAZARD_MARGIN`]); the largest radius wins.
pub fn clearances(failure: Option<&Predicate>, layout: &Layout) -> Vec<(usize, f32)> {
    let mut out: Vec<(usize, f32)> = Vec::new();
    if let Some(p) = failure {
        collect(p, layout, &mut out);
    }
    out
}

fn collect(p: &Predicate, layout: &Layout, out: &mut Vec<(usize, f32)>) {
    match p {
        Predicate::Near(Subject::Agent, Subject::Object(x), r) | Predicate::Near(Subject::Object(x), Subject::Agent, r) => {
            if let Some(i) = layout.role(x) {
                let c = r + HAZARD_MARGIN;
                match out.iter_mut().find(|(j, _)| *j == i) {
                    Some((_, old)) => *old = old.max(c),
                    None => out.push((i, c)),
                }
            }
        }
        Predicate::All(ps) | Predicate::Any(ps) => ps.iter().for_each(|q| collect(q, layout, out)),
        Predicate::Near(..)
        | Predicate::Holding(_)
        | Predicate::Visible(_)
        | Predicate::Open(_)
        | Predicate::Unlocked(_)
        | Predicate::Inside(..)
        | Predicate::Not(_)
        | Predicate::Then(_)
        | Predicate::AllEver(_) => {}
    }
}

/// Whether a body of radius `body` centred at `c` keeps every clearance.
pub fn keeps_clear(layout: &Layout, c: (f32, f32), body: f32, avoid: &[(usize, f32)]) -> bool {
    avoid.iter().all(|(i, extra)| {
        let o = &layout.objects[*i];
        crate::world::geometry::dist(c, o.pos) >= body + o.extent.radius + extra
    })
}
