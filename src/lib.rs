//! The `sandtable` library: where the env ([`sandtable_env`]) and the agent ([`sandtable_agent`])
//! meet. [`live`] runs the agent in live envs: closed-loop play and evaluation, online imitation,
//! recording, the diagnosis of failed episodes, the episode assembler and the feeder. Beside it:
//! one scripted [`episode`] (written out by [`episode_files`], imagined by [`dream`]), scenario
//! [`preview`]s, the [`bench`] loops, and the [`report`] that gathers a run directory into one
//! page. The `sandtable` binary parses the command line, calls these and prints.

pub mod bench;
pub mod device;
pub mod dream;
pub mod episode;
pub mod episode_files;
pub mod fuzz_targets;
pub mod live;
pub mod media;
pub mod preview;
pub mod probing;
pub mod progress;
pub mod report;
pub mod training;
pub mod wm_evaluation;
