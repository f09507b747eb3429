//! Determinism: same scenario, seed and actions give byte-identical frames and equal info,
//! in two envs of one process, alone or inside a batch of 8, and across processes.

use sandtable_env::{Action, Env, EnvBatch, EnvConfig, Info};

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

#[test]
fn an_env_alone_matches_the_same_env_in_a_batch_of_8() {
    let mut alone = Env::new(go_to(), 64, 64).expect("env");
    let solo = play(&mut alone, 11);
    drop(alone);
    let mut batch = EnvBatch::new(EnvConfig { scenario: go_to(), num_envs: 8, width: 64, height: 64 }).expect("batch");
    // Env 5 plays seed 11; the others play other seeds and other actions at the same time.
    let seeds: Vec<(usize, u64)> = (0..8).map(|i| (i, if i == 5 { 11 } else { 1000 + i as u64 })).collect();
    let first = batch.reset_many(&seeds).expect("reset");
    assert!(first[5].0.frame.rgb == solo[0].0, "reset frame differs inside the batch");
    let acts = actions();
    for (k, a) in acts.iter().enumerate().take(solo.len() - 1) {
        let all: Vec<Option<Action>> = (0..8)
            .map(|i| {
                let st = batch.state(i).expect("state");
                if st.over { None } else if i == 5 { Some(*a) } else { Some(Action::ALL[(k + i) % 7]) }
            })
            .collect();
        let out = batch.step_some(&all).expect("step");
        let s = out[5].as_ref().expect("env 5 stepped");
        assert!(s.obs.frame.rgb == solo[k + 1].0, "frame {} differs inside the batch", k + 1);
        assert_eq!(s.info, solo[k + 1].1);
    }
}

#[test]
fn two_processes_write_identical_files() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut trees = Vec::new();
    for run in ["a", "b"] {
        let out = root.path().join(run);
        let o = sandtable(&["sim", "--seed", "13", "--steps", "30", "--policy", "random", "--out", out.to_str().expect("utf8")]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        trees.push(read_tree(&out));
    }
    assert!(trees[0].len() > 30);
    let names_a: Vec<&String> = trees[0].iter().map(|f| &f.0).collect();
    let names_b: Vec<&String> = trees[1].iter().map(|f| &f.0).collect();
    assert_eq!(names_a, names_b);
    for (fa, fb) in trees[0].iter().zip(&trees[1]) {
        assert!(fa.1 == fb.1, "{} differs between processes", fa.0);
    }
}
