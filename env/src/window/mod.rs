//! `sandtable play`'s window (cargo feature `window`): drive an env with the keyboard, watch the
//! expert or a trained agent, and record what a person plays. The headless library never links
//! a windowing system unless this feature is on.

pub mod controls;
pub mod map;
pub mod session;
pub mod viewer;

pub use session::{ExpertPilot, Pilot, Sink, Summary, ViewerConfig};
pub use viewer::run;
