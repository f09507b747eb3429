//! Play windows in the agent's layout: recorded play cut into windows one frame longer than the
//! agent's context, with the episode's mission before the frames and the actions given, some
//! dropped to `null`. Pretraining in the agent's layout trains on them, and fine-tuning replays
//! them beside the demonstrations (co-training).

use candle_core::Tensor;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::AgentError;
use crate::config::TextPrefix;
use crate::dataset::WindowBatch;
use crate::model::PlayWindow;
use crate::text::TextVocab;

/// How a window's actions are dropped to `null`: all of them with probability `window_rate`
/// (the agent's own regime: it is given no actions), else each with probability `rate`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Drops {
    pub(crate) rate: f64,
    pub(crate) window_rate: f64,
}

impl Drops {
    /// Which of a window's `slots` actions are dropped, drawn from `rng`.
    pub(crate) fn draw(self, rng: &mut ChaCha8Rng, slots: usize) -> Vec<bool> {
        // Drawn only when asked for, so runs without whole-window drops keep their stream.
        let whole = self.window_rate > 0.0 && rng.random::<f64>() < self.window_rate;
        (0..slots).map(|_| whole || rng.random::<f64>() < self.rate).collect()
    }
}

/// The windows of `batch` (whose frames are `codes` `[b, t, p]`) as play windows: the last
/// `text_len` words of each window's `text` (none, its mission or its last frame's caption),
/// `t` frames and the `t − 1` actions between them, dropped by `drops` from `seed`; with
/// `pixels`, each input frame's bytes.
pub(crate) fn play_windows(batch: &WindowBatch, codes: &Tensor, vocab: &TextVocab, (text, text_len): (TextPrefix, usize), drops: Drops, seed: u64, pixels: bool) -> Result<Vec<PlayWindow>, AgentError> {
    let (b, t, p) = codes.dims3()?;
    if t < 2 {
        return Err(AgentError::Config(format!("a play window needs at least 2 frames, this batch has {t}")));
    }
    let codes: Vec<u32> = codes.flatten_all()?.to_vec1()?;
    let actions: Vec<i64> = batch.actions.flatten_all()?.to_device(&candle_core::Device::Cpu)?.to_vec1()?;
    let frames: Vec<u8> = if pixels { batch.frames.flatten_all()?.to_device(&candle_core::Device::Cpu)?.to_vec1()? } else { Vec::new() };
    let frame_bytes = frames.len() / (b * t).max(1);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(b);
    for i in 0..b {
        let dropped = drops.draw(&mut rng, t - 1);
        let mut acts = Vec::with_capacity(t - 1);
        for (f, &off) in dropped.iter().enumerate() {
            let a = actions[i * t + f];
            let a = usize::try_from(a).map_err(|_| AgentError::Config(format!("window {i} has no action after frame {f} (an episode's last frame inside a window)")))?;
            acts.push((!off).then_some(a));
        }
        let words = match text {
            TextPrefix::None => "",
            TextPrefix::Mission => batch.missions[i].as_str(),
            TextPrefix::Caption => batch.captions[i].as_deref().ok_or_else(|| {
                AgentError::Config("train.text_prefix `caption` needs datasets recorded with captions (by this version of `sandtable record`)".into())
            })?,
        };
        out.push(PlayWindow {
            text: vocab.encode_last(words, text_len).0,
            codes: (0..t).map(|f| codes[(i * t + f) * p..(i * t + f + 1) * p].to_vec()).collect(),
            actions: acts,
            pixels: if pixels { (0..t - 1).map(|f| frames[(i * t + f) * frame_bytes..(i * t + f + 1) * frame_bytes].to_vec()).collect() } else { Vec::new() },
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use candle_core::Device;

    use super::*;

    /// Every play window carries its mission's words, and the share of windows with no action
    /// given follows `window_rate` (slot drops alone make it `rate` to the power of the slots).
    #[test]
    fn windows_carry_text_and_lose_all_their_actions_at_the_configured_rate() -> Result<(), AgentError> {
        let (b, t, p) = (2000, 4, 3);
        let missions: Vec<String> = (0..b).map(|i| if i % 2 == 0 { "go to the red cube".into() } else { "pick up the blue ball".into() }).collect();
        let vocab = TextVocab::build(missions.iter().map(String::as_str));
        let batch = WindowBatch {
            datasets: vec![0; b],
            frames: Tensor::zeros((b, t, 1, 1, 3), candle_core::DType::U8, &Device::Cpu)?,
            actions: Tensor::from_vec((0..b * t).map(|i| (i % 5) as i64).collect::<Vec<_>>(), (b, t), &Device::Cpu)?,
            episodes: (0..b).collect(),
            starts: vec![0; b],
            missions: missions.clone(),
            captions: vec![None; b],
        };
        let codes = Tensor::from_vec((0..(b * t * p) as u32).collect::<Vec<_>>(), (b, t, p), &Device::Cpu)?;
        let share = |drops: Drops| -> Result<f64, AgentError> {
            let windows = play_windows(&batch, &codes, &vocab, (TextPrefix::Mission, 3), drops, 11, false)?;
            for (i, w) in windows.iter().enumerate() {
                assert_eq!(w.text, vocab.encode_last(&missions[i], 3).0);
                assert_eq!((w.codes.len(), w.actions.len()), (t, t - 1));
                assert_eq!(w.codes[t - 1][0], ((i * t + t - 1) * p) as u32, "the frame after the context is the target");
                assert!(w.actions.iter().enumerate().all(|(f, a)| a.is_none_or(|a| a == (i * t + f) % 5)));
            }
            Ok(windows.iter().filter(|w| w.actions.iter().all(Option::is_none)).count() as f64 / b as f64)
        };
        assert!((share(Drops { rate: 0.0, window_rate: 0.6 })? - 0.6).abs() < 0.04);
        assert!((share(Drops { rate: 0.5, window_rate: 0.0 })? - 0.125).abs() < 0.03);
        assert_eq!(share(Drops { rate: 0.0, window_rate: 0.0 })?, 0.0);
        Ok(())
    }
}
