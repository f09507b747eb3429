//! The worker stream: an agent in the loop drives 2 workers, a panicking worker is an error,
//! and dropping the consumer stops the workers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sandtable_env::policy::ScriptedFn;
use sandtable_env::{Action, Decision, Decider, EnvError, PolicySpec, Scenario, Stream, StreamConfig};

fn config(episodes: u64) -> StreamConfig {
    let scenarios = ["go_to_object", "count_objects"].map(|s| Arc::new(Scenario::load(s).expect("scenario"))).to_vec();
    StreamConfig { workers: 2, envs_per_worker: 2, ..StreamConfig::new(scenarios, 3, episodes) }
}

#[test]
fn a_closure_drives_two_workers_to_the_end_of_every_episode() {
    // Three steps forward, then `done`; questions are answered at once.
    let decide = |pending: &[sandtable_env::Pending]| -> Vec<Decision> {
        pending
            .iter()
            .map(|p| {
                if p.scenario.task.answer.is_some() {
                    Decision::Answer("3".into())
                } else if p.step < 3 {
                    Decision::Act(Action::Forward)
                } else {
                    Decision::Act(Action::Done)
                }
            })
            .collect()
    };
    let mut rows: BTreeMap<u64, Vec<(u32, Option<Decision>, usize)>> = BTreeMap::new();
    let stream = Stream::spawn(config(8), Decider::External).expect("spawn");
    stream.drive(decide, |t| rows.entry(t.episode).or_default().push((t.step, t.decision.clone(), t.worker))).expect("drive");
    assert_eq!(rows.len(), 8, "every episode reported");
    let mut workers = std::collections::HashSet::new();
    for (e, r) in &rows {
        let steps: Vec<u32> = r.iter().map(|x| x.0).collect();
        let expected: Vec<u32> = if e % 2 == 0 { (0..=4).collect() } else { vec![0, 1] };
        assert_eq!(steps, expected, "episode {e} ends after its decisions");
        assert!(r.last().is_some_and(|x| x.1.is_none()), "episode {e} ends with its last frame");
        if e % 2 == 0 {
            assert_eq!(r[3].1, Some(Decision::Act(Action::Done)));
        } else {
            assert_eq!(r[0].1, Some(Decision::Answer("3".into())));
        }
        workers.extend(r.iter().map(|x| x.2));
    }
    assert_eq!(workers.len(), 2, "both workers played");
}

#[test]
fn a_panicking_worker_is_an_error_not_a_hang() {
    let boom: ScriptedFn = Arc::new(|state, _| {
        if state.step >= 2 {
            panic!("scripted policy failed on purpose");
        }
        Decision::Act(Action::TurnLeft)
    });
    let mut stream = Stream::spawn(config(4), Decider::Policy(PolicySpec::Scripted(boom))).expect("spawn");
    let start = Instant::now();
    let err = loop {
        match stream.recv() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("the stream ended without reporting the panic"),
            Err(e) => break e,
        }
    };
    assert!(matches!(&err, EnvError::Worker { message, .. } if message.contains("failed on purpose")), "{err}");
    assert!(start.elapsed() < Duration::from_secs(60));
}

#[test]
fn dropping_the_consumer_stops_the_workers() {
    let mut stream = Stream::spawn(config(1000), Decider::Policy(PolicySpec::Random)).expect("spawn");
    for _ in 0..5 {
        assert!(stream.recv().expect("event").is_some());
    }
    let start = Instant::now();
    drop(stream);
    // Workers blocked on the full channel see it close and exit; drop joins them.
    assert!(start.elapsed() < Duration::from_secs(30), "drop took {:?}", start.elapsed());
}
