//! The two renderers: they show the same scene, each object where the ground truth puts it, and
//! the batch renderer takes batches of any size, across several atlas pages.

use std::sync::Arc;

use sandtable_env::sim::SimState;
use sandtable_env::{Action, Env, EnvBatch, EnvConfig, EnvError, Frame, ObjectColor, Renderer, Scenario};

use crate::util::go_to;

/// Where the centre of object `i` lands in a `w × h` frame, in pixels, by the camera model.
pub(crate) fn project(s: &SimState, i: usize, w: u32, h: u32) -> (f32, f32) {
    let o = &s.layout.objects[i];
    let [ex, ey, ez] = s.eye();
    let d = [o.pos.0 - ex, o.lift + o.extent.height / 2.0 - ey, o.pos.1 - ez];
    let (fx, fz) = s.agent.forward();
    let (rx, rz) = s.agent.right();
    let ahead = d[0] * fx + d[2] * fz;
    let side = d[0] * rx + d[2] * rz;
    let pitch = s.scenario.agent.pitch_deg.to_radians();
    let fwd = ahead * pitch.cos() - d[1] * pitch.sin();
    let up = ahead * pitch.sin() + d[1] * pitch.cos();
    let t = (s.scenario.agent.fov_deg.to_radians() / 2.0).tan();
    let aspect = w as f32 / h as f32;
    ((side / (fwd * t * aspect) + 1.0) / 2.0 * w as f32, (1.0 - up / (fwd * t)) / 2.0 * h as f32)
}

/// The object colour a pixel shows, if it is saturated enough to be an object at all: the one
/// whose direction away from grey is closest to the pixel's.
fn object_color(rgb: [u8; 3]) -> Option<ObjectColor> {
    let chroma = |c: [f32; 3]| {
        let m = (c[0] + c[1] + c[2]) / 3.0;
        let v = [c[0] - m, c[1] - m, c[2] - m];
        let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt().max(1e-6);
        v.map(|x| x / n)
    };
    let (max, min) = (rgb.iter().max().copied().unwrap_or(0), rgb.iter().min().copied().unwrap_or(0));
    if max - min < 60 {
        return None;
    }
    let p = chroma(rgb.map(|c| c as f32 / 255.0));
    ObjectColor::ALL
        .into_iter()
        .map(|c| {
            let q = chroma(c.srgb());
            (c, p[0] * q[0] + p[1] * q[1] + p[2] * q[2])
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .filter(|(_, cos)| *cos > 0.8)
        .map(|(c, _)| c)
}

pub(crate) fn colors_near(frame: &Frame, x: f32, y: f32, r: i32) -> Vec<ObjectColor> {
    let mut out = Vec::new();
    for dy in -r..=r {
        for dx in -r..=r {
            let (px, py) = (x.floor() as i32 + dx, y.floor() as i32 + dy);
            if px >= 0 && py >= 0 && (px as u32) < frame.width && (py as u32) < frame.height {
                out.extend(object_color(frame.pixel(px as u32, py as u32)));
            }
        }
    }
    out
}

fn colors_in(frame: &Frame) -> std::collections::BTreeSet<ObjectColor> {
    (0..frame.height).flat_map(|y| (0..frame.width).map(move |x| (x, y))).filter_map(|(x, y)| object_color(frame.pixel(x, y))).collect()
}

/// Every object the ground truth calls visible shows its colour where the camera model projects
/// its centre, in both renderers; and both renderers show the same set of object colours.
#[test]
fn both_renderers_draw_each_visible_object_where_it_is() {
    let scenario = Arc::new(Scenario::load("describe_object").expect("builtin"));
    let mut envs: Vec<Env> = Renderer::ALL
        .iter()
        .map(|&renderer| Env::with_config(EnvConfig { renderer, ..EnvConfig::new(scenario.clone()) }).expect("env"))
        .collect();
    let mut checked = 0;
    for seed in 0..12 {
        let mut frames = Vec::new();
        for env in &mut envs {
            env.reset(seed).expect("reset");
            let step = env.step(if seed % 2 == 0 { Action::TurnLeft } else { Action::Forward }).expect("step");
            let s = env.state().expect("state");
            for (i, o) in s.layout.objects.iter().enumerate() {
                if !s.is_visible(i) {
                    continue;
                }
                let (x, y) = project(s, i, 64, 64);
                let near = colors_near(&step.obs.frame, x, y, 2);
                assert!(
                    near.contains(&o.color),
                    "{}: seed {seed}: the {} {} projects to ({x:.1}, {y:.1}) but shows {near:?} there",
                    env.adapter(),
                    o.color.name(),
                    o.shape.name()
                );
                checked += 1;
            }
            frames.push(step.obs.frame);
        }
        assert_eq!(colors_in(&frames[0]), colors_in(&frames[1]), "seed {seed}: the renderers show different objects");
    }
    assert!(checked > 40, "only {checked} visible objects were checked");
}

/// Frames of 1024² take 4 tiles per 2048² page, so 6 envs span two pages. An env on the second
/// page sees what it sees alone.
#[test]
fn a_batch_spanning_atlas_pages_matches_envs_alone() {
    let config = EnvConfig { width: 1024, height: 1024, ..EnvConfig::new(go_to()) };
    let mut alone = Env::with_config(config.clone()).expect("env");
    let (solo, _) = alone.reset(5).expect("reset");
    let solo_step = alone.step(Action::TurnRight).expect("step");
    drop(alone);
    let mut batch = EnvBatch::new(EnvConfig { num_envs: 6, ..config }).expect("batch");
    let first = batch.reset_many(&(0..6).map(|i| (i, if i == 5 { 5 } else { 50 + i as u64 })).collect::<Vec<_>>()).expect("reset");
    assert!(first[5].0.frame == solo.frame, "the reset frame on the second page differs");
    let steps = batch.step(&[Action::TurnLeft, Action::Forward, Action::TurnRight, Action::Noop, Action::Forward, Action::TurnRight]).expect("step");
    assert!(steps[5].obs.frame == solo_step.obs.frame, "the stepped frame on the second page differs");
    assert!(steps[0].obs.frame != steps[5].obs.frame);
}

/// A batch too big for memory is a one-line config error, not a panic or an abort.
#[test]
fn a_batch_too_big_for_memory_is_an_error() {
    let err = EnvBatch::new(EnvConfig { num_envs: 1 << 30, ..EnvConfig::new(go_to()) }).err().expect("must fail");
    assert!(matches!(err, EnvError::Config(_)), "{err}");
    assert!(err.to_string().contains("GiB") && !err.to_string().contains('\n'), "{err}");
}

/// Both renderers take batches past 63 envs (the PBR path used to panic building render layers).
#[test]
fn both_renderers_take_a_batch_of_70() {
    for renderer in Renderer::ALL {
        let mut batch = EnvBatch::new(EnvConfig { num_envs: 70, width: 16, height: 16, renderer, ..EnvConfig::new(go_to()) }).expect("batch");
        let out = batch.reset_many(&(0..70).map(|i| (i, i as u64)).collect::<Vec<_>>()).expect("reset");
        assert!(out[69].0.frame.rgb.iter().any(|&b| b > 0), "{renderer}: env 69's frame is black");
        batch.step(&[Action::Forward; 70]).expect("step");
    }
}

/// Autoreset in one update: env 0 starts a new episode while env 1 steps, and both come back.
#[test]
fn a_reset_rides_along_with_the_others_steps() {
    use sandtable_env::{Advanced, Decision, Directive};
    let mut batch = EnvBatch::new(EnvConfig { num_envs: 2, ..EnvConfig::new(go_to()) }).expect("batch");
    batch.reset_many(&[(0, 1), (1, 2)]).expect("reset");
    let out = batch.advance(&[Some(Directive::Reset(9)), Some(Directive::Decide(Decision::Act(Action::Forward)))]).expect("advance");
    let Some(Advanced::Reset(obs, info)) = &out[0] else { panic!("env 0 did not reset") };
    assert_eq!(info.step, 0);
    let mut alone = Env::new(go_to(), 64, 64).expect("env");
    assert!(alone.reset(9).expect("reset").0.frame == obs.frame);
    assert!(matches!(&out[1], Some(Advanced::Stepped(s)) if s.info.step == 1));
}
