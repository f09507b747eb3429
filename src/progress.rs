//! Training progress on the terminal: one bar per stage with loss, throughput and the last
//! validation, and one per online round's play, fed by the trainers' `Observer` callbacks
//! (pretraining, fine-tuning and online imitation share it).

use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use sandtable_agent::checkpoint::Stage;
use sandtable_agent::run_dir::OnlineRound;
use sandtable_agent::runner::{EvalRecord, Observer, StepRecord};

/// A progress bar per stage, with loss and throughput.
#[derive(Default)]
pub struct Bars {
    bar: Option<ProgressBar>,
    started: Option<Instant>,
    first: u64,
    val: String,
    /// The bar is an online round's play.
    playing: bool,
}

impl Bars {
    /// Run `f` reporting to fresh bars, and finish them (on screen) whatever it returns.
    pub fn around<T>(f: impl FnOnce(&mut Bars) -> T) -> T {
        let mut bars = Bars::default();
        let out = f(&mut bars);
        bars.finish();
        out
    }

    /// Finish the current stage's bar, leaving it on screen.
    pub fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish();
        }
    }
}

impl Observer for Bars {
    fn on_stage(&mut self, stage: Stage, done: u64, total: u64) {
        self.finish();
        let b = ProgressBar::new(total);
        b.set_style(
            ProgressStyle::with_template("{prefix:>9} {bar:30} {pos}/{len} {msg} ETA {eta}").unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b.set_prefix(format!("{stage:?}").to_lowercase());
        b.set_position(done);
        self.bar = Some(b);
        self.started = Some(Instant::now());
        self.first = done;
        self.val.clear();
    }

    fn on_step(&mut self, r: &StepRecord) {
        let Some(b) = &self.bar else { return };
        b.set_position(r.stage_step);
        let secs = self.started.map_or(1.0, |t| t.elapsed().as_secs_f64().max(1e-9));
        let rate = (r.stage_step - self.first) as f64 / secs;
        let unit = if r.stage == Stage::Tokenizer { "frames" } else { "tokens" };
        b.set_message(format!("loss {:.4} {rate:.2} steps/s {:.0} {unit}/s{}", r.loss, r.items as f64 / r.seconds, self.val));
    }

    fn on_eval(&mut self, r: &EvalRecord) {
        self.val = match r.stage {
            Stage::Tokenizer => format!(" | val {:.4} {:.1} dB", r.val_loss, r.val_metric),
            _ => format!(" | val {:.3} acc {:.3}", r.val_loss, r.val_metric),
        };
        tracing::debug!(step = r.step, val_loss = r.val_loss, metric = r.val_metric, "validation");
    }

    fn on_round_start(&mut self, round: u64, episodes: u64) {
        self.finish();
        let b = ProgressBar::new(episodes);
        b.set_style(ProgressStyle::with_template("{prefix:>9} {bar:30} {pos}/{len} episodes {msg} ETA {eta}").unwrap_or_else(|_| ProgressStyle::default_bar()));
        b.set_prefix(format!("round {round}"));
        self.bar = Some(b);
        self.playing = true;
    }

    fn on_round_episode(&mut self, status: &str) {
        if let Some(b) = &self.bar {
            b.inc(1);
            b.set_message(status.to_string());
        }
    }

    fn on_round(&mut self, r: &OnlineRound) {
        // A round's play bar is cleared and its line printed; a training bar stays on screen.
        if std::mem::take(&mut self.playing) {
            if let Some(b) = self.bar.take() {
                b.finish_and_clear();
            }
        } else {
            self.finish();
        }
        let frames = r.frames;
        // Where the play time went, when this process played the round.
        let play = r.play.map_or(String::new(), |p| {
            format!(
                "; played in {:.1} s ({:.0} env rows/s), {:.1} s of it in the agent's decisions ({:.0} decisions/s)",
                p.seconds,
                p.rows as f64 / p.seconds.max(1e-9),
                p.agent_seconds,
                p.decisions as f64 / p.agent_seconds.max(1e-9)
            )
        });
        println!(
            "round {}: β {:.2}, rollout success {:.1}%, {} expert labels, dataset {} episodes / {frames} frames{play}",
            r.round,
            r.beta,
            100.0 * r.success,
            r.labels,
            r.episodes
        );
    }
}
