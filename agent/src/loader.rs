//! Loading trained models for use: the world model of a pretraining checkpoint and the agent of
//! a fine-tuning one, each on weights that record no autograd graph.

use std::path::{Path, PathBuf};

use candle_core::Device;

use crate::AgentError;
use crate::card::AgentCard;
use crate::checkpoint::{TrainState, load_config, load_state, resolve};
use crate::config::Config;
use crate::model::{Agent, Dynamics, Tokenizer};
use crate::run_dir::RunDir;
use crate::text::TextVocab;
use crate::weights::Weights;

/// A trained world model, ready for evaluation (its weights record no autograd graph).
pub struct WorldModel {
    /// The checkpoint directory it came from.
    pub dir: PathBuf,
    /// Its config.
    pub config: Config,
    /// Its training state.
    pub state: TrainState,
    /// The frame tokenizer.
    pub tokenizer: Tokenizer,
    /// The dynamics transformer.
    pub dynamics: Dynamics,
}

/// Load the world model a path names (checkpoint or run directory) onto `device`.
pub fn load_world_model(path: &Path, device: &Device) -> Result<WorldModel, AgentError> {
    let dir = resolve(path)?;
    let config = load_config(&dir)?;
    let state = load_state(&dir)?;
    let (weights, ..) = Weights::world_model(&config, 0, Some(&dir), device)?;
    let (tokenizer, dynamics) = (weights.frozen_tokenizer(&config, device)?, weights.frozen_dynamics(&config, device)?);
    Ok(WorldModel { dir, config, state, tokenizer, dynamics })
}

/// A fine-tuned agent, ready to act (its weights record no autograd graph).
pub struct TrainedAgent {
    /// The checkpoint directory it came from.
    pub dir: PathBuf,
    /// Its config.
    pub config: Config,
    /// Its instruction vocabulary.
    pub vocab: TextVocab,
    /// What it was trained from.
    pub card: AgentCard,
    /// The action names its action tokens stand for (empty for checkpoints older than that).
    pub actions: Vec<String>,
    /// The frame tokenizer.
    pub tokenizer: Tokenizer,
    /// The transformer.
    pub agent: Agent,
}

/// Load the fine-tuned agent a path names (checkpoint or run directory) onto `device`.
pub fn load_agent(path: &Path, device: &Device) -> Result<TrainedAgent, AgentError> {
    let dir = resolve(path)?;
    let config = load_config(&dir)?;
    let vocab_path = dir.join(RunDir::VOCAB);
    if !vocab_path.is_file() {
        return Err(AgentError::Checkpoint { path: dir, message: "has no vocab.json: it is not a fine-tuned agent (make one with `sandtable finetune`)".into() });
    }
    let vocab = TextVocab::load(&vocab_path)?;
    let card = AgentCard::load(&dir)?;
    let actions = load_state(&dir)?.actions;
    let (weights, ..) = Weights::agent(&config, 0, None, device)?;
    weights.load(&dir)?;
    let (tokenizer, agent) = (weights.frozen_tokenizer(&config, device)?, weights.frozen_agent(&config, device)?);
    Ok(TrainedAgent { dir, config, vocab, card, actions, tokenizer, agent })
}
