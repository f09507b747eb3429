//! Rust errors as Python exceptions, with the same one-line messages.

use pyo3::PyErr;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use sandtable_env::EnvError;

pyo3::create_exception!(
    _native,
    VulkanError,
    PyRuntimeError,
    "No Vulkan adapter could be opened; the message names the packages to install."
);
pyo3::create_exception!(
    _native,
    ResetNeeded,
    PyRuntimeError,
    "step() was called before reset() or after the episode ended."
);

/// The exception class that fits each error: the caller's mistakes are `ValueError`s.
pub fn to_py(e: EnvError) -> PyErr {
    let message = e.to_string();
    match e {
        EnvError::UnknownScenario { .. }
        | EnvError::ScenarioSyntax { .. }
        | EnvError::ScenarioInvalid { .. }
        | EnvError::Config(_) => PyValueError::new_err(message),
        EnvError::ScenarioIo { .. } => PyOSError::new_err(message),
        EnvError::NoVulkanAdapter { .. } => VulkanError::new_err(message),
        EnvError::NeedsReset { .. } => ResetNeeded::new_err(message),
        _ => PyRuntimeError::new_err(message),
    }
}
