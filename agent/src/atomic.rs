//! Atomic file writes: bytes go to `NAME.partial`, then a rename puts them in place, so an
//! interrupted program leaves either the old file or the new one, never half of one.

use std::path::{Path, PathBuf};

/// `path` with `.partial` appended: where a file is written before it is renamed into place.
pub fn partial_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".partial");
    PathBuf::from(s)
}

/// Write `bytes` to `path` through a temporary file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = partial_path(path);
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
