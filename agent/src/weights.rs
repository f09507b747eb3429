//! The one model builder: a model's variables are declared with weights drawn from a seed, then
//! loaded from a checkpoint when one is given. Pretraining, fine-tuning, the loaders and the
//! benchmark all build their models here.

use std::path::Path;

use candle_core::Device;
use candle_nn::VarMap;

use crate::AgentError;
use crate::checkpoint::{load_into, load_present};
use crate::config::Config;
use crate::model::{Agent, Dynamics, SeededInit, Tokenizer, frozen};

/// A model's variables: the frame tokenizer's and the transformer's (the world model's
/// dynamics, or the agent built on them), saved as `tokenizer.safetensors` and
/// `dynamics.safetensors`.
#[derive(Clone)]
pub struct Weights {
    /// The frame tokenizer's variables.
    pub tokenizer: VarMap,
    /// The transformer's variables.
    pub dynamics: VarMap,
}

impl Default for Weights {
    fn default() -> Self {
        Self { tokenizer: VarMap::new(), dynamics: VarMap::new() }
    }
}

impl Weights {
    /// The world model: the tokenizer drawn from `seed`, the dynamics from `seed + 1` (and for
    /// pretraining in the agent's layout, its instruction positions from `seed + 2`), then all
    /// loaded from checkpoint `from` when given. The models train these variables.
    pub fn world_model(cfg: &Config, seed: u64, from: Option<&Path>, device: &Device) -> Result<(Self, Tokenizer, Dynamics), AgentError> {
        let w = Self::default();
        let tokenizer = Tokenizer::new(cfg, SeededInit::new(w.tokenizer.clone(), seed).builder(device))?;
        let dynamics = Dynamics::new(cfg, SeededInit::new(w.dynamics.clone(), seed.wrapping_add(1)).builder(device))?;
        if !cfg.train.text_prefix.is_none() {
            Agent::without_stem(cfg, SeededInit::new(w.dynamics.clone(), seed.wrapping_add(2)).builder(device))?;
        }
        if let Some(ckpt) = from {
            w.load(ckpt)?;
        }
        Ok((w, tokenizer, dynamics))
    }

    /// The agent: the tokenizer drawn from `seed`; with `init`, the world model's dynamics drawn
    /// from `seed + 1` and both loaded from that pretraining checkpoint; then the agent's own
    /// variables drawn from `seed + 2` (only `text_pos` on top of a world model, every weight
    /// from scratch), and `text_pos` loaded too where the world model was pretrained in the
    /// agent's layout.
    pub fn agent(cfg: &Config, seed: u64, init: Option<&Path>, device: &Device) -> Result<(Self, Tokenizer, Agent), AgentError> {
        let w = Self::default();
        let tokenizer = Tokenizer::new(cfg, SeededInit::new(w.tokenizer.clone(), seed).builder(device))?;
        if let Some(ckpt) = init {
            Dynamics::new(cfg, SeededInit::new(w.dynamics.clone(), seed.wrapping_add(1)).builder(device))?;
            w.load(ckpt)?;
        }
        let agent = Agent::new(cfg, SeededInit::new(w.dynamics.clone(), seed.wrapping_add(2)).builder(device))?;
        if let Some(ckpt) = init {
            load_present(&w.dynamics, ckpt, "dynamics", &["text_pos"])?;
        }
        Ok((w, tokenizer, agent))
    }

    /// Copy checkpoint `ckpt`'s weights into these variables, which must all be there with the
    /// same shapes.
    pub fn load(&self, ckpt: &Path) -> Result<(), AgentError> {
        load_into(&self.tokenizer, ckpt, "tokenizer")?;
        load_into(&self.dynamics, ckpt, "dynamics")
    }

    /// The tokenizer on detached copies of its variables: it records no autograd graph.
    pub fn frozen_tokenizer(&self, cfg: &Config, device: &Device) -> Result<Tokenizer, AgentError> {
        Ok(Tokenizer::new(cfg, frozen(&self.tokenizer, device))?)
    }

    /// The world model's dynamics on detached copies of its variables.
    pub fn frozen_dynamics(&self, cfg: &Config, device: &Device) -> Result<Dynamics, AgentError> {
        Ok(Dynamics::new(cfg, frozen(&self.dynamics, device))?)
    }

    /// The agent on detached copies of its variables.
    pub fn frozen_agent(&self, cfg: &Config, device: &Device) -> Result<Agent, AgentError> {
        Ok(Agent::new(cfg, frozen(&self.dynamics, device))?)
    }

    /// Parameters of each part: (tokenizer, transformer).
    pub fn parameters(&self) -> (usize, usize) {
        let count = |m: &VarMap| m.all_vars().iter().map(|v| v.elem_count()).sum();
        (count(&self.tokenizer), count(&self.dynamics))
    }
}
