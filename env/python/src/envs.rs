//! `Envs`: K worker threads, each driving one `EnvBatch` of E envs. Python's `SandtableEnv` is one
//! thread of one env; `SandtableVectorEnv` is several. Every call waits with the GIL released and
//! hands back freshly allocated numpy arrays.

use std::sync::Arc;

use numpy::{PyArray, PyArray1, PyArrayMethods};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use sandtable_env::{Action, Advanced, Decision, EnvBatch, EnvConfig, EnvError, Renderer, Directive, Scenario, Step, expert_action, expert_decision};

use crate::error::to_py;
use crate::process::{claim_vulkan, forked_message};
use crate::worker::Worker;

/// What one env hands back from a reset or a step.
struct Out {
    rgb: Vec<u8>,
    mission: String,
    reward: f32,
    terminated: bool,
    truncated: bool,
    info: String,
}

impl Out {
    /// What a step hands back.
    fn from_step(s: Step) -> Result<Self, EnvError> {
        Ok(Out { info: info_json(&s.info)?, rgb: s.obs.frame.rgb, mission: s.obs.mission, reward: s.reward, terminated: s.terminated, truncated: s.truncated })
    }
}

/// The batched result: images `[N, H, W, 3]`, rewards, terminated, truncated, missions and the
/// ground-truth infos as JSON text.
type Batch<'py> = (
    Bound<'py, PyArray<u8, numpy::Ix4>>,
    Bound<'py, PyArray1<f32>>,
    Bound<'py, PyArray1<bool>>,
    Bound<'py, PyArray1<bool>>,
    Vec<String>,
    Vec<String>,
);

/// Several envs on worker threads (see the module docs).
#[pyclass(module = "sandtable._native")]
pub struct Envs {
    workers: Vec<Worker>,
    /// `(worker, slot)` of each env, in env order.
    slots: Vec<(usize, usize)>,
    scenario: Arc<Scenario>,
    width: u32,
    height: u32,
    adapter: String,
    pid: u32,
    /// `answer_vocabulary()`, made once: the answer actions' words in index order.
    answers: Vec<String>,
}

fn info_json(info: &sandtable_env::Info) -> Result<String, EnvError> {
    serde_json::to_string(info).map_err(|e| EnvError::Render(format!("cannot encode info: {e}")))
}

/// A decision from an index of the Python action space: the moves of `Action` first, then one
/// index per word of `answer_vocabulary()`, in its order. Where the scenario asks no question an
/// answer does nothing (a `noop`), as MiniGrid's unused actions do.
fn parse_decision(a: i64, answers: &[String], asks_question: bool) -> PyResult<Decision> {
    let moves = Action::COUNT as i64;
    if let Some(action) = u8::try_from(a).ok().and_then(Action::from_index) {
        return Ok(Decision::Act(action));
    }
    match a.checked_sub(moves).and_then(|k| usize::try_from(k).ok()).and_then(|k| answers.get(k)) {
        Some(_) if !asks_question => Ok(Decision::Act(Action::Noop)),
        Some(word) => Ok(Decision::Answer(word.clone())),
        None => Err(PyValueError::new_err(format!(
            "unknown action {a}: expected an index in 0..={}: the moves ({}), then the {} answer words",
            moves + answers.len() as i64 - 1,
            Action::vocabulary().join(", "),
            answers.len()
        ))),
    }
}

/// Reset the envs with a seed and step the others (`None` actions are left alone), in one update.
fn advance(batch: &mut EnvBatch, resets: Vec<(usize, u64)>, decisions: Vec<Option<Decision>>) -> Result<Vec<Option<Out>>, EnvError> {
    let mut requests: Vec<Option<Directive>> = decisions.into_iter().map(|d| d.map(Directive::Decide)).collect();
    for (i, seed) in resets {
        requests[i] = Some(Directive::Reset(seed));
    }
    let mut out: Vec<Option<Out>> = (0..batch.len()).map(|_| None).collect();
    if requests.iter().all(Option::is_none) {
        return Ok(out);
    }
    for (i, advanced) in batch.advance(&requests)?.into_iter().enumerate() {
        out[i] = match advanced {
            Some(Advanced::Reset(obs, info)) => {
                Some(Out { rgb: obs.frame.rgb, mission: obs.mission, reward: 0.0, terminated: false, truncated: false, info: info_json(&info)? })
            }
            Some(Advanced::Stepped(s)) => Some(Out::from_step(s)?),
            None => None,
        };
    }
    Ok(out)
}

impl Envs {
    fn check_process(&self) -> PyResult<()> {
        if std::process::id() == self.pid { Ok(()) } else { Err(PyRuntimeError::new_err(forked_message(self.pid))) }
    }

    fn live(&self) -> PyResult<()> {
        self.check_process()?;
        if self.workers.is_empty() {
            return Err(PyRuntimeError::new_err("the env is closed"));
        }
        Ok(())
    }

    fn slot(&self, index: usize) -> PyResult<(usize, usize)> {
        self.slots.get(index).copied().ok_or_else(|| {
            PyValueError::new_err(format!("env index {index} is out of range for {} envs", self.slots.len()))
        })
    }

    /// Run one job per worker, all at once, with the GIL released; results in env order.
    fn run(&self, py: Python<'_>, resets: Vec<Option<u64>>, decisions: Vec<Option<Decision>>) -> PyResult<Vec<Out>> {
        self.live()?;
        let n = self.slots.len();
        // Per worker: (slot, seed) resets and one decision per slot.
        type Jobs = (Vec<(usize, u64)>, Vec<Option<Decision>>);
        let mut per_worker: Vec<Jobs> = (0..self.workers.len()).map(|_| (Vec::new(), Vec::new())).collect();
        for (i, &(w, s)) in self.slots.iter().enumerate() {
            let (r, d) = &mut per_worker[w];
            if let Some(seed) = resets[i] {
                r.push((s, seed));
            }
            d.push(if resets[i].is_some() { None } else { decisions[i].clone() });
        }
        let workers = &self.workers;
        let results = py.detach(move || {
            let pending: Vec<_> = workers
                .iter()
                .zip(per_worker)
                .map(|(w, (r, d))| w.submit(move |b| advance(b, r, d)))
                .collect();
            pending.into_iter().map(|p| p.wait()).collect::<Vec<_>>()
        });
        let mut by_worker = Vec::with_capacity(results.len());
        for r in results {
            by_worker.push(r.map_err(to_py)?.into_iter());
        }
        let mut out = Vec::with_capacity(n);
        for (i, &(w, _)) in self.slots.iter().enumerate() {
            match by_worker[w].next().flatten() {
                Some(o) => out.push(o),
                None => return Err(to_py(EnvError::NeedsReset { index: i, reason: "no episode is running" })),
            }
        }
        Ok(out)
    }

    fn pack<'py>(&self, py: Python<'py>, outs: Vec<Out>) -> PyResult<Batch<'py>> {
        let n = outs.len();
        let (h, w) = (self.height as usize, self.width as usize);
        let mut rgb = Vec::with_capacity(n * h * w * 3);
        let mut rewards = Vec::with_capacity(n);
        let mut terminated = Vec::with_capacity(n);
        let mut truncated = Vec::with_capacity(n);
        let mut missions = Vec::with_capacity(n);
        let mut infos = Vec::with_capacity(n);
        for o in outs {
            rgb.extend_from_slice(&o.rgb);
            rewards.push(o.reward);
            terminated.push(o.terminated);
            truncated.push(o.truncated);
            missions.push(o.mission);
            infos.push(o.info);
        }
        // A new buffer every call: no returned array is ever a view of one the env reuses.
        let images = PyArray1::from_vec(py, rgb).reshape([n, h, w, 3])?;
        Ok((images, PyArray1::from_vec(py, rewards), PyArray1::from_vec(py, terminated), PyArray1::from_vec(py, truncated), missions, infos))
    }
}

#[pymethods]
impl Envs {
    /// Load `scenario` (a built-in name or a `.ron` path) and start one worker thread per entry
    /// of `envs_per_thread`, each with that many envs rendering `width × height` frames.
    #[new]
    fn new(py: Python<'_>, scenario: &str, envs_per_thread: Vec<usize>, width: u32, height: u32, renderer: &str) -> PyResult<Self> {
        let renderer: Renderer = renderer.parse().map_err(PyValueError::new_err)?;
        let pid = claim_vulkan().map_err(PyRuntimeError::new_err)?;
        let scenario = Arc::new(Scenario::load(scenario).map_err(to_py)?);
        if envs_per_thread.is_empty() {
            return Err(PyValueError::new_err("at least one worker thread is needed"));
        }
        let configs: Vec<EnvConfig> = envs_per_thread
            .iter()
            .map(|&num_envs| EnvConfig { scenario: scenario.clone(), num_envs, width, height, renderer })
            .collect();
        // Apps start in parallel, each inside its own thread.
        let started: Vec<Result<Worker, EnvError>> = py.detach(move || {
            std::thread::scope(|s| {
                let handles: Vec<_> =
                    configs.into_iter().enumerate().map(|(i, c)| s.spawn(move || Worker::spawn(i, c))).collect();
                handles
                    .into_iter()
                    .enumerate()
                    .map(|(i, h)| {
                        h.join().unwrap_or_else(|_| Err(EnvError::Worker { worker: i, message: "panicked while starting".into() }))
                    })
                    .collect()
            })
        });
        let workers = started.into_iter().collect::<Result<Vec<_>, _>>().map_err(to_py)?;
        let adapter = workers[0].call(|b| Ok(b.adapter().to_string())).map_err(to_py)?;
        let slots = envs_per_thread.iter().enumerate().flat_map(|(w, &e)| (0..e).map(move |s| (w, s))).collect();
        Ok(Self { workers, slots, scenario, width, height, adapter, pid, answers: sandtable_env::answer_vocabulary() })
    }

    /// Start new episodes in every env, env `i` with `seeds[i]`.
    fn reset<'py>(&self, py: Python<'py>, seeds: Vec<u64>) -> PyResult<Batch<'py>> {
        if seeds.len() != self.slots.len() {
            return Err(PyValueError::new_err(format!("got {} seeds for {} envs", seeds.len(), self.slots.len())));
        }
        let n = seeds.len();
        let outs = self.run(py, seeds.into_iter().map(Some).collect(), vec![None; n])?;
        self.pack(py, outs)
    }

    /// Step every env with its action (a move, or from `Action::COUNT` on an answer word), except
    /// those given a seed in `resets`, which start a new episode instead (reward 0, not done), all
    /// in one round.
    fn step<'py>(&self, py: Python<'py>, actions: Vec<i64>, resets: Vec<Option<u64>>) -> PyResult<Batch<'py>> {
        let n = self.slots.len();
        if actions.len() != n || resets.len() != n {
            return Err(PyValueError::new_err(format!(
                "got {} actions and {} reset seeds for {n} envs",
                actions.len(),
                resets.len()
            )));
        }
        let asks = self.asks_question();
        let decisions = actions.into_iter().map(|a| parse_decision(a, &self.answers, asks).map(Some)).collect::<PyResult<Vec<_>>>()?;
        let outs = self.run(py, resets, decisions)?;
        self.pack(py, outs)
    }

    /// Answer env `index`'s question with `word`; the episode ends. Only that env moves.
    fn answer<'py>(&self, py: Python<'py>, index: usize, word: String) -> PyResult<Batch<'py>> {
        let (w, s) = self.slot(index)?;
        self.live()?;
        let out = py
            .detach(|| {
                self.workers[w].call(move |b| {
                    Out::from_step(b.answer(s, &word)?)
                })
            })
            .map_err(to_py)?;
        self.pack(py, vec![out])
    }

    /// The scripted expert's action for env `index`'s current state.
    fn expert_action(&self, py: Python<'_>, index: usize) -> PyResult<u8> {
        let (w, s) = self.slot(index)?;
        self.live()?;
        py.detach(|| {
            self.workers[w].call(move |b| {
                b.state(s).map(|st| expert_action(st).index()).ok_or(EnvError::NeedsReset { index, reason: "no episode is running" })
            })
        })
        .map_err(to_py)
    }

    /// The expert's decision for env `index`: an action index, or the answer word for a question.
    fn expert_decision(&self, py: Python<'_>, index: usize) -> PyResult<Py<PyAny>> {
        let (w, s) = self.slot(index)?;
        self.live()?;
        let d = py
            .detach(|| {
                self.workers[w].call(move |b| {
                    b.state(s).map(expert_decision).ok_or(EnvError::NeedsReset { index, reason: "no episode is running" })
                })
            })
            .map_err(to_py)?;
        Ok(match d {
            Decision::Act(a) => a.index().into_pyobject(py)?.into_any().unbind(),
            Decision::Answer(word) => word.into_pyobject(py)?.into_any().unbind(),
        })
    }

    /// Stop the worker threads and free their Apps; closing twice is fine.
    fn close(&mut self, py: Python<'_>) -> PyResult<()> {
        self.check_process()?;
        let workers = std::mem::take(&mut self.workers);
        py.detach(move || drop(workers));
        Ok(())
    }

    /// Number of envs.
    #[getter]
    fn num_envs(&self) -> usize {
        self.slots.len()
    }

    /// Frame width in pixels.
    #[getter]
    fn width(&self) -> u32 {
        self.width
    }

    /// Frame height in pixels.
    #[getter]
    fn height(&self) -> u32 {
        self.height
    }

    /// The scenario's name.
    #[getter]
    fn scenario_name(&self) -> &str {
        &self.scenario.name
    }

    /// The scenario's step budget.
    #[getter]
    fn max_steps(&self) -> u32 {
        self.scenario.max_steps
    }

    /// Whether the scenario asks a question (answered with `answer`).
    #[getter]
    fn asks_question(&self) -> bool {
        self.scenario.task.answer.is_some()
    }

    /// The Vulkan adapter in use.
    #[getter]
    fn adapter(&self) -> &str {
        &self.adapter
    }
}

impl Drop for Envs {
    fn drop(&mut self) {
        if std::process::id() != self.pid {
            // A forked child: the threads do not exist here, so they cannot be joined.
            for w in self.workers.drain(..) {
                w.abandon();
            }
        }
    }
}
