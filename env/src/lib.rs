//! sandtable's environment: procedurally generated 3D rooms rendered headless by Bevy on Vulkan,
//! stepped through a Gymnasium-style API.
//!
//! The core type is [`EnvBatch`]: several envs in one single-threaded Bevy App, stepped together by
//! one `update()`. [`Env`] is a batch of one. Simulation ([`sim`]) is plain deterministic Rust;
//! Bevy only renders it. This crate never depends on candle.

pub mod action;
pub mod batch;
pub mod error;
pub mod expert;
pub mod frames;
pub mod gpu;
pub mod layout;
pub mod object;
pub mod observation;
pub mod plugin;
pub mod policy;
pub mod profile;
pub mod readback;
pub mod render;
pub mod scenario;
pub mod sim;
pub mod stream;
pub mod task;

pub use action::{ANSWER_TOKEN, Action, Decision, decision_vocabulary};
pub use batch::{Env, EnvBatch, EnvConfig};
pub use error::{EnvError, Result};
pub use expert::{expert_action, expert_decision};
pub use layout::Pose;
pub use object::{ObjectColor, Shape, Size};
pub use observation::{Frame, Info, ObjectInfo, Observation, Step};
pub use policy::{Policy, PolicySpec};
pub use scenario::{Scenario, builtin_names};
pub use stream::{Driver, Event, Pending, Query, Stream, StreamConfig, Transition, episode_seed};
pub use task::answer_vocabulary;
