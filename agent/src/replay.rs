//! The replay buffer for live training: env workers push finished episodes, the trainer samples
//! windows from them. Every tenth episode is kept apart for validation. Oldest episodes are
//! dropped beyond the capacity.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use candle_core::{Device, Tensor};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::AgentError;
use crate::dataset::WindowBatch;

/// One finished episode.
#[derive(Clone, Debug)]
pub struct ReplayEpisode {
    /// `len × H × W × 3` bytes.
    pub frames: Vec<u8>,
    /// One action index per frame (the last is the dataset's no-action, -1).
    pub actions: Vec<i64>,
    /// Mission or question text.
    pub mission: String,
}

#[derive(Default)]
struct Inner {
    train: VecDeque<Arc<ReplayEpisode>>,
    val: VecDeque<Arc<ReplayEpisode>>,
    frames: usize,
    added: u64,
    failed: Option<String>,
}

/// A bounded, thread-safe store of recent episodes.
pub struct ReplayBuffer {
    inner: Mutex<Inner>,
    ready: Condvar,
    capacity_frames: usize,
    height: usize,
    width: usize,
    actions: Vec<String>,
}

impl ReplayBuffer {
    /// Hold about `capacity_frames` frames of `height × width`, whose actions index `actions`.
    pub fn new(capacity_frames: usize, height: usize, width: usize, actions: Vec<String>) -> Self {
        Self { inner: Mutex::new(Inner::default()), ready: Condvar::new(), capacity_frames, height, width, actions }
    }

    /// The action names the episodes' actions index.
    pub fn actions(&self) -> &[String] {
        &self.actions
    }

    /// Frame height and width.
    pub fn frame_size(&self) -> (usize, usize) {
        (self.height, self.width)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Add a finished episode.
    pub fn push(&self, ep: ReplayEpisode) {
        let mut g = self.lock();
        g.added += 1;
        g.frames += ep.actions.len();
        if g.added.is_multiple_of(10) {
            g.val.push_back(Arc::new(ep));
        } else {
            g.train.push_back(Arc::new(ep));
        }
        while g.frames > self.capacity_frames && g.train.len() > 1 {
            if let Some(old) = g.train.pop_front() {
                g.frames -= old.actions.len();
            }
        }
        while g.val.len() > 64 {
            if let Some(old) = g.val.pop_front() {
                g.frames -= old.actions.len();
            }
        }
        self.ready.notify_all();
    }

    /// Record that the producer failed; waiting samplers return this error.
    pub fn fail(&self, message: String) {
        self.lock().failed = Some(message);
        self.ready.notify_all();
    }

    /// Episodes pushed so far.
    pub fn episodes_added(&self) -> u64 {
        self.lock().added
    }

    /// Frames held now.
    pub fn frames(&self) -> usize {
        self.lock().frames
    }

    /// `batch` windows of `len` frames, uniformly over the windows of the held training (or
    /// validation) episodes, waiting until there is at least one long-enough episode.
    pub fn sample(&self, rng: &mut ChaCha8Rng, len: usize, batch: usize, val: bool, device: &Device) -> Result<WindowBatch, AgentError> {
        let mut g = self.lock();
        loop {
            if let Some(m) = &g.failed {
                return Err(AgentError::Config(format!("the live env stream failed: {m}")));
            }
            let pool = if val { &g.val } else { &g.train };
            let total: usize = pool.iter().map(|e| (e.actions.len() + 1).saturating_sub(len)).sum();
            if total > 0 {
                let mut frames = Vec::with_capacity(batch * len * self.height * self.width * 3);
                let mut actions = Vec::with_capacity(batch * len);
                let mut missions = Vec::with_capacity(batch);
                let fb = self.height * self.width * 3;
                for _ in 0..batch {
                    let mut k = rng.random_range(0..total);
                    for ep in pool {
                        let n = (ep.actions.len() + 1).saturating_sub(len);
                        if k < n {
                            frames.extend_from_slice(&ep.frames[k * fb..(k + len) * fb]);
                            actions.extend_from_slice(&ep.actions[k..k + len]);
                            missions.push(ep.mission.clone());
                            break;
                        }
                        k -= n;
                    }
                }
                return Ok(WindowBatch {
                    datasets: vec![0; batch],
                    frames: Tensor::from_vec(frames, (batch, len, self.height, self.width, 3), device)?,
                    actions: Tensor::from_vec(actions, (batch, len), device)?,
                    episodes: vec![0; batch],
                    starts: vec![0; batch],
                    captions: vec![None; batch],
                    missions,
                });
            }
            g = self.ready.wait_timeout(g, Duration::from_millis(200)).map(|(g, _)| g).unwrap_or_else(|p| p.into_inner().0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn samples_windows_of_held_episodes_and_evicts_old_ones() -> Result<(), AgentError> {
        let buf = ReplayBuffer::new(20, 2, 2, Vec::new());
        for i in 0..12u8 {
            let len = 5;
            buf.push(ReplayEpisode { frames: vec![i; len * 12], actions: vec![i64::from(i); len], mission: format!("m{i}") });
        }
        assert!(buf.frames() <= 20 + 5 * 2, "capacity kept: {}", buf.frames());
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let b = buf.sample(&mut rng, 3, 8, false, &Device::Cpu)?;
        assert_eq!(b.frames.dims(), &[8, 3, 2, 2, 3]);
        let actions: Vec<Vec<i64>> = b.actions.to_vec2()?;
        // Every window comes from one recent episode (its frames and actions carry its number).
        for (w, m) in actions.iter().zip(&b.missions) {
            assert!(w.iter().all(|a| *a == w[0]) && *m == format!("m{}", w[0]) && w[0] >= 6, "{w:?} {m}");
        }
        let v = buf.sample(&mut rng, 3, 2, true, &Device::Cpu)?;
        assert_eq!(v.missions, vec!["m9".to_string(), "m9".to_string()]);
        buf.fail("boom".into());
        assert!(buf.sample(&mut rng, 3, 1, false, &Device::Cpu).is_err());
        Ok(())
    }
}
