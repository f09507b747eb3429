//! A thread that owns one `EnvBatch`. Bevy's `App` is not `Send`, so the batch is built inside
//! the thread and every call on it travels there as a job over a channel.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, bounded, unbounded};
use sandtable_env::{EnvBatch, EnvConfig, EnvError};

type Job = Box<dyn FnOnce(&mut EnvBatch) + Send>;

/// One worker thread and the batch it drives.
pub struct Worker {
    index: usize,
    jobs: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

/// A job's result, waited for with [`Ticket::wait`].
pub struct Ticket<R> {
    worker: usize,
    reply: Receiver<Result<R, EnvError>>,
}

impl<R> Ticket<R> {
    /// Block until the job has run.
    pub fn wait(self) -> Result<R, EnvError> {
        self.reply.recv().unwrap_or_else(|_| Err(gone(self.worker)))
    }
}

fn gone(worker: usize) -> EnvError {
    EnvError::Worker { worker, message: "the worker thread has stopped".into() }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panicked".into())
}

impl Worker {
    /// Start the thread and build its batch there; returns once the batch is ready (or failed).
    pub fn spawn(index: usize, config: EnvConfig) -> Result<Self, EnvError> {
        let (jobs, inbox) = unbounded::<Job>();
        let (ready_tx, ready_rx) = bounded::<Result<(), EnvError>>(1);
        let thread = std::thread::Builder::new()
            .name(format!("sandtable-env-{index}"))
            .spawn(move || {
                let built = catch_unwind(AssertUnwindSafe(|| EnvBatch::new(config)))
                    .unwrap_or_else(|p| Err(EnvError::Worker { worker: index, message: panic_message(p.as_ref()) }));
                let mut batch = match built {
                    Ok(b) => b,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                for job in inbox {
                    job(&mut batch);
                }
            })
            .map_err(|e| EnvError::Worker { worker: index, message: format!("cannot start a thread: {e}") })?;
        let mut worker = Self { index, jobs: Some(jobs), thread: Some(thread) };
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(worker),
            Ok(Err(e)) => {
                worker.stop();
                Err(e)
            }
            Err(_) => {
                worker.stop();
                Err(gone(index))
            }
        }
    }

    /// Queue `f` to run on the batch; a panic inside it becomes [`EnvError::Worker`].
    pub fn submit<R, F>(&self, f: F) -> Ticket<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut EnvBatch) -> Result<R, EnvError> + Send + 'static,
    {
        let (tx, reply) = bounded(1);
        let worker = self.index;
        let job: Job = Box::new(move |batch| {
            let out = catch_unwind(AssertUnwindSafe(|| f(batch)))
                .unwrap_or_else(|p| Err(EnvError::Worker { worker, message: panic_message(p.as_ref()) }));
            let _ = tx.send(out);
        });
        // If the thread is gone the reply channel closes, and `wait` reports it.
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(job);
        }
        Ticket { worker, reply }
    }

    /// Run `f` on the batch and wait for it.
    pub fn call<R, F>(&self, f: F) -> Result<R, EnvError>
    where
        R: Send + 'static,
        F: FnOnce(&mut EnvBatch) -> Result<R, EnvError> + Send + 'static,
    {
        self.submit(f).wait()
    }

    /// Close the job channel and join the thread, which drops the App where it was built.
    pub fn stop(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Give up the thread without joining it: after `fork` the child has no such thread, and
    /// joining it would hang.
    pub fn abandon(mut self) {
        self.thread = None;
        std::mem::forget(self.jobs.take());
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop();
    }
}
