//! Linear probes of trunks on frames played in the live env (`sandtable probe`): the policy
//! plays episodes, every frame is kept with the env's ground truth of it (whether the target is
//! in view and at which bearing, which object sits at the centre of the image), and each trunk's
//! frozen features are probed for them, fitted on most episodes and scored on the rest.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use candle_core::Device;
use sandtable_agent::probe::{Folds, Probe, Trunk, TrunkWeights};
use sandtable_env::{Env, Info, PolicySpec, Scenario};
use serde::Serialize;

use crate::episode::{Visit, play_episode};

/// An object whose bearing is within this many degrees of straight ahead is at the centre.
const CENTRE_DEG: f32 = 8.0;
/// Of every this many episodes, one is scored, one chooses the ridge penalty, the rest fit.
const FOLDS: usize = 4;

/// What to probe.
#[derive(Clone, Debug)]
pub struct Probing {
    /// Checkpoints or runs whose trunks are probed.
    pub checkpoints: Vec<PathBuf>,
    /// Also probe each checkpoint's tokenizer under a transformer with random weights.
    pub random: bool,
    /// Scenario played.
    pub scenario: String,
    /// Episodes played.
    pub episodes: u64,
    /// Seed of the first episode (episode `i` plays seed + i).
    pub seed: u64,
    /// Who plays.
    pub policy: PolicySpec,
    /// Decisions per episode at most.
    pub steps: u32,
}

/// One frame's ground truth.
#[derive(Clone, Debug)]
struct Truth {
    episode: usize,
    in_view: bool,
    bearing: f32,
    /// Colour and shape names of the object at the centre, if one is.
    centre: Option<(String, String)>,
}

/// One trunk's scores.
#[derive(Clone, Debug, Serialize)]
pub struct ProbeRow {
    /// The checkpoint.
    pub checkpoint: PathBuf,
    /// `trained`, `random transformer` (the checkpoint's tokenizer only), or `pixels 8x8` (the
    /// frame itself, averaged down: the reference, with no model).
    pub weights: String,
    /// Whether the target is in view: accuracy, and the majority class's.
    pub target_in_view: (f64, f64),
    /// The target's bearing (radians, frames with it in view): R² on held-out episodes; `None`
    /// when a fold has no frame with the target in view.
    pub target_bearing_r2: Option<f64>,
    /// The centre object's colour (or none): accuracy, and the majority class's.
    pub centre_color: (f64, f64),
    /// The centre object's shape (or none): accuracy, and the majority class's.
    pub centre_shape: (f64, f64),
}

/// The probes' results and what they were fitted on.
#[derive(Clone, Debug, Serialize)]
pub struct ProbeResult {
    /// Scenario, policy, episodes, seed.
    pub scenario: String,
    /// Who played.
    pub policy: String,
    /// Episodes played.
    pub episodes: u64,
    /// Seed of the first.
    pub seed: u64,
    /// Frames fitted on (the penalty's choice included), frames scored.
    pub frames: (usize, usize),
    /// One row per trunk.
    pub rows: Vec<ProbeRow>,
}

/// Play, probe every trunk, and return the scores.
pub fn probe(job: &Probing, device: &Device) -> Result<ProbeResult> {
    let first = job.checkpoints.first().context("probe needs at least one checkpoint")?;
    let ckpt = sandtable_agent::checkpoint::resolve(first)?;
    let size = sandtable_agent::checkpoint::load_config(&ckpt)?.image_size as u32;
    let scenario = Arc::new(Scenario::load(&job.scenario).context("loading the scenario")?);
    let mut env = Env::new(scenario, size, size).context("starting the environment")?;
    let (mut frames, mut truths) = (Vec::new(), Vec::new());
    for e in 0..job.episodes {
        let episode = usize::try_from(e)?;
        play_episode(&mut env, &job.policy, job.seed.wrapping_add(e), job.steps, |visit| {
            let (frame, info) = match visit {
                Visit::Reset(obs, info) => (&obs.frame, info),
                Visit::Step(_, _, step) => (&step.obs.frame, &step.info),
            };
            frames.push(frame.rgb.clone());
            truths.push(truth(episode, info));
            Ok(())
        })?;
    }
    let fold = |k: &dyn Fn(usize) -> bool, seen_only: bool| (0..truths.len()).filter(|&i| k(truths[i].episode % FOLDS) && (!seen_only || truths[i].in_view)).collect::<Vec<_>>();
    let (fit, val, test) = (fold(&|k| k >= 2, false), fold(&|k| k == 1, false), fold(&|k| k == 0, false));
    let (seen_fit, seen_val, seen_test) = (fold(&|k| k >= 2, true), fold(&|k| k == 1, true), fold(&|k| k == 0, true));
    let all = Folds { fit: &fit, val: &val, test: &test };
    let seen = Folds { fit: &seen_fit, val: &seen_val, test: &seen_test };
    let in_view: Vec<usize> = truths.iter().map(|t| usize::from(t.in_view)).collect();
    let bearings: Vec<f64> = truths.iter().map(|t| f64::from(t.bearing)).collect();
    let classes = |pick: fn(&(String, String)) -> &String| {
        let mut names: Vec<String> = truths.iter().filter_map(|t| t.centre.as_ref().map(|c| pick(c).clone())).collect();
        names.sort();
        names.dedup();
        truths.iter().map(|t| t.centre.as_ref().map_or(0, |c| 1 + names.iter().position(|n| n == pick(c)).unwrap_or(0))).collect::<Vec<usize>>()
    };
    let (colors, shapes) = (classes(|c| &c.0), classes(|c| &c.1));
    let mut rows = Vec::new();
    let mut score = |checkpoint: PathBuf, weights: &str, feats: &[Vec<f32>]| -> Result<()> {
        let on_all = Probe::new(feats, all)?;
        let seen_in_every_fold = !seen.fit.is_empty() && !seen.val.is_empty() && !seen.test.is_empty();
        rows.push(ProbeRow {
            checkpoint,
            weights: weights.into(),
            target_in_view: on_all.classify(&in_view)?,
            target_bearing_r2: if seen_in_every_fold { Some(Probe::new(feats, seen)?.regress(&bearings)?) } else { None },
            centre_color: on_all.classify(&colors)?,
            centre_shape: on_all.classify(&shapes)?,
        });
        Ok(())
    };
    // The reference: what the pixels themselves hold, linearly, at 8 × 8.
    score(PathBuf::from("-"), "pixels 8x8", &frames.iter().map(|f| pooled(f, size as usize, 8)).collect::<Vec<_>>())?;
    for checkpoint in &job.checkpoints {
        let kinds: &[TrunkWeights] = if job.random { &[TrunkWeights::Trained, TrunkWeights::RandomTransformer] } else { &[TrunkWeights::Trained] };
        for &kind in kinds {
            let trunk = Trunk::load(checkpoint, kind, device).with_context(|| format!("loading {}", checkpoint.display()))?;
            let feats = trunk.features(&frames, device)?;
            tracing::info!(checkpoint = %checkpoint.display(), ?kind, frames = feats.len(), "probing");
            score(checkpoint.clone(), if kind == TrunkWeights::Trained { "trained" } else { "random transformer" }, &feats)?;
        }
    }
    Ok(ProbeResult { scenario: job.scenario.clone(), policy: job.policy.name(), episodes: job.episodes, seed: job.seed, frames: (fit.len() + val.len(), test.len()), rows })
}

/// An RGB frame of `side` pixels averaged down to `to × to` cells, scaled to 0..1.
fn pooled(rgb: &[u8], side: usize, to: usize) -> Vec<f32> {
    let cell = side / to;
    let mut out = vec![0f32; to * to * 3];
    for y in 0..side {
        for x in 0..side {
            for c in 0..3 {
                out[((y / cell) * to + x / cell) * 3 + c] += f32::from(rgb[(y * side + x) * 3 + c]) / (255.0 * (cell * cell) as f32);
            }
        }
    }
    out
}

/// The ground truth of the frame that `info` describes.
fn truth(episode: usize, info: &Info) -> Truth {
    let off_centre = |o: &sandtable_env::ObjectInfo| info.bearing(o).abs();
    let target = info.objects.get(info.target);
    let centre = info
        .objects
        .iter()
        .filter(|o| o.visible && Some(o.id) != info.held && off_centre(o) <= CENTRE_DEG.to_radians())
        .min_by(|a, b| off_centre(a).total_cmp(&off_centre(b)))
        .map(|o| (o.color.name().to_string(), o.shape.name().to_string()));
    Truth { episode, in_view: target.is_some_and(|o| o.visible), bearing: target.map_or(0.0, |o| info.bearing(o)), centre }
}
