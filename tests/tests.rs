//! Integration tests of the environment (real Vulkan rendering) and of the `sandtable` CLI.

mod util;

mod cli_demo;
mod cli_errors;
mod cli_finetune;
mod cli_manifest;
mod cli_online;
mod cli_play;
mod cli_pretrain;
mod cli_record;
mod cli_scenario;
mod cli_sim;
mod docs;
mod env_contract;
mod env_determinism;
mod env_interactions;
mod env_render;
mod env_stream;
mod faults;
mod fuzz_corpus;
mod live_loop;
