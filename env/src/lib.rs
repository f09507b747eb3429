//! sandtable's environment: procedurally generated 3D rooms rendered headless by Bevy on Vulkan,
//! stepped through a Gymnasium-style API.
//!
//! The core type is [`EnvBatch`]: several envs in one single-threaded Bevy App, stepped together by
//! one `update()`. [`Env`] is a batch of one. Simulation ([`sim`]) is plain deterministic Rust;
//! Bevy only renders it. This crate never depends on candle.
//!
//! The parts, lowest first (`docs/architecture.md` has the map): [`world`] (geometry, layout data,
//! generation), [`task`] (scenario schema, missions, predicates, answers), [`sim`], [`expert`]
//! (planner and policy), [`policy`]; then the ECS [`plugin`], [`render`], [`batch`] and [`stream`].

pub mod action;
pub mod batch;
pub mod caption;
pub mod error;
pub mod expert;
pub mod fuzz_targets;
pub mod generation;
pub mod observation;
pub mod plugin;
pub mod policy;
pub mod render;
pub mod sim;
pub mod stream;
pub mod task;
pub mod world;
#[cfg(feature = "window")]
pub mod window;

pub use action::{ANSWER_TOKEN, Action, Decision, decision_vocabulary};
pub use batch::{Advanced, Env, EnvBatch, EnvConfig, Directive};
pub use render::Renderer;
pub use error::{EnvError, Result};
pub use expert::{expert_action, expert_decision, has_expert};
pub use caption::caption;
pub use observation::{DoorInfo, Frame, Info, ObjectInfo, Observation, Step};
pub use policy::{Policy, PolicySpec};
pub use stream::{Decider, Event, Pending, Query, RowOrigin, Stream, StreamConfig, Transition, episode_seed};
pub use task::{Scenario, answer_vocabulary, builtin_names};
pub use world::{ObjectColor, Pose, Shape, Size};
