//! Determinism: same scenario, seed and actions give byte-identical frames and equal info,
//! in two envs of one process, alone or inside a batch (both renderers), and across processes.

use sandtable_env::{Action, Env, EnvBatch, EnvConfig, Info, Renderer};

use crate::util::{go_to, read_tree, sandtable};

fn actions() -> Vec<Action> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
    (0..40).map(|_| Action::ALL[rng.random_range(1..7)]).collect()
}

fn play(env: &mut Env, seed: u64) -> Vec<(Vec<u8>, Info)> {
    let (obs, info) = env.reset(seed).expect("reset");
    let mut out = vec![(obs.frame.rgb, info)];
    for a in actions() {
        let s = env.step(a).expect("step");
        out.push((s.obs.frame.rgb, s.info));
        if s.terminated || s.truncated {
            break;
        }
    }
    out
}

#[test]
fn two_envs_in_one_process_agree() {
    let mut a = Env::new(go_to(), 64, 64).expect("env a");
    let mut b = Env::new(go_to(), 64, 64).expect("env b");
    let ra = play(&mut a, 7);
    let rb = play(&mut b, 7);
    assert_eq!(ra.len(), rb.len());
    for (k, (x, y)) in ra.iter().zip(&rb).enumerate() {
        assert!(x.0 == y.0, "frame {k} differs");
        assert_eq!(x.1, y.1, "info {k} differs");
    }
    // And a different seed gives a different world.
    let rc = play(&mut b, 8);
    assert_ne!(ra[0].0, rc[0].0);
}

/// Env `i` of a batch of `n` plays `seed` with `actions()` when `i` is even; odd envs play other
/// seeds and other actions at the same time. Every even env must see what the env saw alone.
fn batch_matches_alone(renderer: Renderer, n: usize) {
    let config = EnvConfig { renderer, ..EnvConfig::new(go_to()) };
    let mut alone = Env::with_config(config.clone()).expect("env");
    let solo = play(&mut alone, 11);
    drop(alone);
    let mut batch = EnvBatch::new(EnvConfig { num_envs: n, ..config }).expect("batch");
    let seeds: Vec<(usize, u64)> = (0..n).map(|i| (i, if i % 2 == 0 { 11 } else { 1000 + i as u64 })).collect();
    let first = batch.reset_many(&seeds).expect("reset");
    for i in (0..n).step_by(2) {
        assert!(first[i].0.frame.rgb == solo[0].0, "{renderer}: env {i}'s reset frame differs inside the batch");
    }
    let acts = actions();
    for (k, a) in acts.iter().enumerate().take(solo.len() - 1) {
        let all: Vec<Option<Action>> = (0..n)
            .map(|i| {
                let st = batch.state(i).expect("state");
                if st.over { None } else if i % 2 == 0 { Some(*a) } else { Some(Action::ALL[(k + i) % 7]) }
            })
            .collect();
        let out = batch.step_some(&all).expect("step");
        for i in (0..n).step_by(2) {
            let s = out[i].as_ref().expect("even envs step");
            assert!(s.obs.frame.rgb == solo[k + 1].0, "{renderer}: env {i}'s frame {} differs inside the batch", k + 1);
            assert_eq!(s.info, solo[k + 1].1);
        }
    }
}

/// The batch renderer draws each env in its own tile of a shared atlas: a batch of 64 spans
/// tiles in two columns, and every tile must give the frames of an env drawn alone.
#[test]
fn an_env_alone_matches_the_same_env_in_a_batch_of_64() {
    batch_matches_alone(Renderer::Batch, 64);
}

/// The PBR path with one camera per env, beyond the 63 render layers a const constructor allows.
#[test]
fn an_env_alone_matches_the_same_env_in_a_pbr_batch_of_8() {
    batch_matches_alone(Renderer::Pbr, 8);
}

#[test]
fn two_processes_write_identical_files() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut trees = Vec::new();
    for (run, scenario, policy) in [("a", "go_to_object", "random"), ("b", "go_to_object", "random"), ("c", "key_in_box", "expert"), ("d", "key_in_box", "expert")] {
        let out = root.path().join(run);
        let o = sandtable(&["sim", "--scenario", scenario, "--seed", "13", "--steps", "60", "--policy", policy, "--out", out.to_str().expect("utf8")]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        trees.push(read_tree(&out));
    }
    for pair in trees.chunks(2) {
        assert!(pair[0].len() > 30);
        let names_a: Vec<&String> = pair[0].iter().map(|f| &f.0).collect();
        let names_b: Vec<&String> = pair[1].iter().map(|f| &f.0).collect();
        assert_eq!(names_a, names_b);
        for (fa, fb) in pair[0].iter().zip(&pair[1]) {
            assert!(fa.1 == fb.1, "{} differs between processes", fa.0);
        }
    }
}
