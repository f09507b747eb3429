//! The task: the scenario schema (what a `.ron` file may say), missions written as templates over
//! named object roles, success and failure predicates, and how questions are answered.

pub mod answer;
pub mod mission;
pub mod predicate;
pub mod progress;
pub mod scenario;

pub use answer::{Answer, answer_vocabulary};
pub use mission::{ATTRIBUTES, placeholders, render, template_text};
pub use predicate::{Order, Predicate, Subject, World};
pub use progress::Progress;
pub use scenario::{Scenario, builtin_names};
