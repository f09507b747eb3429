//! Where each env's frame sits in the batch renderer's atlas textures, and how the atlas is copied
//! so pixels land as `[env][y][x][rgba]`.
//!
//! Tiles are 64×64-aligned, the rasteriser's own tile size on llvmpipe, so envs never share one of
//! its tiles. Envs fill a column of tiles top to bottom, then the next column. A column copied with
//! one row of tiles' bytes per row (a multiple of 256) lands in the buffer env after env.
//! A batch larger than one texture allows spreads over several pages, one render pass each.

use std::ops::Range;

/// Tile alignment, pixels.
pub const TILE_ALIGN: u32 = 64;

/// One texture of the atlas.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    /// The envs drawn in this page.
    pub envs: Range<usize>,
    /// Texture width, pixels.
    pub width: u32,
    /// Texture height, pixels.
    pub height: u32,
}

/// The tiles of a batch.
#[derive(Clone, Debug, PartialEq)]
pub struct Atlas {
    /// Frame width, pixels.
    pub frame_width: u32,
    /// Frame height, pixels.
    pub frame_height: u32,
    /// Tile width: the frame width rounded up to [`TILE_ALIGN`].
    pub tile_width: u32,
    /// Tile height: the frame height rounded up to [`TILE_ALIGN`].
    pub tile_height: u32,
    /// Tiles per column.
    pub rows: u32,
    /// The pages, in env order.
    pub pages: Vec<Page>,
}

/// A copy of one column of tiles into the page's readback buffer.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnCopy {
    /// Left edge of the column in the page, pixels.
    pub x: u32,
    /// Height to copy, pixels.
    pub height: u32,
    /// Byte offset in the page's buffer.
    pub offset: u64,
}

fn align(v: u32) -> u32 {
    v.div_ceil(TILE_ALIGN) * TILE_ALIGN
}

impl Atlas {
    /// Lay out `envs` frames of `width × height` in textures at most `max_side` pixels on a side.
    /// `None` when one tile does not fit in such a texture.
    pub fn new(envs: usize, width: u32, height: u32, max_side: u32) -> Option<Self> {
        let (tile_width, tile_height) = (align(width), align(height));
        let rows = max_side / tile_height;
        let columns = max_side / tile_width;
        if rows == 0 || columns == 0 || envs == 0 {
            return None;
        }
        let per_page = (rows * columns) as usize;
        let pages = (0..envs)
            .step_by(per_page)
            .map(|first| {
                let n = per_page.min(envs - first) as u32;
                let used_columns = n.div_ceil(rows);
                Page { envs: first..first + n as usize, width: used_columns * tile_width, height: rows.min(n) * tile_height }
            })
            .collect();
        Some(Self { frame_width: width, frame_height: height, tile_width, tile_height, rows, pages })
    }

    /// Bytes of one tile in a readback buffer (RGBA8).
    pub fn tile_bytes(&self) -> u64 {
        u64::from(self.tile_width) * u64::from(self.tile_height) * 4
    }

    /// Bytes per row of a column copy; a multiple of 256 because tiles are 64-aligned.
    pub fn bytes_per_row(&self) -> u32 {
        self.tile_width * 4
    }

    /// Top-left corner of the `k`-th env of a page, pixels.
    pub fn tile_origin(&self, k: usize) -> (u32, u32) {
        let k = k as u32;
        ((k / self.rows) * self.tile_width, (k % self.rows) * self.tile_height)
    }

    /// The copies that read `page` back, one per column.
    pub fn column_copies(&self, page: &Page) -> Vec<ColumnCopy> {
        let n = page.envs.len() as u32;
        (0..n.div_ceil(self.rows))
            .map(|c| {
                let tiles = (n - c * self.rows).min(self.rows);
                ColumnCopy { x: c * self.tile_width, height: tiles * self.tile_height, offset: u64::from(c * self.rows) * self.tile_bytes() }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_are_aligned_and_disjoint() {
        let atlas = Atlas::new(100, 48, 64, 1024).expect("fits");
        assert_eq!((atlas.tile_width, atlas.tile_height, atlas.rows), (64, 64, 16));
        // 16 × 16 tiles per page: 100 envs fit in one.
        assert_eq!(atlas.pages.len(), 1);
        let page = &atlas.pages[0];
        assert_eq!((page.width, page.height), (7 * 64, 1024));
        let mut seen = std::collections::HashSet::new();
        for k in 0..100 {
            let (x, y) = atlas.tile_origin(k);
            assert!(x % 64 == 0 && y % 64 == 0 && x + 64 <= page.width && y + 64 <= page.height);
            assert!(seen.insert((x, y)));
        }
    }

    /// Column copies put env `k`'s tile at byte `k × tile_bytes`.
    #[test]
    fn column_copies_land_env_after_env() {
        let atlas = Atlas::new(40, 64, 64, 1024).expect("fits");
        let copies = atlas.column_copies(&atlas.pages[0]);
        assert_eq!(copies.len(), 3);
        for k in 0..40 {
            let (x, y) = atlas.tile_origin(k);
            let copy = copies.iter().find(|c| c.x == x).expect("its column");
            let offset = copy.offset + u64::from(y / atlas.tile_height) * atlas.tile_bytes();
            assert_eq!(offset, k as u64 * atlas.tile_bytes());
            assert!(y + atlas.tile_height <= copy.height);
        }
        assert_eq!(atlas.bytes_per_row() % 256, 0);
    }

    #[test]
    fn big_batches_spread_over_pages_and_oversized_tiles_do_not_fit() {
        let atlas = Atlas::new(1000, 128, 128, 2048).expect("fits");
        assert_eq!(atlas.pages.iter().map(|p| p.envs.len()).collect::<Vec<_>>(), vec![256, 256, 256, 232]);
        assert_eq!(atlas.pages[3].envs, 768..1000);
        assert!(Atlas::new(1, 4096, 64, 2048).is_none());
    }
}
