//! Atomic file writes: bytes go to `NAME.partial`, are flushed to the disk, then a rename puts
//! them in place, so an interrupted program (or a crashed machine) leaves either the old file or
//! the new one, never half of one.

use std::path::{Path, PathBuf};

/// `path` with `.partial` appended: where a file is written before it is renamed into place.
pub fn partial_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".partial");
    PathBuf::from(s)
}

/// Write `bytes` to `path` through a temporary file, an fsync and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = partial_path(path);
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::File::open(&tmp)?.sync_all()).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        // A full disk is the usual cause: give back what the partial file took.
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    sync_parent(path)
}

/// Flush every file directly inside `dir`, then `dir` itself, to the disk.
pub fn sync_tree(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::File::open(entry.path())?.sync_all()?;
        }
    }
    std::fs::File::open(dir)?.sync_all()
}

/// Flush the directory holding `path` (its entries, such as a rename into it).
pub fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => std::fs::File::open(p)?.sync_all(),
        _ => Ok(()),
    }
}
