//! Progress through subgoals: the memory that `Then` and `AllEver` success conditions need.
//!
//! Predicates look at one instant; these two forms look at the episode so far, so which subgoals
//! are done lives in the simulation state beside the world, is advanced once per step (never by
//! wall time) and is reported in `Info`.

use serde::{Deserialize, Serialize};

use crate::task::predicate::{Order, Predicate, World};

/// Which subgoals of the success condition are done, in the order the scenario lists them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Progress {
    /// One flag per subgoal; a done subgoal stays done.
    pub done: Vec<bool>,
}

impl Progress {
    /// Fresh progress for a success condition with subgoals, or `None` for one without.
    pub fn start(success: Option<&Predicate>) -> Option<Self> {
        let (parts, _) = success?.subgoals()?;
        Some(Self { done: vec![false; parts.len()] })
    }

    /// Mark what holds now as done and say whether every subgoal is. In a sequence only the
    /// current subgoal can be done, so one that held earlier than its turn does not count; a
    /// later one that already holds on the step its predecessor is done counts on that step.
    pub fn advance(&mut self, success: &Predicate, w: &impl World) -> bool {
        let Some((parts, order)) = success.subgoals() else {
            return success.holds(w);
        };
        match order {
            Order::Sequence => {
                while let Some(i) = self.done.iter().position(|d| !d) {
                    if !parts.get(i).is_some_and(|p| p.holds(w)) {
                        break;
                    }
                    self.done[i] = true;
                }
            }
            Order::AnyOrder => {
                for (done, p) in self.done.iter_mut().zip(parts) {
                    *done = *done || p.holds(w);
                }
            }
        }
        self.complete()
    }

    /// The index of the first subgoal not done yet (in a sequence, the one being worked on);
    /// equal to the number of subgoals once all are done.
    pub fn current(&self) -> usize {
        self.done.iter().position(|d| !d).unwrap_or(self.done.len())
    }

    /// Whether every subgoal is done.
    pub fn complete(&self) -> bool {
        self.done.iter().all(|d| *d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::predicate::Subject;

    /// A world where the agent is near exactly the named roles.
    struct Near<'a>(&'a [&'a str]);
    impl World for Near<'_> {
        fn role(&self, name: &str) -> Option<usize> {
            ["a", "b", "c"].iter().position(|r| *r == name)
        }
        fn gap(&self, _: &Subject, b: &Subject) -> Option<f32> {
            match b {
                Subject::Object(n) => Some(if self.0.contains(&n.as_str()) { 0.1 } else { 3.0 }),
                Subject::Agent => None,
            }
        }
        fn held(&self) -> Option<usize> {
            None
        }
        fn visible(&self, _: usize) -> bool {
            false
        }
    }

    fn near(role: &str) -> Predicate {
        Predicate::Near(Subject::Agent, Subject::Object(role.into()), 0.5)
    }

    #[test]
    fn a_sequence_counts_step_two_only_after_step_one() {
        let then = Predicate::Then(vec![near("a"), near("b"), near("c")]);
        let mut p = Progress::start(Some(&then)).expect("has subgoals");
        // Step 2 first: does not count.
        assert!(!p.advance(&then, &Near(&["b"])));
        assert_eq!((p.current(), p.done.clone()), (0, vec![false, false, false]));
        assert!(!p.advance(&then, &Near(&["a"])));
        assert_eq!(p.current(), 1);
        // Step 3 before step 2: still not counted, and step 1 stays done once the agent leaves.
        assert!(!p.advance(&then, &Near(&["c"])));
        assert!(!p.advance(&then, &Near(&[])));
        assert_eq!(p.current(), 1);
        assert!(!p.advance(&then, &Near(&["b"])));
        assert_eq!(p.current(), 2);
        // Success only once the last subgoal holds.
        assert!(p.advance(&then, &Near(&["c"])));
        assert!(p.complete());
    }

    #[test]
    fn a_sequence_may_finish_several_subgoals_on_one_step() {
        let then = Predicate::Then(vec![near("a"), near("b")]);
        let mut p = Progress::start(Some(&then)).expect("has subgoals");
        assert!(p.advance(&then, &Near(&["a", "b"])));
    }

    #[test]
    fn a_conjunction_over_time_succeeds_in_either_order() {
        let both = Predicate::AllEver(vec![near("a"), near("b")]);
        for order in [["a", "b"], ["b", "a"]] {
            let mut p = Progress::start(Some(&both)).expect("has subgoals");
            assert!(!p.advance(&both, &Near(&[order[0]])));
            assert!(!p.advance(&both, &Near(&[])), "{order:?}: nothing new, not done");
            assert_eq!(p.done.iter().filter(|d| **d).count(), 1);
            assert!(p.advance(&both, &Near(&[order[1]])), "{order:?}");
        }
    }

    #[test]
    fn plain_conditions_have_no_progress() {
        assert_eq!(Progress::start(Some(&near("a"))), None);
        assert_eq!(Progress::start(None), None);
    }
}
