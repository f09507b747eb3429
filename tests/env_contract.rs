//! The Gymnasium-style contract of `Env` and `EnvBatch`, with real rendering.

use sandtable_env::{Action, Env, EnvBatch, EnvConfig, EnvError};

use crate::util::go_to;

#[test]
fn shapes_and_reset_contents() {
    let mut env = Env::new(go_to(), 64, 48).expect("env");
    let (obs, info) = env.reset(1).expect("reset");
    assert_eq!((obs.frame.width, obs.frame.height), (64, 48));
    assert_eq!(obs.frame.rgb.len(), 64 * 48 * 3);
    assert_eq!(info.step, 0);
    assert!(!info.success);
    assert!((3..=8).contains(&info.objects.len()));
    let t = &info.objects[info.target];
    assert_eq!(obs.mission, format!("go to the {} {}", t.color.name(), t.shape.name()));
    let s = env.step(Action::Forward).expect("step");
    assert_eq!(s.info.step, 1);
    assert_eq!(s.obs.frame.rgb.len(), 64 * 48 * 3);
}

#[test]
fn frames_are_not_blank_and_change_when_turning() {
    // `describe_object` spawns where every object is in view, so the first frame must show them.
    let sc = std::sync::Arc::new(sandtable_env::Scenario::load("describe_object").expect("builtin"));
    let mut env = Env::new(sc, 64, 64).expect("env");
    let (obs, _) = env.reset(2).expect("reset");
    let distinct: std::collections::HashSet<[u8; 3]> =
        (0..64).flat_map(|y| (0..64).map(move |x| (x, y))).map(|(x, y)| obs.frame.pixel(x, y)).collect();
    assert!(distinct.len() > 20, "frame has only {} distinct colours", distinct.len());
    assert!(obs.frame.rgb.iter().any(|&b| b > 40), "frame is dark");
    let turned = env.step(Action::TurnLeft).expect("step");
    let changed = obs.frame.rgb.iter().zip(&turned.obs.frame.rgb).filter(|(a, b)| a != b).count();
    assert!(changed > obs.frame.rgb.len() / 10, "only {changed} bytes changed after a turn");
}

#[test]
fn terminated_truncated_and_reset_after_done() {
    let mut env = Env::new(go_to(), 32, 32).expect("env");
    // Truncation: noop until the step budget runs out.
    env.reset(3).expect("reset");
    let max = env.scenario().max_steps;
    for k in 1..=max {
        let s = env.step(Action::Noop).expect("step");
        assert!(!s.terminated);
        assert_eq!(s.truncated, k == max, "step {k}");
        assert_eq!(s.reward, 0.0);
    }
    assert!(matches!(env.step(Action::Noop), Err(EnvError::NeedsReset { .. })));
    // Termination by success: the expert walks to the target.
    env.reset(4).expect("reset after done");
    let last = loop {
        let a = sandtable_env::expert_action(env.state().expect("state"));
        let s = env.step(a).expect("step");
        if s.terminated || s.truncated {
            break s;
        }
    };
    assert!(last.terminated && !last.truncated && last.info.success);
    let expected = 1.0 - 0.9 * last.info.step as f32 / max as f32;
    assert!((last.reward - expected).abs() < 1e-6);
    // Termination by `done` without success gives no reward.
    env.reset(5).expect("reset");
    let s = env.step(Action::Done).expect("step");
    assert!(s.terminated && !s.truncated && !s.info.success && s.reward == 0.0);
}

#[test]
fn never_leaves_room_or_enters_objects_in_1000_random_steps() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let mut env = Env::new(go_to(), 32, 32).expect("env");
    let mut seed = 100;
    env.reset(seed).expect("reset");
    for _ in 0..1000 {
        let a = Action::RANDOM[rng.random_range(0..Action::RANDOM.len())];
        let s = env.step(a).expect("step");
        let st = env.state().expect("state");
        let r = st.scenario.agent.radius;
        assert!(st.layout.room.contains_circle(s.info.pose.x, s.info.pose.z, r));
        for o in &s.info.objects {
            if Some(o.id) != s.info.held {
                let d = ((o.position[0] - s.info.pose.x).powi(2) + (o.position[2] - s.info.pose.z).powi(2)).sqrt();
                assert!(d >= r + st.layout.objects[o.id].extent.radius - 1e-4);
            }
        }
        if s.terminated || s.truncated {
            seed += 1;
            env.reset(seed).expect("reset");
        }
    }
}

#[test]
fn bad_config_is_an_error_not_a_panic() {
    for (w, h) in [(0, 64), (64, 0), (4096, 64)] {
        let err = EnvBatch::new(EnvConfig { width: w, height: h, ..EnvConfig::new(go_to()) })
            .err()
            .expect("must fail");
        assert!(matches!(err, EnvError::Config(_)), "{err}");
    }
}

#[test]
fn building_an_env_installs_no_global_logger() {
    let env = Env::new(go_to(), 16, 16).expect("env");
    drop(env);
    assert!(!tracing::dispatcher::has_been_set(), "the env library set a global tracing subscriber");
}

/// The contract suite over every built-in scenario: determinism across two envs, seeds that
/// differ give different worlds, and the mission names the objects bound to its roles.
#[test]
fn every_builtin_scenario_keeps_the_contract() {
    use std::sync::Arc;
    for name in sandtable_env::builtin_names() {
        let sc = Arc::new(sandtable_env::Scenario::load(name).expect("builtin"));
        let mut a = Env::new(sc.clone(), 32, 32).expect("env a");
        let mut b = Env::new(sc.clone(), 32, 32).expect("env b");
        let (oa, ia) = a.reset(21).expect("reset");
        let (ob, ib) = b.reset(21).expect("reset");
        assert!(oa.frame == ob.frame && ia == ib, "{name}: same seed, different reset");
        for act in [Action::TurnLeft, Action::TurnRight] {
            let sa = a.step(act).expect("step");
            let sb = b.step(act).expect("step");
            assert!(sa.obs.frame == sb.obs.frame && sa.info == sb.info, "{name}: steps diverge");
        }
        if let Some(truth) = &ia.answer {
            assert!(sandtable_env::task::answer_vocabulary().contains(truth), "{name}: answer {truth} outside the vocabulary");
        }
        let (oc, ic) = b.reset(22).expect("reset");
        assert!(oc.frame != oa.frame && ic.objects != ia.objects, "{name}: seeds 21 and 22 gave the same world");
        // Doing nothing never succeeds: the episode is truncated exactly at max_steps.
        for k in 1..=sc.max_steps {
            let s = b.step(Action::Noop).expect("step");
            assert!(!s.terminated, "{name}: noop terminated at step {k}");
            assert_eq!(s.truncated, k == sc.max_steps, "{name}: step {k}");
        }
        assert!(matches!(b.step(Action::Noop), Err(EnvError::NeedsReset { .. })), "{name}");
        let wanted = sandtable_env::task::placeholders(&sc.task.mission).expect("valid template");
        assert!(!wanted.is_empty(), "{name}: mission names nothing");
        for (role, attr) in wanted {
            let o = &ia.objects[ia.roles[&role]];
            let word = match attr.as_str() {
                "color" => o.color.name(),
                "shape" => o.shape.name(),
                _ => o.size.name(),
            };
            assert!(oa.mission.contains(word), "{name}: mission `{}` misses {role}.{attr} = {word}", oa.mission);
        }
    }
}

#[test]
fn answering_a_question_ends_the_episode_and_scores_it() {
    use std::sync::Arc;
    let sc = Arc::new(sandtable_env::Scenario::load("describe_object").expect("builtin"));
    let mut env = Env::new(sc, 32, 32).expect("env");
    let (_, info) = env.reset(3).expect("reset");
    let truth = info.answer.clone().expect("a question scenario has an answer");
    let t = &info.objects[info.target];
    assert_eq!(truth, t.color.name());
    let right = env.answer(&truth).expect("answer");
    assert!(right.terminated && !right.truncated && right.info.success && right.reward > 0.0);
    assert!(matches!(env.answer(&truth), Err(EnvError::NeedsReset { .. })));
    env.reset(3).expect("reset");
    let wrong = if truth == "red" { "blue" } else { "red" };
    let s = env.answer(wrong).expect("answer");
    assert!(s.terminated && !s.info.success && s.reward == 0.0);
    env.reset(3).expect("reset");
    assert!(matches!(env.answer("banana"), Err(EnvError::Config(_))));
}
