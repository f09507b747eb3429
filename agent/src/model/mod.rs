//! The world model: a frame tokenizer ([`Tokenizer`], patch transformer + FSQ) and a causal
//! transformer over interleaved frame and action tokens ([`Dynamics`]).

mod agent;
mod dynamics;
mod fsq;
mod init;
mod matmul;
mod nn;
pub mod ops;
mod stem;
mod tokenizer;

pub use agent::{Agent, AgentWindow, PlayWindow, Sequences, argmax};
pub use dynamics::{Dynamics, interleave};
pub use fsq::Fsq;
pub use init::{SeededInit, frozen};
pub use nn::{Attention, Block, Dense, LayerNorm, Mlp};
pub use stem::PixelStem;
pub use tokenizer::Tokenizer;

#[cfg(test)]
mod tests;
