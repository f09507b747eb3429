//! A fine-tuned agent as the play window's pilot: it decides for the one env the window shows.

use std::path::Path;

use anyhow::Result;
use candle_core::Device;
use sandtable_agent::controller::Controller;
use sandtable_env::window::Pilot;
use sandtable_env::{Decision, Pending, Renderer};

use crate::live::closed_loop::agent_decisions;
use crate::live::evaluation::load_player;

/// The agent deciding in the window.
struct AgentPilot {
    controller: Controller<'static>,
}

impl Pilot for AgentPilot {
    fn decide(&mut self, pending: &Pending) -> Result<Decision, String> {
        let mut d = agent_decisions(&mut self.controller, std::slice::from_ref(pending)).map_err(|e| e.to_string())?;
        d.pop().ok_or_else(|| "the agent made no decision".to_string())
    }

    fn finish(&mut self, episode: u64) {
        self.controller.finish(episode);
    }
}

/// Load the agent at `checkpoint`; it must see frames of the size it was trained on. Also
/// returns the renderer that drew its training frames, when its card names one.
pub fn agent_pilot(checkpoint: &Path, device: &Device, size: u32) -> Result<(Box<dyn Pilot>, Option<Renderer>)> {
    let model = load_player(checkpoint, device)?;
    let trained = model.config.image_size as u32;
    anyhow::ensure!(trained == size, "the agent sees {trained}×{trained} frames: pass --size {trained}");
    let renderer = model.card.renderer.parse().ok();
    // The window plays until the process ends, so the model lives as long.
    let model = Box::leak(Box::new(model));
    let controller = Controller::new(model, device);
    Ok((Box::new(AgentPilot { controller }), renderer))
}
