//! A private `XDG_RUNTIME_DIR` when the session has none: Mesa's Vulkan loader otherwise prints
//! "error: XDG_RUNTIME_DIR is invalid or not set" for every App it starts, which reads like one
//! of our own errors.

use std::os::unix::fs::PermissionsExt;

/// Point `XDG_RUNTIME_DIR` at a 0700 directory under the temp dir if it is unset or missing.
#[allow(unsafe_code)]
pub fn ensure() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| std::path::Path::new(&d).is_dir()) {
        return;
    }
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    let dir = std::env::temp_dir().join(format!("sandtable-runtime-{uid}"));
    if std::fs::create_dir_all(&dir).is_err() || std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).is_err() {
        return;
    }
    // SAFETY: called once at start-up, before any other thread exists, so nothing reads the
    // environment concurrently.
    unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
}
