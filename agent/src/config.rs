//! Model and training configuration, with the `tiny`, `mini`, `small`, `base` and `count` presets
//! that live in `assets/presets/` (embedded at build time, so there is one definition of each).
//! `count` is `mini` for questions answered from the first frame: one frame of context, so a
//! window holds 30 slots instead of 81, and batches four times as large.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::AgentError;

const PRESETS: [(&str, &str); 5] = [
    ("tiny", include_str!("../../assets/presets/tiny.json")),
    ("mini", include_str!("../../assets/presets/mini.json")),
    ("small", include_str!("../../assets/presets/small.json")),
    ("base", include_str!("../../assets/presets/base.json")),
    ("count", include_str!("../../assets/presets/count.json")),
];

/// The frame tokenizer: a patch transformer autoencoder with an FSQ bottleneck.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenizerConfig {
    /// Patch side in pixels; one token per patch.
    pub patch: usize,
    /// Transformer width.
    pub dim: usize,
    /// Attention heads.
    pub heads: usize,
    /// Encoder blocks.
    pub encoder_layers: usize,
    /// Decoder blocks.
    pub decoder_layers: usize,
    /// FSQ levels per latent channel (odd numbers); the codebook is their product.
    pub levels: Vec<u32>,
}

/// The dynamics model: a causal transformer over interleaved frame and action tokens.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DynamicsConfig {
    /// Transformer width.
    pub dim: usize,
    /// Attention heads.
    pub heads: usize,
    /// Blocks.
    pub layers: usize,
    /// Frames in a training window (the context length, in frames).
    pub frames: usize,
    /// Token ids reserved after the actions for text (missions, questions, answers).
    pub text_tokens: usize,
    /// Action tokens: one per name of the training data's action vocabulary, `answer` last.
    /// A checkpoint's `config.json` written before this field existed read 11 ([`LEGACY_ACTION_TOKENS`]).
    #[serde(default = "current_action_tokens")]
    pub action_tokens: usize,
    /// The copy gate: a learned logit on each slot's current code (off only to measure it).
    #[serde(default = "yes")]
    pub copy_gate: bool,
    /// Add each block's action embedding to its frame slots (off: the action is one token in the
    /// block, found through attention; only to measure it).
    #[serde(default = "yes")]
    pub action_at_slots: bool,
}

fn yes() -> bool {
    true
}

fn current_action_tokens() -> usize {
    ACTION_TOKENS
}

/// Optimisation and bookkeeping.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Seeds initialisation, the split and batch order.
    pub seed: u64,
    /// Tokenizer optimiser steps.
    pub tokenizer_steps: u64,
    /// Frames per tokenizer batch.
    pub tokenizer_batch: usize,
    /// Tokenizer peak learning rate.
    pub tokenizer_lr: f64,
    /// Dynamics optimiser steps.
    pub dynamics_steps: u64,
    /// Windows per dynamics batch.
    pub dynamics_batch: usize,
    /// Dynamics peak learning rate.
    pub dynamics_lr: f64,
    /// Linear warm-up steps (per stage).
    pub warmup_steps: u64,
    /// Cosine decay ends at this fraction of the peak rate.
    pub min_lr_fraction: f64,
    /// AdamW decoupled weight decay.
    pub weight_decay: f64,
    /// Global gradient-norm clip.
    pub grad_clip: f64,
    /// Fraction of a dynamics window's actions replaced by the `null` token, so the model also
    /// learns the action-free prediction that the agent (which is given no actions) starts from.
    #[serde(default = "default_action_dropout")]
    pub action_dropout: f64,
    /// Fraction of dynamics windows whose actions are all replaced by `null`: the regime the
    /// agent acts in (it is given no actions), trained as a whole window rather than a slot here
    /// and there.
    #[serde(default)]
    pub null_window_rate: f64,
    /// Pretrain in the agent's layout with this text before the frames (`none`: the world
    /// model's own layout, no text). See [`TextPrefix`].
    #[serde(default, skip_serializing_if = "TextPrefix::is_none")]
    pub text_prefix: TextPrefix,
    /// Episodes held out for validation.
    pub val_fraction: f64,
    /// Steps between validation passes (and plot updates).
    pub eval_every: u64,
    /// Validation batches per pass.
    pub eval_batches: usize,
    /// Steps between checkpoints.
    pub checkpoint_every: u64,
}

fn default_action_dropout() -> f64 {
    0.1
}

/// What fills the instruction slots during pretraining. With any text, pretraining windows are
/// laid out as the agent reads them (instruction words, then `finetune.frames` frame blocks, each
/// with its action slot, at the agent's positions), and each window is one frame longer than the
/// agent's context so that the newest frame's position, which the agent decides from, has a next
/// frame to predict too.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextPrefix {
    /// The world model's layout: frames and actions only.
    #[default]
    None,
    /// The episode's mission (or question), as the agent will read it.
    Mission,
    /// The caption of the window's last frame, the one only predicted: what will be in view,
    /// in the words missions use, from the env's ground truth (no expert involved).
    Caption,
}

impl TextPrefix {
    /// Whether pretraining keeps the world model's own layout.
    pub fn is_none(&self) -> bool {
        *self == TextPrefix::None
    }
}

/// Stage two and three: instruction tuning and prompting on expert demonstrations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FinetuneConfig {
    /// Optimiser steps.
    pub steps: u64,
    /// Windows per batch.
    pub batch: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Linear warm-up steps.
    pub warmup_steps: u64,
    /// Weight of the auxiliary next-frame-token loss beside the action and answer loss.
    pub frame_loss_weight: f64,
    /// Words of instruction a sequence holds (shorter ones are left-padded).
    pub text_len: usize,
    /// Frames of context the agent reads (at most `dynamics.frames`).
    pub frames: usize,
    /// Draw the same number of windows from every episode in an epoch (instead of every window
    /// once), so that short episodes such as questions are not drowned out by long walks.
    pub episode_balanced: bool,
    /// Draw the same number of windows from every scenario in an epoch, so that many cheap
    /// short question episodes and fewer long walks each get their share.
    pub scenario_balanced: bool,
    /// Give the agent continuous features of each frame patch from its pixels (a patch-merging
    /// stem, see `model::PixelStem`) beside the tokenizer's codes.
    pub pixel_stem: bool,
    /// Steps between validation passes.
    pub eval_every: u64,
    /// Validation batches per pass.
    pub eval_batches: usize,
    /// Steps between checkpoints.
    pub checkpoint_every: u64,
    /// The learning rate of the trunk (every weight the world model has: embeddings, blocks,
    /// head) as a fraction of `lr`; the agent's own parts (`text_pos`, the pixel stem) take
    /// `lr`. Below 1, a pretrained trunk moves slower than the parts new to it.
    pub trunk_lr_scale: f64,
    /// LP-FT's first phase (Kumar et al. 2022): the trunk stays as it is for this many steps
    /// while the agent's own parts train; afterwards everything trains, the trunk's optimiser
    /// moments starting fresh.
    pub probe_steps: u64,
    /// Co-training (GR-1's recipe): the share of every batch's windows that are play windows
    /// replayed from the world model's own pretraining datasets, laid out as in pretraining, with
    /// only a next-frame loss. 0 replays nothing; needs a pretrained start.
    #[serde(skip_serializing_if = "is_zero")]
    pub replay_share: f64,
    /// Weight of the replayed windows' next-frame loss.
    #[serde(skip_serializing_if = "is_zero")]
    pub replay_weight: f64,
    /// Online imitation (`finetune --online`): rounds of rollouts, expert labels and training.
    pub online: OnlineConfig,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

impl Default for FinetuneConfig {
    fn default() -> Self {
        Self {
            steps: 1000,
            batch: 16,
            lr: 1e-3,
            warmup_steps: 50,
            frame_loss_weight: 0.1,
            text_len: 12,
            frames: 2,
            episode_balanced: false,
            scenario_balanced: false,
            pixel_stem: false,
            eval_every: 100,
            eval_batches: 4,
            checkpoint_every: 100,
            trunk_lr_scale: 1.0,
            probe_steps: 0,
            replay_share: 0.0,
            replay_weight: 0.0,
            online: OnlineConfig::default(),
        }
    }
}

/// DAgger's schedule (Ross et al. 2011). Round 0 is the expert's own demonstrations; from round 1
/// the agent plays, and each decision is the expert's instead with probability β, which decays.
/// The fine-tuning steps are spread evenly over the rounds, or round 0 (behaviour cloning on the
/// expert's play and any demonstrations given beside) takes `first_round_steps` and the later
/// rounds share the rest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OnlineConfig {
    /// Rounds of rollouts and training.
    pub rounds: u64,
    /// Episodes played (and labelled) per round.
    pub episodes: u64,
    /// β of round 1.
    pub beta: f64,
    /// β shrinks by this factor each round after.
    pub beta_decay: f64,
    /// Training steps of round 0 [default: an even share].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_round_steps: Option<u64>,
}

impl Default for OnlineConfig {
    fn default() -> Self {
        Self { rounds: 4, episodes: 64, beta: 0.5, beta_decay: 0.5, first_round_steps: None }
    }
}

impl OnlineConfig {
    /// The probability that round `round` executes the expert's decision rather than the agent's.
    pub fn beta_of(&self, round: u64) -> f64 {
        if round == 0 { 1.0 } else { self.beta * self.beta_decay.powi(i32::try_from(round - 1).unwrap_or(i32::MAX)) }
    }

    /// The global step at which round `round`'s training ends, of `steps` in all.
    pub fn steps_until(&self, round: u64, steps: u64) -> u64 {
        if round + 1 >= self.rounds {
            return steps;
        }
        match self.first_round_steps {
            Some(first) => first.min(steps) + (steps - first.min(steps)) * round / (self.rounds - 1),
            None => steps * (round + 1) / self.rounds.max(1),
        }
    }
}

/// Everything that defines a model and its training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Preset name, or what the user called it.
    pub name: String,
    /// Frame side in pixels (square frames).
    pub image_size: usize,
    /// Frame tokenizer.
    pub tokenizer: TokenizerConfig,
    /// Dynamics transformer.
    pub dynamics: DynamicsConfig,
    /// Training.
    pub train: TrainConfig,
    /// Fine-tuning (configs written before it existed read the defaults).
    #[serde(default)]
    pub finetune: FinetuneConfig,
}

/// Number of action tokens of a new model: the env's eleven actions and `answer`.
pub const ACTION_TOKENS: usize = 12;
/// Action tokens of models saved before `toggle` existed: ten actions and `answer`.
pub const LEGACY_ACTION_TOKENS: usize = 11;

impl Config {
    /// A preset by name (`tiny`, `mini`, `small`, `base`, `count`), or a JSON file by path.
    pub fn load(name_or_path: &str) -> Result<Self, AgentError> {
        if let Some((name, text)) = PRESETS.iter().find(|(n, _)| *n == name_or_path) {
            return Self::parse(text, &format!("preset {name}"));
        }
        let path = Path::new(name_or_path);
        if !path.is_file() {
            let names: Vec<&str> = PRESETS.iter().map(|p| p.0).collect();
            return Err(AgentError::Config(format!("`{name_or_path}` is neither a preset ({}) nor a file", names.join(", "))));
        }
        let text = std::fs::read_to_string(path).map_err(|e| AgentError::Config(format!("{}: {e}", path.display())))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The `tiny` preset, for tests.
    pub fn tiny() -> Self {
        Self::parse(PRESETS[0].1, "preset tiny").unwrap_or_else(|e| panic!("the embedded tiny preset is valid: {e}"))
    }

    /// Parse and check JSON; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, AgentError> {
        let c: Config = serde_json::from_str(text).map_err(|e| AgentError::Config(format!("{origin}: {e}")))?;
        c.validate().map_err(|m| AgentError::Config(format!("{origin}: {m}")))?;
        Ok(c)
    }

    /// Whether a run trained with `saved` may go on with `self`: the same config, or one whose
    /// fine-tuning only runs longer (more steps, more online rounds), so that a finished run
    /// can be extended without starting over.
    pub fn continues(&self, saved: &Config) -> bool {
        let (ft, was) = (&self.finetune, &saved.finetune);
        let mut same = saved.clone();
        same.finetune.steps = ft.steps;
        same.finetune.online.rounds = ft.online.rounds;
        same == *self && ft.steps >= was.steps && ft.online.rounds >= was.online.rounds
    }

    /// Why the config cannot be trained, if it cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.dynamics.action_tokens < 2 {
            return Err(format!("dynamics.action_tokens {} must be at least 2 (the actions, then `answer`)", self.dynamics.action_tokens));
        }
        let t = &self.tokenizer;
        if t.patch == 0 || !self.image_size.is_multiple_of(t.patch) {
            return Err(format!("tokenizer.patch {} must divide image_size {}", t.patch, self.image_size));
        }
        if t.levels.is_empty() || t.levels.iter().any(|&l| l < 3 || l % 2 == 0) {
            return Err("tokenizer.levels must be odd numbers of at least 3".into());
        }
        for (what, dim, heads) in [("tokenizer", t.dim, t.heads), ("dynamics", self.dynamics.dim, self.dynamics.heads)] {
            if heads == 0 || dim % heads != 0 {
                return Err(format!("{what}.dim {dim} must be a multiple of {what}.heads {heads}"));
            }
        }
        if self.dynamics.frames < 2 {
            return Err("dynamics.frames must be at least 2".into());
        }
        let tr = &self.train;
        if !(0.0..=1.0).contains(&tr.null_window_rate) {
            return Err(format!("train.null_window_rate {} must be between 0 and 1", tr.null_window_rate));
        }
        if !(0.0..=1.0).contains(&tr.action_dropout) {
            return Err(format!("train.action_dropout {} must be between 0 and 1", tr.action_dropout));
        }
        if tr.tokenizer_batch == 0 || tr.dynamics_batch == 0 || tr.eval_every == 0 || tr.checkpoint_every == 0 || tr.eval_batches == 0 {
            return Err("batch sizes, eval_every, eval_batches and checkpoint_every must be at least 1".into());
        }
        let ft = &self.finetune;
        if ft.batch == 0 || ft.eval_every == 0 || ft.eval_batches == 0 || ft.checkpoint_every == 0 || ft.text_len == 0 {
            return Err("finetune batch, text_len, eval_every, eval_batches and checkpoint_every must be at least 1".into());
        }
        if !(ft.trunk_lr_scale >= 0.0 && ft.trunk_lr_scale.is_finite()) {
            return Err(format!("finetune.trunk_lr_scale {} must be a number from 0 up", ft.trunk_lr_scale));
        }
        if !((0.0..1.0).contains(&ft.replay_share) && ft.replay_weight >= 0.0 && ft.replay_weight.is_finite()) {
            return Err(format!("finetune.replay_share {} must be from 0 up to below 1 and replay_weight {} a number from 0 up", ft.replay_share, ft.replay_weight));
        }
        if ft.frames == 0 || ft.frames > self.dynamics.frames {
            return Err(format!("finetune.frames {} must be between 1 and dynamics.frames {}", ft.frames, self.dynamics.frames));
        }
        let on = &ft.online;
        if on.rounds == 0 || on.episodes == 0 {
            return Err("finetune.online needs at least 1 round of at least 1 episode".into());
        }
        if !(0.0..=1.0).contains(&on.beta) || !(0.0..=1.0).contains(&on.beta_decay) {
            return Err("finetune.online.beta and beta_decay must be between 0 and 1".into());
        }
        if let Some(first) = on.first_round_steps
            && (first == 0 || first > ft.steps || (on.rounds > 1 && first + on.rounds - 1 > ft.steps))
        {
            return Err(format!("finetune.online.first_round_steps {first} must be at least 1 and leave a step for each of the other {} rounds of {}", on.rounds - 1, ft.steps));
        }
        Ok(())
    }

    /// Tokens per frame.
    pub fn tokens_per_frame(&self) -> usize {
        let g = self.image_size / self.tokenizer.patch;
        g * g
    }

    /// FSQ codebook size.
    pub fn codebook(&self) -> usize {
        self.tokenizer.levels.iter().map(|&l| l as usize).product()
    }

    /// Token id of action index `a`.
    pub fn action_token(&self, a: usize) -> u32 {
        (self.codebook() + a) as u32
    }

    /// The `null` action token, after the actions: "no action given".
    pub fn null_action_token(&self) -> u32 {
        (self.codebook() + self.dynamics.action_tokens) as u32
    }

    /// The action index of `answer`: the last action token.
    pub fn answer_action(&self) -> usize {
        self.dynamics.action_tokens - 1
    }

    /// First token id reserved for text.
    pub fn text_offset(&self) -> usize {
        self.codebook() + self.dynamics.action_tokens + 1
    }

    /// The dynamics vocabulary: frame codes, then actions and `null`, then text.
    pub fn vocab(&self) -> usize {
        self.text_offset() + self.dynamics.text_tokens
    }

    /// Longest interleaved sequence: `frames` frames and the actions between them.
    pub fn max_seq(&self) -> usize {
        self.dynamics.frames * (self.tokens_per_frame() + 1) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_is_mini_reading_one_frame_in_larger_batches() {
        let (mini, count) = (Config::load("mini").expect("mini preset"), Config::load("count").expect("count preset"));
        assert_eq!((count.finetune.frames, count.finetune.batch), (1, 64));
        let mut same = count.clone();
        same.name = mini.name.clone();
        (same.finetune.frames, same.finetune.batch, same.finetune.steps) = (mini.finetune.frames, mini.finetune.batch, mini.finetune.steps);
        assert_eq!(same, mini, "count differs from mini only in what it reads and how it batches");
    }

    #[test]
    fn only_longer_fine_tuning_continues_a_run() {
        let saved = Config::tiny();
        let mut longer = saved.clone();
        longer.finetune.steps += 10;
        longer.finetune.online.rounds += 1;
        assert!(longer.continues(&saved) && saved.continues(&saved));
        assert!(!saved.continues(&longer), "fewer steps than were trained");
        let mut other = longer.clone();
        other.train.seed += 1;
        assert!(!other.continues(&saved));
    }

    #[test]
    fn round_zero_takes_its_own_steps_and_the_rest_share_what_is_left() {
        let even = OnlineConfig { rounds: 4, ..OnlineConfig::default() };
        assert_eq!((0..4).map(|r| even.steps_until(r, 100)).collect::<Vec<_>>(), [25, 50, 75, 100]);
        let first = OnlineConfig { rounds: 4, first_round_steps: Some(70), ..OnlineConfig::default() };
        assert_eq!((0..4).map(|r| first.steps_until(r, 100)).collect::<Vec<_>>(), [70, 80, 90, 100]);
        let mut cfg = Config::tiny();
        cfg.finetune.steps = 100;
        cfg.finetune.online = OnlineConfig { first_round_steps: Some(98), ..first.clone() };
        assert!(cfg.validate().is_err_and(|m| m.contains("first_round_steps")), "no step left for rounds 2 and 3");
        cfg.finetune.online = first;
        assert!(cfg.validate().is_ok());
    }
}
