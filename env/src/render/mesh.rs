//! Low-poly indexed meshes for the batch renderer: a unit floor quad and one mesh per
//! object shape, all packed into one vertex and one index array.
//!
//! At 64×64 an object covers a few hundred pixels at most, so 8–10 segments per revolution look
//! the same as Bevy's 24–32 while costing a fraction of the triangles, which is what a CPU
//! rasteriser pays for.

use std::f32::consts::{FRAC_PI_2, TAU};
use std::ops::Range;

use crate::world::object::{Shape, Size, extent};

/// Floats per vertex: position (3), normal (3), uv (2).
pub const VERTEX_FLOATS: usize = 8;

/// Where one mesh sits in the packed arrays.
#[derive(Clone, Debug, PartialEq)]
pub struct MeshRange {
    /// Index range to draw.
    pub indices: Range<u32>,
    /// Added to every index.
    pub base_vertex: i32,
}

impl MeshRange {
    /// Triangles in the mesh.
    pub fn triangles(&self) -> u32 {
        (self.indices.end - self.indices.start) / 3
    }
}

/// Which mesh an instance draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MeshKind {
    /// A 1×1 square in the xz plane, facing +y.
    Quad,
    /// An object shape, at the unit size the scene scales by [`Size::extent`].
    Object(Shape),
}

/// Every mesh the batch renderer draws, packed.
#[derive(Clone, Debug, Default)]
pub struct MeshSet {
    /// Interleaved vertices, [`VERTEX_FLOATS`] floats each.
    pub vertices: Vec<f32>,
    /// Triangle indices, counter-clockwise seen from outside.
    pub indices: Vec<u32>,
    ranges: Vec<(MeshKind, MeshRange)>,
}

/// One point of a surface of revolution's profile: radius, height, and the normal's radial and
/// vertical parts.
#[derive(Clone, Copy, Debug)]
struct ProfilePoint {
    r: f32,
    y: f32,
    nr: f32,
    ny: f32,
}

/// A mesh under construction.
#[derive(Default)]
struct Builder {
    vertices: Vec<f32>,
    indices: Vec<u32>,
}

impl Builder {
    fn vertex(&mut self, p: [f32; 3], n: [f32; 3], uv: [f32; 2]) -> u32 {
        let i = (self.vertices.len() / VERTEX_FLOATS) as u32;
        self.vertices.extend_from_slice(&[p[0], p[1], p[2], n[0], n[1], n[2], uv[0], uv[1]]);
        i
    }

    /// A flat face from four corners, counter-clockwise seen from the front.
    fn face(&mut self, corners: [[f32; 3]; 4], n: [f32; 3]) {
        let uvs = [[0.0, 1.0], [1.0, 1.0], [1.0, 0.0], [0.0, 0.0]];
        let first = (self.vertices.len() / VERTEX_FLOATS) as u32;
        for (c, uv) in corners.iter().zip(uvs) {
            self.vertex(*c, n, uv);
        }
        self.indices.extend_from_slice(&[first, first + 1, first + 2, first, first + 2, first + 3]);
    }

    /// Revolve a profile strip about the y axis. Along the strip, with the revolution running
    /// counter-clockwise seen from above, the surface's outside is on the right. Points on the
    /// axis get a fan instead of degenerate quads.
    fn lathe(&mut self, strip: &[ProfilePoint], segments: u32) {
        let first = (self.vertices.len() / VERTEX_FLOATS) as u32;
        let ring = segments + 1;
        for (j, p) in strip.iter().enumerate() {
            for s in 0..ring {
                let a = TAU * s as f32 / segments as f32;
                let (sin, cos) = a.sin_cos();
                let v = j as f32 / (strip.len() - 1).max(1) as f32;
                self.vertex([p.r * cos, p.y, -p.r * sin], [p.nr * cos, p.ny, -p.nr * sin], [s as f32 / segments as f32, v]);
            }
        }
        for j in 0..strip.len() as u32 - 1 {
            for s in 0..segments {
                let a = first + j * ring + s;
                let (b, c, d) = (a + ring, a + 1, a + ring + 1);
                if strip[j as usize].r > 0.0 {
                    self.indices.extend_from_slice(&[a, c, b]);
                }
                if strip[j as usize + 1].r > 0.0 {
                    self.indices.extend_from_slice(&[b, c, d]);
                }
            }
        }
    }
}

fn point(r: f32, y: f32, nr: f32, ny: f32) -> ProfilePoint {
    ProfilePoint { r, y, nr, ny }
}

/// A disc at height `y` facing up (`up`) or down, as a lathe strip.
fn cap(r: f32, y: f32, up: bool) -> [ProfilePoint; 2] {
    let ny = if up { 1.0 } else { -1.0 };
    // The outside is on the strip's right: rim to centre on top, centre to rim below.
    if up { [point(r, y, 0.0, ny), point(0.0, y, 0.0, ny)] } else { [point(0.0, y, 0.0, ny), point(r, y, 0.0, ny)] }
}

/// An arc of a circle centred at `(cr, cy)` in the profile plane, from angle `a0` to `a1`.
fn arc(cr: f32, cy: f32, radius: f32, a0: f32, a1: f32, steps: u32) -> Vec<ProfilePoint> {
    (0..=steps)
        .map(|k| {
            let a = a0 + (a1 - a0) * k as f32 / steps as f32;
            let (sin, cos) = a.sin_cos();
            // Snap the poles onto the axis so they become fans.
            let r = if (cr + radius * cos).abs() < 1e-6 { 0.0 } else { cr + radius * cos };
            point(r, cy + radius * sin, cos, sin)
        })
        .collect()
}

fn unit_box(b: &mut Builder) {
    let h = 0.5;
    for axis in 0..3 {
        for sign in [1.0f32, -1.0] {
            let mut n = [0.0; 3];
            n[axis] = sign;
            // Two tangents with u × v = n, so the corners run counter-clockwise seen from outside.
            let (u, v) = (((axis + 1) % 3), ((axis + 2) % 3));
            let corner = |a: f32, c: f32| {
                let mut p = [0.0; 3];
                p[axis] = sign * h;
                p[u] = a * h * sign;
                p[v] = c * h;
                p
            };
            b.face([corner(-1.0, -1.0), corner(1.0, -1.0), corner(1.0, 1.0), corner(-1.0, 1.0)], n);
        }
    }
}

fn unit_quad(b: &mut Builder) {
    let h = 0.5;
    b.face([[-h, 0.0, h], [h, 0.0, h], [h, 0.0, -h], [-h, 0.0, -h]], [0.0, 1.0, 0.0]);
}

impl Builder {
    /// Give every triangle its own three vertices carrying the face normal, for flat shading:
    /// a colour constant over each triangle needs no interpolation, whose rounding would depend
    /// on where the env's tile sits in the atlas.
    fn flatten(self) -> Builder {
        let mut flat = Builder::default();
        for tri in self.indices.chunks(3) {
            let at = |k: usize| {
                let i = tri[k] as usize * VERTEX_FLOATS;
                let v = &self.vertices[i..i + VERTEX_FLOATS];
                ([v[0], v[1], v[2]], [v[6], v[7]])
            };
            let (a, b, c) = (at(0), at(1), at(2));
            let e1 = [b.0[0] - a.0[0], b.0[1] - a.0[1], b.0[2] - a.0[2]];
            let e2 = [c.0[0] - a.0[0], c.0[1] - a.0[1], c.0[2] - a.0[2]];
            let n = [e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2], e1[0] * e2[1] - e1[1] * e2[0]];
            let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
            if len < 1e-9 {
                continue;
            }
            let n = n.map(|x| x / len);
            for (p, uv) in [a, b, c] {
                let i = flat.vertex(p, n, uv);
                flat.indices.push(i);
            }
        }
        flat
    }
}

fn shape_mesh(b: &mut Builder, shape: Shape) {
    // Unit meshes have the extent of size 1; the scene scales them by the size's extent.
    let unit = extent(shape, Size::Small);
    let k = 1.0 / Size::Small.extent();
    let (r, h) = (unit.radius * k, unit.height * k);
    match shape {
        Shape::Cube => {
            let start = b.vertices.len();
            unit_box(b);
            for v in b.vertices[start..].chunks_mut(VERTEX_FLOATS) {
                v[..3].iter_mut().for_each(|c| *c *= h);
            }
        }
        Shape::Sphere => b.lathe(&arc(0.0, 0.0, r, -FRAC_PI_2, FRAC_PI_2, 5), 8),
        Shape::Cylinder => {
            b.lathe(&cap(r, -h / 2.0, false), 10);
            b.lathe(&[point(r, -h / 2.0, 1.0, 0.0), point(r, h / 2.0, 1.0, 0.0)], 10);
            b.lathe(&cap(r, h / 2.0, true), 10);
        }
        Shape::Cone => {
            let len = (r * r + h * h).sqrt();
            let (nr, ny) = (h / len, r / len);
            b.lathe(&cap(r, -h / 2.0, false), 10);
            b.lathe(&[point(r, -h / 2.0, nr, ny), point(0.0, h / 2.0, nr, ny)], 10);
        }
        Shape::Capsule => {
            let half = h / 2.0 - r;
            let mut strip = arc(0.0, -half, r, -FRAC_PI_2, 0.0, 2);
            strip.extend(arc(0.0, half, r, 0.0, FRAC_PI_2, 2));
            b.lathe(&strip, 8);
        }
        Shape::Torus => {
            let minor = h / 2.0;
            let major = r - minor;
            // The whole tube circle, counter-clockwise in the profile plane (outside on the right).
            b.lathe(&arc(major, 0.0, minor, -std::f32::consts::PI, std::f32::consts::PI, 8), 8);
        }
        // Keys, boxes and switches are drawn as parts made of the plain shapes (`world::appearance`).
        Shape::Key | Shape::Box | Shape::Switch => {}
    }
}

impl MeshSet {
    /// Build every mesh.
    pub fn new() -> Self {
        let mut set = MeshSet::default();
        let kinds = [MeshKind::Quad].into_iter().chain(Shape::ALL.into_iter().map(MeshKind::Object));
        for kind in kinds {
            let mut b = Builder::default();
            match kind {
                MeshKind::Quad => unit_quad(&mut b),
                MeshKind::Object(shape) => {
                    shape_mesh(&mut b, shape);
                    b = b.flatten();
                }
            }
            let base_vertex = (set.vertices.len() / VERTEX_FLOATS) as i32;
            let start = set.indices.len() as u32;
            set.vertices.extend(b.vertices);
            set.indices.extend(b.indices);
            set.ranges.push((kind, MeshRange { indices: start..set.indices.len() as u32, base_vertex }));
        }
        set
    }

    /// Where `kind` sits in the packed arrays.
    pub fn range(&self, kind: MeshKind) -> &MeshRange {
        // Every kind is built in `new`, so the lookup cannot miss.
        &self.ranges.iter().find(|(k, _)| *k == kind).expect("every mesh kind is built").1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vertex(set: &MeshSet, range: &MeshRange, index: u32) -> ([f32; 3], [f32; 3]) {
        let i = (set.indices[index as usize] as i32 + range.base_vertex) as usize * VERTEX_FLOATS;
        let v = &set.vertices[i..i + VERTEX_FLOATS];
        ([v[0], v[1], v[2]], [v[3], v[4], v[5]])
    }

    /// Every triangle winds counter-clockwise seen from where its normals point, so back-face
    /// culling keeps exactly the faces that look at the camera.
    #[test]
    fn triangles_face_their_normals() {
        let set = MeshSet::new();
        let kinds = [MeshKind::Quad].into_iter().chain(Shape::ALL.into_iter().map(MeshKind::Object));
        for kind in kinds {
            let range = set.range(kind).clone();
            assert!(range.triangles() > 0, "{kind:?} is empty");
            for t in (range.indices.start..range.indices.end).step_by(3) {
                let (a, na) = vertex(&set, &range, t);
                let (b, nb) = vertex(&set, &range, t + 1);
                let (c, nc) = vertex(&set, &range, t + 2);
                let e1 = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
                let e2 = [c[0] - a[0], c[1] - a[1], c[2] - a[2]];
                let cross = [e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2], e1[0] * e2[1] - e1[1] * e2[0]];
                let n = [na[0] + nb[0] + nc[0], na[1] + nb[1] + nc[1], na[2] + nb[2] + nc[2]];
                let dot = cross[0] * n[0] + cross[1] * n[1] + cross[2] * n[2];
                assert!(dot > 0.0, "{kind:?}: triangle at {t} faces away from its normals");
            }
        }
    }

    /// Object meshes span their shape's extent at size 1, as the physics sees it.
    #[test]
    fn objects_match_their_extents() {
        let set = MeshSet::new();
        for shape in Shape::ALL {
            let range = set.range(MeshKind::Object(shape)).clone();
            let (mut top, mut bottom, mut radius) = (f32::MIN, f32::MAX, 0.0f32);
            for t in range.indices.clone() {
                let (p, _) = vertex(&set, &range, t);
                top = top.max(p[1]);
                bottom = bottom.min(p[1]);
                radius = radius.max((p[0] * p[0] + p[2] * p[2]).sqrt());
            }
            let e = extent(shape, Size::Small);
            let k = 1.0 / Size::Small.extent();
            assert!(((top - bottom) - e.height * k).abs() < 1e-4, "{shape:?} height {}", top - bottom);
            assert!((top + bottom).abs() < 1e-4, "{shape:?} is not centred");
            assert!(radius <= e.radius * k + 1e-4, "{shape:?} radius {radius}");
            assert!(range.triangles() <= 128, "{shape:?} has {} triangles", range.triangles());
        }
    }
}
