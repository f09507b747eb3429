//! One shard on disk. Its layout comes from the safetensors header, its small columns are decoded
//! on open, and its frames are read when asked for, through checked reads rather than a memory
//! map: a shard that is truncated or rewritten while a job reads it ends that job with an error
//! naming the file, never a SIGBUS.
//!
//! What holds: every read first compares the open file's size and modification time with those
//! seen on open, and a read past the file's end is an error. So a shard rewritten in place or
//! truncated is caught at the next read. Not caught: a change landing between that comparison and
//! the read (that one read gets the new bytes); a same-size rewrite within one tick of a file
//! system's coarse timestamps (1–2 s on some); a shard replaced by a rename, since the job keeps
//! reading the file it opened, which is unchanged.

use std::fs::File;
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use safetensors::Dtype;
use safetensors::tensor::Metadata;

use super::error::DatasetError;
use super::info::{DatasetInfo, Feature, ShardEntry};

/// Bytes before the header: its length, u64 little-endian.
const LEN_BYTES: u64 = 8;

/// The largest header read, as safetensors itself allows.
const MAX_HEADER: u64 = 100_000_000;

/// Something bytes can be read from at an offset: a file, or bytes in memory (for the fuzz target).
pub(crate) trait ReadAt {
    fn read_exact_at(&self, buf: &mut [u8], at: u64) -> std::io::Result<()>;
}

impl ReadAt for File {
    fn read_exact_at(&self, buf: &mut [u8], at: u64) -> std::io::Result<()> {
        FileExt::read_exact_at(self, buf, at)
    }
}

impl ReadAt for [u8] {
    fn read_exact_at(&self, buf: &mut [u8], at: u64) -> std::io::Result<()> {
        let start = usize::try_from(at).map_err(|_| ErrorKind::UnexpectedEof)?;
        let src = start.checked_add(buf.len()).and_then(|end| self.get(start..end)).ok_or(ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// What a shard's file looked like when it was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    bytes: u64,
    modified: Option<SystemTime>,
}

impl Stamp {
    fn of(file: &File, path: &Path) -> Result<Self, DatasetError> {
        let m = file.metadata().map_err(|e| DatasetError::io(path, e))?;
        Ok(Self { bytes: m.len(), modified: m.modified().ok() })
    }
}

/// A shard's decoded columns and where its frames lie.
#[derive(Debug)]
pub(crate) struct Columns {
    /// Byte offset of the `frames` tensor in the file.
    pub frames_at: u64,
    pub actions: Vec<i64>,
    pub rewards: Vec<f32>,
    pub terminated: Vec<u8>,
    pub truncated: Vec<u8>,
    pub episode_index: Vec<i64>,
    pub frame_index: Vec<i64>,
}

impl Columns {
    /// Check that the rows hold whole, consecutive episodes from `entry.first_episode`, each
    /// numbered from frame 0, as many as `entry` says.
    pub fn check_indices(&self, path: &Path, entry: &ShardEntry) -> Result<(), DatasetError> {
        let bad = |m: String| DatasetError::invalid(path, m);
        // i128: the indices come from the file and info.json, and may be anything.
        let mut expect_ep = i128::from(entry.first_episode);
        let mut expect_frame = 0i128;
        for (row, (&e, &f)) in self.episode_index.iter().zip(&self.frame_index).enumerate() {
            if row > 0 && f == 0 {
                expect_ep += 1;
                expect_frame = 0;
            }
            if i128::from(e) != expect_ep || i128::from(f) != expect_frame {
                return Err(bad(format!("row {row} is episode {e} frame {f}, expected episode {expect_ep} frame {expect_frame}")));
            }
            expect_frame += 1;
        }
        let episodes = if self.episode_index.is_empty() { 0 } else { expect_ep - i128::from(entry.first_episode) + 1 };
        if episodes != i128::from(entry.episodes) {
            return Err(bad(format!("holds {episodes} episodes, info.json says {}", entry.episodes)));
        }
        Ok(())
    }
}

/// One opened shard.
#[derive(Debug)]
pub(crate) struct Shard {
    pub path: PathBuf,
    file: File,
    stamp: Stamp,
    pub columns: Columns,
}

impl Shard {
    /// Open the shard `entry` of the dataset in `dir` and decode its columns, checking them
    /// against `info.json`.
    pub fn open(dir: &Path, entry: &ShardEntry, info: &DatasetInfo) -> Result<Self, DatasetError> {
        let path = dir.join(&entry.file);
        let file = File::open(&path).map_err(|e| DatasetError::invalid(&path, format!("cannot read a shard that info.json lists: {e}")))?;
        let stamp = Stamp::of(&file, &path)?;
        if stamp.bytes != entry.bytes {
            return Err(DatasetError::invalid(&path, format!("is {} bytes, info.json says {} (truncated or overwritten)", stamp.bytes, entry.bytes)));
        }
        let columns = read_columns(&file, stamp.bytes, &path, entry, info)?;
        Ok(Self { path, file, stamp, columns })
    }

    /// Fill `out` from the file at byte `at`, after checking that the file is still as opened.
    pub fn read(&self, at: u64, out: &mut [u8]) -> Result<(), DatasetError> {
        let now = Stamp::of(&self.file, &self.path)?;
        if now != self.stamp {
            let how = if now.bytes < self.stamp.bytes { "truncated" } else { "rewritten" };
            return Err(DatasetError::invalid(
                &self.path,
                format!("was {how} while this job read it ({} bytes when opened, {} now); a shard must not change while a job reads it", self.stamp.bytes, now.bytes),
            ));
        }
        FileExt::read_exact_at(&self.file, out, at).map_err(|e| match e.kind() {
            ErrorKind::UnexpectedEof => DatasetError::invalid(&self.path, "was truncated while this job read it"),
            _ => DatasetError::io(&self.path, e),
        })
    }
}

/// Read a shard's header from `src` (a file of `size` bytes) and decode its columns, checking
/// dtypes and shapes against `info` and the row count against `entry`. The frames stay unread.
pub(crate) fn read_columns(src: &(impl ReadAt + ?Sized), size: u64, path: &Path, entry: &ShardEntry, info: &DatasetInfo) -> Result<Columns, DatasetError> {
    let bad = |m: String| DatasetError::invalid(path, m);
    let read = |at: u64, len: u64| -> Result<Vec<u8>, DatasetError> {
        if at.checked_add(len).is_none_or(|end| end > size) {
            return Err(bad(format!("bytes {at}..{} lie past its end ({size} bytes)", at.saturating_add(len))));
        }
        let mut buf = vec![0u8; len as usize];
        src.read_exact_at(&mut buf, at).map_err(|e| DatasetError::io(path, e))?;
        Ok(buf)
    };
    let head_len = u64::from_le_bytes(read(0, LEN_BYTES)?.try_into().unwrap_or([0; 8]));
    if head_len > size - LEN_BYTES || head_len > MAX_HEADER {
        return Err(bad(format!("not a valid safetensors file: a header of {head_len} bytes in a file of {size}")));
    }
    let meta: Metadata = serde_json::from_slice(&read(LEN_BYTES, head_len)?).map_err(|e| bad(format!("not a valid safetensors file: {e}")))?;
    let data_at = LEN_BYTES + head_len;
    if data_at.checked_add(meta.data_len() as u64) != Some(size) {
        return Err(bad(format!("not a valid safetensors file: its header covers {} data bytes, the file holds {}", meta.data_len(), size - data_at)));
    }
    let rows = usize::try_from(entry.frames).map_err(|_| bad(format!("{} rows do not fit in memory", entry.frames)))?;
    let feature = |name: &str| -> Result<&Feature, DatasetError> {
        info.features.get(name).ok_or_else(|| bad(format!("info.json's features lack `{name}`")))
    };
    // Where column `name` lies, after checking its dtype and shape.
    let locate = |name: &str| -> Result<(u64, u64), DatasetError> {
        let feature = feature(name)?;
        let t = meta.info(name).ok_or_else(|| bad(format!("has no `{name}` tensor")))?;
        let dtype = numpy_dtype(t.dtype);
        if dtype != feature.dtype {
            return Err(bad(format!("`{name}` is {dtype}, info.json says {}", feature.dtype)));
        }
        let mut shape = vec![rows];
        shape.extend(&feature.shape);
        if t.shape != shape {
            return Err(bad(format!("`{name}` has shape {:?}, expected {shape:?}", t.shape)));
        }
        let (start, end) = t.data_offsets;
        Ok((data_at + start as u64, (end - start) as u64))
    };
    let column = |name: &str| locate(name).and_then(|(at, len)| read(at, len));
    let i64s = |b: Vec<u8>| b.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect::<Vec<_>>();
    Ok(Columns {
        frames_at: locate("frames")?.0,
        actions: i64s(column("actions")?),
        rewards: column("rewards")?.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap_or([0; 4]))).collect(),
        terminated: column("terminated")?,
        truncated: column("truncated")?,
        episode_index: i64s(column("episode_index")?),
        frame_index: i64s(column("frame_index")?),
    })
}

fn numpy_dtype(d: Dtype) -> &'static str {
    match d {
        Dtype::U8 => "uint8",
        Dtype::I64 => "int64",
        Dtype::F32 => "float32",
        Dtype::BOOL => "bool",
        Dtype::I32 => "int32",
        Dtype::U32 => "uint32",
        Dtype::F64 => "float64",
        Dtype::F16 => "float16",
        Dtype::BF16 => "bfloat16",
        _ => "other",
    }
}
