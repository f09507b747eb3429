//! The fork guard. A forked child inherits a copy of the parent's Vulkan driver state but none of
//! its threads, so envs made before `fork` cannot run there, and Vulkan cannot safely be set up
//! again. Calls from such a child fail with a clear error instead of hanging.

use std::sync::OnceLock;

/// The process that first set up Vulkan (made an env).
static VULKAN_PID: OnceLock<u32> = OnceLock::new();

/// The message a forked child gets.
pub fn forked_message(owner: u32) -> String {
    format!(
        "this process was forked from process {owner} after it had initialised Vulkan; sandtable envs cannot be used or created here: start worker processes with multiprocessing's 'spawn' start method"
    )
}

/// Note that this process is setting up Vulkan, or fail if a parent already had.
pub fn claim_vulkan() -> Result<u32, String> {
    let me = std::process::id();
    let owner = *VULKAN_PID.get_or_init(|| me);
    if owner == me { Ok(me) } else { Err(forked_message(owner)) }
}
