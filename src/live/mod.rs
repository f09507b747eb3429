//! Running the agent in live envs, where the env and the agent crates meet: closed-loop play
//! ([`closed_loop`]) and evaluation ([`evaluation`]), online imitation ([`online`]), the diagnosis
//! of failed episodes ([`diagnosis`]), the [`assembler`] that turns the env stream into dataset
//! episodes, the [`feeder`] that fills a replay buffer from it, recording ([`recording`]), seed
//! checks ([`seeds`]) and GIF saving ([`gifs`]); with the `window` feature, the play window's
//! agent [`pilot`] and its dataset [`recorder`].

pub mod assembler;
pub mod closed_loop;
pub mod diagnosis;
pub mod eval_result;
pub mod evaluation;
pub mod feeder;
pub mod gifs;
pub mod online;
#[cfg(feature = "window")]
pub mod pilot;
#[cfg(feature = "window")]
pub mod recorder;
pub mod recording;
pub mod seeds;
