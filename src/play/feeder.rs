//! The live feeder: a thread that turns the env stream's transitions into whole episodes in a
//! replay buffer, for pretraining from live envs while the trainer samples from the buffer.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use sandtable_agent::replay::{ReplayBuffer, ReplayEpisode};
use sandtable_env::{Event, Stream};

use crate::play::episodes::EpisodeAssembler;

/// Feed `stream`'s episodes into `buffer` until `stop` is set, the stream ends or fails (the
/// failure is left in the buffer for the trainer to report). Dropping the stream on exit stops
/// and joins its workers.
pub fn spawn_feeder(mut stream: Stream, buffer: Arc<ReplayBuffer>, stop: Arc<AtomicBool>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut episodes = EpisodeAssembler::default();
        while !stop.load(Ordering::SeqCst) {
            match stream.recv() {
                Ok(Some(Event::Transition(t))) => {
                    if let Some(ep) = episodes.push(&t) {
                        buffer.push(ReplayEpisode { frames: ep.frames, actions: ep.actions, mission: ep.meta.mission });
                    }
                }
                Ok(Some(Event::Query(_))) | Ok(None) => break,
                Err(e) => {
                    buffer.fail(e.to_string());
                    break;
                }
            }
        }
    })
}
