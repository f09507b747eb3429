//! Doors, keys and boxes in frames: a closed door hides what is behind it, an opened box shows
//! what it held where it lies, interactive episodes draw the same alone and in a batch of 64, and
//! a recorded episode with `toggle` replays to its frames.

use std::sync::Arc;

use sandtable_agent::dataset::Dataset;
use sandtable_env::sim::SimState;
use sandtable_env::{Action, Env, EnvBatch, EnvConfig, Renderer, Scenario, expert_action};

use crate::env_render::{colors_near, project};
use crate::util::sandtable;

fn scenario(name: &str) -> Arc<Scenario> {
    Arc::new(Scenario::load(name).expect("builtin"))
}

/// Whether object `i`'s centre lies ahead of the camera and projects inside a `side²` frame,
/// `margin` pixels in from its edges.
fn in_frame(s: &SimState, i: usize, side: u32, margin: f32) -> bool {
    let o = &s.layout.objects[i];
    let (fx, fz) = s.agent.forward();
    let ahead = (o.pos.0 - s.agent.x) * fx + (o.pos.1 - s.agent.z) * fz;
    let (x, y) = project(s, i, side, side);
    ahead > 0.3 && x >= margin && y >= margin && x <= side as f32 - margin && y <= side as f32 - margin
}

/// In both renderers, the step that opens the box holding the target shows the target's colour
/// where the camera model puts it.
#[test]
fn opening_a_box_shows_what_it_held_where_it_lies() {
    let sc = scenario("find_in_box");
    for renderer in Renderer::ALL {
        let mut env = Env::with_config(EnvConfig { renderer, ..EnvConfig::new(sc.clone()) }).expect("env");
        let mut shown = 0;
        for seed in 0..10 {
            env.reset(seed).expect("reset");
            let s = env.state().expect("state");
            let target = s.layout.role("target").expect("target");
            let holder = s.layout.objects[target].inside.expect("the target starts in a box");
            // A box of the target's own colour would pass the check for it.
            if s.layout.objects[holder].color == s.layout.objects[target].color {
                continue;
            }
            loop {
                let s = env.state().expect("state");
                let shut = s.layout.objects[target].inside.is_some();
                let step = env.step(expert_action(s)).expect("step");
                let s = env.state().expect("state");
                if shut && s.layout.objects[target].inside.is_none() {
                    assert!(s.is_visible(target), "{renderer}: seed {seed}: the opened box's object is out of view");
                    let (x, y) = project(s, target, 64, 64);
                    // A torus's centre is its hole: look a few pixels around.
                    let near = colors_near(&step.obs.frame, x, y, 3);
                    let color = s.layout.objects[target].color;
                    assert!(near.contains(&color), "{renderer}: seed {seed}: the {} object that came out of the box is not at ({x:.1}, {y:.1}): {near:?}", color.name());
                    shown += 1;
                    break;
                }
                if step.terminated || step.truncated {
                    break;
                }
            }
        }
        assert!(shown >= 6, "{renderer}: only {shown} episodes of 10 showed the target come out of its box");
    }
}

/// Throwing the light switch of a dark room brightens the frame at once, in both renderers (the
/// PBR path updates its lights each step; the batch renderer shades every frame from the state).
#[test]
fn a_light_switch_brightens_the_frame_in_both_renderers() {
    let sc = scenario("lights_on");
    for renderer in Renderer::ALL {
        let mut env = Env::with_config(EnvConfig { renderer, ..EnvConfig::new(sc.clone()) }).expect("env");
        let mean = |rgb: &[u8]| rgb.iter().map(|v| f64::from(*v)).sum::<f64>() / rgb.len() as f64;
        let mut lit = 0;
        for seed in 0..3 {
            let (obs, _) = env.reset(seed).expect("reset");
            let mut before = mean(&obs.frame.rgb);
            loop {
                let s = env.state().expect("state");
                let (dark, a) = (!s.layout.lit, expert_action(s));
                let step = env.step(a).expect("step");
                let now = mean(&step.obs.frame.rgb);
                if dark && env.state().expect("state").layout.lit {
                    assert!(now > 2.0 * before, "{renderer}: seed {seed}: the light went on but the frame went from {before:.1} to {now:.1}");
                    lit += 1;
                    break;
                }
                assert!(!step.terminated && !step.truncated, "{renderer}: seed {seed}: the episode ended in the dark");
                before = now;
            }
        }
        assert_eq!(lit, 3);
    }
}

/// While the door is shut, the target behind it is not drawn where it would be seen through the
/// doorway; once the door is open and the target in view, it is.
#[test]
fn a_closed_door_hides_the_next_room_until_it_opens() {
    let sc = scenario("open_door_go_to");
    let mut env = Env::with_config(EnvConfig::new(sc)).expect("env");
    let (mut hidden, mut seen) = (0, 0);
    for seed in 0..10 {
        env.reset(seed).expect("reset");
        let mut frame = None;
        loop {
            let s = env.state().expect("state");
            let target = s.layout.role("target").expect("target");
            let color = s.layout.objects[target].color;
            let wall = s.layout.room.inner_walls[0];
            let (eye, t) = ((s.agent.x, s.agent.z), s.layout.objects[target].pos);
            let through = (eye.0 - wall.x) * (t.0 - wall.x) < 0.0 && {
                let z = eye.1 + (t.1 - eye.1) * (wall.x - eye.0) / (t.0 - eye.0);
                z > wall.door.0 + 0.1 && z < wall.door.1 - 0.1
            };
            // No other object of the target's colour in view, so its colour means the target.
            let alone = s.layout.objects.iter().enumerate().all(|(j, o)| j == target || o.color != color || !s.is_visible(j));
            if let Some(f) = &frame
                && alone
                && in_frame(s, target, 64, 3.0)
            {
                let (x, y) = project(s, target, 64, 64);
                let near = colors_near(f, x, y, 1);
                if !wall.gate.passable() && through {
                    assert!(!near.contains(&color), "seed {seed}: the target shows through the closed door");
                    hidden += 1;
                } else if s.is_visible(target) {
                    assert!(near.contains(&color), "seed {seed}: the target in view is not drawn");
                    seen += 1;
                }
            }
            let step = env.step(expert_action(s)).expect("step");
            frame = Some(step.obs.frame);
            if step.terminated || step.truncated {
                break;
            }
        }
    }
    assert!(hidden >= 5 && seen >= 5, "checked {hidden} frames with the target behind the door and {seen} with it in view");
}

/// Every env of a batch of 64 plays key_in_box with the expert, the even ones seed 5: each of
/// those sees what the env alone saw, box, key, door and all, up to the renderer's known
/// single edge pixel in at most 5% of frames.
#[test]
fn an_interactive_episode_alone_matches_it_in_a_batch_of_64() {
    let config = EnvConfig::new(scenario("key_in_box"));
    let mut alone = Env::with_config(config.clone()).expect("env");
    let (obs, _) = alone.reset(5).expect("reset");
    let mut solo = vec![obs.frame.rgb];
    let mut actions = Vec::new();
    while solo.len() < 120 {
        let a = expert_action(alone.state().expect("state"));
        let s = alone.step(a).expect("step");
        actions.push(a);
        solo.push(s.obs.frame.rgb);
        if s.terminated || s.truncated {
            break;
        }
    }
    assert!(actions.contains(&Action::Toggle), "the expert never toggled in {} steps", actions.len());
    drop(alone);
    let n = 64;
    let mut batch = EnvBatch::new(EnvConfig { num_envs: n, ..config }).expect("batch");
    let seeds: Vec<(usize, u64)> = (0..n).map(|i| (i, if i % 2 == 0 { 5 } else { 500 + i as u64 })).collect();
    let first = batch.reset_many(&seeds).expect("reset");
    for i in (0..n).step_by(2) {
        assert!(first[i].0.frame.rgb == solo[0], "env {i}'s first frame differs inside the batch");
    }
    let mut edge_pixels = 0;
    for (k, a) in actions.iter().enumerate() {
        let all: Vec<Option<Action>> = (0..n)
            .map(|i| {
                let st = batch.state(i).expect("state");
                if st.over { None } else if i % 2 == 0 { Some(*a) } else { Some(expert_action(st)) }
            })
            .collect();
        let out = batch.step_some(&all).expect("step");
        for i in (0..n).step_by(2) {
            let s = out[i].as_ref().expect("even envs step");
            let mut diff: Vec<usize> = s.obs.frame.rgb.iter().zip(&solo[k + 1]).enumerate().filter(|(_, (a, b))| a != b).map(|(j, _)| j / 3).collect();
            diff.dedup();
            // The batch renderer's one known difference: a triangle edge that passes within
            // float rounding of a pixel centre may cover it or not depending on where the tile
            // sits in the atlas (docs/performance.md, "What still differs"). One pixel at most.
            assert!(diff.len() <= 1, "env {i}'s frame {} differs inside the batch at pixels {diff:?}", k + 1);
            edge_pixels += diff.len();
        }
    }
    // Measured: 56 of 2,208 frames (2.5%) here, where thin key and door parts add edges.
    let frames = actions.len() * n / 2;
    assert!(edge_pixels * 20 <= frames, "{edge_pixels} frames of {frames} differ by an edge pixel");
}

/// Recorded episodes with `toggle` replay in a fresh env to the recorded frames, byte for byte.
#[test]
fn a_recorded_episode_with_toggle_replays_to_its_frames() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("d");
    let o = sandtable(&["record", "--scenario", "unlock_door", "--episodes", "2", "--seed", "3", "--out", data.to_str().expect("utf8")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ds = Dataset::open(&data).expect("open");
    let toggle = ds.info().action_vocabulary.iter().position(|n| n == "toggle").expect("toggle in the vocabulary") as i64;
    let mut env = Env::with_config(EnvConfig::new(scenario("unlock_door"))).expect("env");
    for e in 0..ds.num_episodes() {
        let ep = ds.episode(e).expect("episode");
        assert!(ep.actions.contains(&toggle), "episode {e} never toggled");
        let (obs, _) = env.reset(ep.meta.seed).expect("reset");
        assert!(ep.frame(0).expect("frame") == obs.frame.rgb, "episode {e}: the first frame differs");
        for (k, &a) in ep.actions[..ep.actions.len() - 1].iter().enumerate() {
            let action = Action::from_index(a as u8).expect("an action");
            let s = env.step(action).expect("step");
            assert!(ep.frame(k + 1).expect("frame") == s.obs.frame.rgb, "episode {e}: frame {} differs from the replay", k + 1);
        }
    }
}
