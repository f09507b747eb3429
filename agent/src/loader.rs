//! Loading trained models for use: the world model of a pretraining checkpoint and the agent of
//! a fine-tuning one, each on weights that record no autograd graph.

use std::path::{Path, PathBuf};

use candle_core::Device;
use candle_nn::{VarBuilder, VarMap};

use crate::AgentError;
use crate::card::AgentCard;
use crate::checkpoint::{TrainState, load_config, load_into, load_state, resolve};
use crate::config::Config;
use crate::model::{Agent, Dynamics, SeededInit, Tokenizer, frozen};
use crate::text::TextVocab;

/// The frozen tokenizer of checkpoint `dir`, and the variables of its `dynamics` file loaded into
/// the model `build` declares (the world model's dynamics, or the agent).
fn load_frozen<M>(dir: &Path, config: &Config, device: &Device, build: impl Fn(VarBuilder<'static>) -> candle_core::Result<M>) -> Result<(Tokenizer, M), AgentError> {
    let (tm, dm) = (VarMap::new(), VarMap::new());
    Tokenizer::new(config, SeededInit::new(tm.clone(), 0).builder(device))?;
    build(SeededInit::new(dm.clone(), 0).builder(device))?;
    load_into(&tm, dir, "tokenizer")?;
    load_into(&dm, dir, "dynamics")?;
    Ok((Tokenizer::new(config, frozen(&tm, device))?, build(frozen(&dm, device))?))
}

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
    let (tokenizer, dynamics) = load_frozen(&dir, &config, device, |vb| Dynamics::new(&config, vb))?;
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
    let vocab_path = dir.join("vocab.json");
    if !vocab_path.is_file() {
        return Err(AgentError::Checkpoint { path: dir, message: "has no vocab.json: it is not a fine-tuned agent (make one with `sandtable finetune`)".into() });
    }
    let vocab = TextVocab::load(&vocab_path)?;
    let card = AgentCard::load(&dir)?;
    let actions = load_state(&dir)?.actions;
    let (tokenizer, agent) = load_frozen(&dir, &config, device, |vb| Agent::new(&config, vb))?;
    Ok(TrainedAgent { dir, config, vocab, card, actions, tokenizer, agent })
}
