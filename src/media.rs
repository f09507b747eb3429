//! Writing frames: PNG files and animated GIFs, always through a temporary file and a rename.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sandtable_env::Frame;

pub use sandtable_agent::atomic::partial_path;

/// Write bytes to `path` atomically, creating its directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    sandtable_agent::atomic::write_atomic(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// Write `value` as pretty JSON, atomically, its objects' keys sorted whatever order the
/// fields are declared in (through a `Value`, whose objects keep them sorted).
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let value = serde_json::to_value(value).with_context(|| format!("describing {}", path.display()))?;
    write_atomic(path, serde_json::to_string_pretty(&value)?.as_bytes())
}

/// `value` as one JSON line, its objects' keys sorted.
pub fn json_line<T: serde::Serialize>(value: &T) -> Result<String> {
    Ok(serde_json::to_value(value).context("describing a JSON line")?.to_string())
}

/// Encode a frame as PNG bytes.
pub fn png_bytes(frame: &Frame) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let img = image::RgbImage::from_raw(frame.width, frame.height, frame.rgb.clone())
        .context("frame buffer does not match its size")?;
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png).context("encoding PNG")?;
    Ok(out)
}

/// An animated GIF written frame by frame to a temporary file, renamed on `finish`.
pub struct GifWriter {
    encoder: gif::Encoder<BufWriter<File>>,
    tmp: PathBuf,
    path: PathBuf,
    width: u16,
    height: u16,
    frames: usize,
}

impl GifWriter {
    /// Start a looping GIF of `width × height` at `fps`.
    pub fn create(path: &Path, width: u32, height: u32) -> Result<Self> {
        let tmp = partial_path(path);
        let file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let (w, h) = (u16::try_from(width).context("GIF width")?, u16::try_from(height).context("GIF height")?);
        let mut encoder = gif::Encoder::new(BufWriter::new(file), w, h, &[]).context("starting GIF")?;
        encoder.set_repeat(gif::Repeat::Infinite).context("GIF repeat")?;
        Ok(Self { encoder, tmp, path: path.to_path_buf(), width: w, height: h, frames: 0 })
    }

    /// Append a frame shown for `delay_cs` hundredths of a second.
    pub fn push(&mut self, frame: &Frame, delay_cs: u16) -> Result<()> {
        anyhow::ensure!(
            frame.width == u32::from(self.width) && frame.height == u32::from(self.height),
            "frame is {}x{}, GIF is {}x{}",
            frame.width,
            frame.height,
            self.width,
            self.height
        );
        let mut f = gif::Frame::from_rgb_speed(self.width, self.height, &frame.rgb, 10);
        f.delay = delay_cs;
        self.encoder.write_frame(&f).context("writing GIF frame")?;
        self.frames += 1;
        Ok(())
    }

    /// Finish the file and move it into place. Returns the frame count.
    pub fn finish(self) -> Result<usize> {
        let frames = self.frames;
        let mut w = self.encoder.into_inner().context("finishing GIF")?;
        w.flush().context("flushing GIF")?;
        drop(w);
        std::fs::rename(&self.tmp, &self.path).with_context(|| format!("renaming {} into place", self.path.display()))?;
        Ok(frames)
    }
}

/// 3×5 pixel glyphs for seed labels: digits and `#`. Each row is 3 bits, most significant left.
fn glyph(c: char) -> Option<[u8; 5]> {
    Some(match c {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 7, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 1, 1],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        '#' => [5, 7, 5, 7, 5],
        _ => return None,
    })
}

/// Draw `text` (digits and `#`) in white at (x, y), scaled ×1, skipping other characters.
pub fn draw_label(img: &mut image::RgbImage, x: u32, y: u32, text: &str) {
    let mut cx = x;
    for c in text.chars() {
        if let Some(rows) = glyph(c) {
            for (dy, bits) in rows.iter().enumerate() {
                for dx in 0..3u32 {
                    if bits & (4 >> dx) != 0 {
                        let (px, py) = (cx + dx, y + dy as u32);
                        if px < img.width() && py < img.height() {
                            img.put_pixel(px, py, image::Rgb([255, 255, 255]));
                        }
                    }
                }
            }
        }
        cx += 4;
    }
}
