//! The one dataset format: episodes as rows in safetensors shards, described by `info.json`
//! (modelled on LeRobot's) and `episodes.jsonl`. The recorder writes it through
//! [`DatasetWriter`]; training reads it through [`Dataset`] and [`WindowSampler`].
//!
//! A row is one frame and what was done from it: `frames` u8 `[N,H,W,3]`, `actions` i64 (an index
//! into `info.action_vocabulary`, or [`NO_ACTION`] on an episode's last frame), `rewards` f32,
//! `terminated` and `truncated` u8 (0 or 1, for the row's action), `episode_index` and
//! `frame_index` i64. Each shard holds whole, consecutive episodes.

mod error;
mod info;
mod manifest;
mod reader;
mod sampler;
mod shard;
mod writer;

pub use error::DatasetError;
pub use info::{DatasetInfo, EpisodeMeta, Feature, Recording, ShardEntry, FORMAT, FORMAT_VERSION, NO_ACTION, parse_episodes};
pub use manifest::{MANIFEST_FORMAT, MANIFEST_VERSION, Manifest, ManifestEntry, check_disjoint};
pub use reader::{Dataset, EpisodeView, Split};
pub use sampler::{Window, WindowBatch, WindowSampler};
pub(crate) use reader::shuffle;
pub(crate) use shard::read_columns;
pub use writer::{DatasetWriter, EpisodeData};

#[cfg(test)]
mod tests;
