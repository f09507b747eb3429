//! Playing in live envs, where the env and the agent crates meet: closed-loop evaluation, online
//! imitation (DAgger), the diagnosis of failed episodes, the episode assembler that turns the env stream into dataset episodes, the
//! feeder that fills a replay buffer from it, seed checks and GIF saving. `cli/` parses
//! arguments, calls these and prints.

pub mod closed_loop;
pub mod dagger;
pub mod diagnosis;
pub mod episodes;
pub mod feeder;
pub mod gifs;
pub mod seeds;
