//! The environment library's one error type.

use std::path::PathBuf;

/// Everything that can go wrong while loading a scenario, building a world or rendering it.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    /// No Vulkan adapter could be opened, so nothing can be rendered.
    #[error(
        "no Vulkan adapter found ({detail}); install the Debian packages `mesa-vulkan-drivers` and `libvulkan1` (apt-get install -y mesa-vulkan-drivers libvulkan1)"
    )]
    NoVulkanAdapter {
        /// What the probe saw.
        detail: String,
    },
    /// A scenario name that is neither built in nor an existing file.
    #[error("unknown scenario `{name}`: not a built-in ({builtins}) and no such file")]
    UnknownScenario {
        /// The name or path given.
        name: String,
        /// The built-in names, comma separated.
        builtins: String,
    },
    /// A scenario file could not be read.
    #[error("cannot read scenario {path}: {cause}")]
    ScenarioIo {
        /// The file.
        path: PathBuf,
        /// The cause, named in the message (not a `source`, which a chain would print again).
        cause: std::io::Error,
    },
    /// A scenario file is not valid RON for the schema.
    #[error("{origin}:{line}:{col}: {message}")]
    ScenarioSyntax {
        /// The file, or `builtin:NAME`.
        origin: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
        /// What the parser said.
        message: String,
    },
    /// A scenario parsed but its values make no sense.
    #[error("{origin}: field `{field}`: {message}")]
    ScenarioInvalid {
        /// The file, or `builtin:NAME`.
        origin: String,
        /// The dotted path of the offending field.
        field: String,
        /// Why it is wrong.
        message: String,
    },
    /// World generation could not satisfy the scenario for this seed.
    #[error("scenario `{scenario}` seed {seed}: world generation failed after {attempts} attempts: {reason}")]
    Generation {
        /// Scenario name.
        scenario: String,
        /// The seed.
        seed: u64,
        /// How many deterministic retries were made.
        attempts: u32,
        /// The last reason.
        reason: String,
    },
    /// A bad argument from the caller (for example a frame size of zero).
    #[error("invalid environment config: {0}")]
    Config(String),
    /// `step` was called on an env that was never reset or whose episode is over.
    #[error("env {index}: {reason}; call reset first")]
    NeedsReset {
        /// Which env of the batch.
        index: usize,
        /// Never reset, or episode over.
        reason: &'static str,
    },
    /// A stream worker failed: it returned an error or panicked.
    #[error("env worker {worker} failed: {message}")]
    Worker {
        /// Which worker.
        worker: usize,
        /// Its error, or its panic message.
        message: String,
    },
    /// The renderer failed after start-up.
    #[error("render failure: {0}")]
    Render(String),
}

/// Shorthand for results in this crate.
pub type Result<T, E = EnvError> = std::result::Result<T, E>;
