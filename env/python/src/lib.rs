//! `sandtable._native`: the Rust half of the `sandtable` Python package. It runs `EnvBatch`es on
//! worker threads ([`envs::Envs`]); the Gymnasium classes around it are Python
//! (`python/sandtable/`).

mod envs;
mod error;
mod process;
mod worker;

use pyo3::prelude::*;

/// The action names, in index order.
#[pyfunction]
fn action_names() -> Vec<&'static str> {
    sandtable_env::Action::vocabulary()
}

/// Every word a question may be answered with.
#[pyfunction]
fn answer_vocabulary() -> Vec<String> {
    sandtable_env::answer_vocabulary()
}

/// The built-in scenario names.
#[pyfunction]
fn builtin_scenarios() -> Vec<&'static str> {
    sandtable_env::builtin_names()
}

/// The Python module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<envs::Envs>()?;
    m.add_function(wrap_pyfunction!(action_names, m)?)?;
    m.add_function(wrap_pyfunction!(answer_vocabulary, m)?)?;
    m.add_function(wrap_pyfunction!(builtin_scenarios, m)?)?;
    m.add("VulkanError", m.py().get_type::<error::VulkanError>())?;
    m.add("ResetNeeded", m.py().get_type::<error::ResetNeeded>())?;
    Ok(())
}
