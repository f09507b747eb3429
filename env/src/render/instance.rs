//! What the batch renderer draws for one env: its room surfaces and objects as mesh instances,
//! each with its clip transform and shading inputs, computed on the CPU from the simulation.
//!
//! Surface patterns are looked up from the pixel's position inside its env's tile, through a
//! per-face projective map from pixels to pattern cells. Interpolated texture coordinates would
//! carry rounding that depends on where the tile sits in the atlas (large clipped floor triangles
//! show it), so an env's frame would change with its place in the batch.
//!
//! Lighting follows the PBR path's numbers (illuminance in lux, ambient in cd/m², Bevy's default
//! exposure) on a Lambertian surface, scaled to match what the PBR path draws, so the two
//! renderers show the same scene in about the same light.

use bevy::color::{Color, ColorToComponents};
use bevy::math::{Mat3, Mat4, Quat, Vec3, Vec4};

use crate::render::mesh::MeshKind;
use crate::sim::SimState;
use crate::world::appearance::{Part, door_panel, object_parts};
use crate::world::layout::{Gate, INNER_WALL, Texture};

/// Floats per instance: clip transform (16), normal transform (9), albedo and pattern kind (4),
/// light direction and strength (4), ambient and tile origin (4), pattern transform (9).
pub const INSTANCE_FLOATS: usize = 46;
/// Where an instance's tile origin sits in its floats; the renderer fills it in per env.
pub const TILE_ORIGIN: usize = 34;

/// Near and far planes, metres (the PBR camera's).
const NEAR: f32 = 0.05;
const FAR: f32 = 100.0;

/// How bright Bevy's PBR path renders ambient light and sunlight on our rough, non-metallic
/// surfaces, relative to a plain Lambertian surface under the same exposure: fitted on flat walls
/// and ceilings lit by ambient only and by the sun only (`docs/performance.md`).
const AMBIENT_GAIN: f32 = 0.48;
const SUN_GAIN: f32 = 1.17;

/// Bevy's default camera exposure (EV100 9.7): what turns lux and cd/m² into pixel values.
fn exposure() -> f32 {
    1.0 / (2f32.powf(9.7) * 1.2)
}

/// Mesh instances of a batch's envs, env after env, in draw order.
#[derive(Clone, Debug, Default)]
pub struct Instances {
    /// Which mesh each instance draws.
    pub meshes: Vec<MeshKind>,
    /// [`INSTANCE_FLOATS`] floats per instance.
    pub data: Vec<f32>,
    /// Each env's slice of the instances, in env order (empty for an env never reset).
    pub ranges: Vec<std::ops::Range<u32>>,
}

/// A flat face: centred at `centre`, `u` long along local x, facing `normal`, `len_v` long
/// along v = û × n (local z). (u, n, v) is right-handed like (x, y, z), so the quad keeps its
/// winding.
struct Face {
    centre: Vec3,
    u: Vec3,
    normal: Vec3,
    len_v: f32,
}

fn face(centre: Vec3, u: Vec3, normal: Vec3, len_v: f32) -> Face {
    Face { centre, u, normal, len_v }
}

/// Per-env shading inputs shared by its instances.
struct Shading {
    clip: Mat4,
    frustum: [Vec4; 6],
    light: Vec4,
    ambient: f32,
    width: f32,
    height: f32,
}

impl Shading {
    fn new(s: &SimState, width: u32, height: u32) -> Self {
        let aspect = width as f32 / height as f32;
        let [x, y, z] = s.eye();
        let rotation = Quat::from_rotation_y(s.agent.yaw) * Quat::from_rotation_x(-s.scenario.agent.pitch_deg.to_radians());
        let view = Mat4::from_rotation_translation(rotation, Vec3::new(x, y, z)).inverse();
        let projection = Mat4::perspective_rh(s.scenario.agent.fov_deg.to_radians(), aspect, NEAR, FAR);
        let clip = projection * view;
        let l = &s.layout.light();
        let to_light = Vec3::new(l.elevation.cos() * l.azimuth.sin(), l.elevation.sin(), l.elevation.cos() * l.azimuth.cos());
        let sun = SUN_GAIN * l.illuminance * exposure() / std::f32::consts::PI;
        let ambient = AMBIENT_GAIN * l.ambient * exposure();
        Self { clip, frustum: frustum_planes(&clip), light: to_light.extend(sun), ambient, width: width as f32, height: height as f32 }
    }

    /// The map from a pixel (tile-local, y down) to pattern cells on a quad with `model`, whose
    /// texture coordinates run 0..1 along local x and z, with `repeats` two-cell repeats.
    fn pattern_map(&self, model: &Mat4, repeats: [f32; 2]) -> Mat3 {
        let m = self.clip * *model;
        let (w2, h2) = (self.width / 2.0, self.height / 2.0);
        // Homogeneous pixel of the quad point (x, 0, z): columns for x, z and 1.
        let pixel = |k: Vec4| Vec3::new(w2 * (k.x + k.w), h2 * (k.w - k.y), k.w);
        let to_pixel = Mat3::from_cols(pixel(m.x_axis), pixel(m.z_axis), pixel(m.w_axis));
        if to_pixel.determinant().abs() < 1e-12 {
            // Seen edge-on: the face covers no pixel.
            return Mat3::ZERO;
        }
        let [ru, rv] = repeats;
        let to_cells = Mat3::from_cols(Vec3::new(2.0 * ru, 0.0, 0.0), Vec3::new(0.0, 2.0 * rv, 0.0), Vec3::new(ru, rv, 1.0));
        to_cells * to_pixel.inverse()
    }

    /// Whether a sphere can touch the view.
    fn sees(&self, centre: Vec3, radius: f32) -> bool {
        self.frustum.iter().all(|p| p.truncate().dot(centre) + p.w >= -radius)
    }
}

/// The six planes of a clip transform's frustum, normalised, inside positive.
fn frustum_planes(m: &Mat4) -> [Vec4; 6] {
    let rows = [m.row(0), m.row(1), m.row(2), m.row(3)];
    let planes = [rows[3] + rows[0], rows[3] - rows[0], rows[3] + rows[1], rows[3] - rows[1], rows[2], rows[3] - rows[2]];
    planes.map(|p| p / p.truncate().length())
}

fn linear(srgb: [f32; 3]) -> Vec3 {
    Vec3::from_slice(&Color::srgb(srgb[0], srgb[1], srgb[2]).to_linear().to_f32_array_no_alpha())
}

/// Pattern code and repeats over a face `size` metres across (two tiles per repeat).
fn pattern(texture: Texture, size: (f32, f32)) -> (f32, [f32; 2]) {
    match texture {
        Texture::Plain => (0.0, [1.0, 1.0]),
        Texture::Checker(t) => (1.0, [size.0 / (2.0 * t), size.1 / (2.0 * t)]),
        Texture::Stripes(t) => (2.0, [size.0 / (2.0 * t), size.1 / (2.0 * t)]),
    }
}

impl Instances {
    /// Clear, keeping the allocations.
    pub fn clear(&mut self) {
        self.meshes.clear();
        self.data.clear();
        self.ranges.clear();
    }

    fn push(&mut self, kind: MeshKind, model: Mat4, shading: &Shading, albedo: Vec3, texture: (f32, [f32; 2])) {
        let cells = if texture.0 > 0.0 { shading.pattern_map(&model, texture.1) } else { Mat3::ZERO };
        self.meshes.push(kind);
        self.data.extend_from_slice(&(shading.clip * model).to_cols_array());
        self.data.extend_from_slice(&Mat3::from_mat4(model).inverse().transpose().to_cols_array());
        self.data.extend_from_slice(&[albedo.x, albedo.y, albedo.z, texture.0]);
        self.data.extend_from_slice(&shading.light.to_array());
        self.data.extend_from_slice(&[shading.ambient, 0.0, 0.0, 0.0]);
        self.data.extend_from_slice(&cells.to_cols_array());
    }

    fn quad(&mut self, shading: &Shading, f: Face, srgb: [f32; 3], texture: Texture) {
        let v = f.u.normalize().cross(f.normal) * f.len_v;
        let model = Mat4::from_cols(f.u.extend(0.0), f.normal.extend(0.0), v.extend(0.0), f.centre.extend(1.0));
        self.push(MeshKind::Quad, model, shading, linear(srgb), pattern(texture, (f.u.length(), f.len_v)));
    }

    /// Append an env with nothing to draw (never reset): its tile stays black.
    pub fn push_empty(&mut self) {
        let at = self.meshes.len() as u32;
        self.ranges.push(at..at);
    }

    /// Number of instances.
    pub fn len(&self) -> usize {
        self.meshes.len()
    }

    /// Whether there are no instances.
    pub fn is_empty(&self) -> bool {
        self.meshes.is_empty()
    }

    /// Append env `s`'s scene as its agent sees it, on a `width × height` frame.
    pub fn push_env(&mut self, s: &SimState, width: u32, height: u32) {
        let start = self.meshes.len() as u32;
        self.push_scene(s, width, height);
        self.ranges.push(start..self.meshes.len() as u32);
    }

    fn push_scene(&mut self, s: &SimState, width: u32, height: u32) {
        let shading = Shading::new(s, width, height);
        let room = &s.layout.room;
        let (w, d, h) = (room.width, room.depth, room.height);
        let (wall, wall_texture) = (room.wall_color, room.wall_texture);
        // Floor, ceiling and the four outer walls, each one face looking into the room.
        self.quad(&shading, face(Vec3::ZERO, Vec3::X * w, Vec3::Y, d), room.floor_color, room.floor_texture);
        self.quad(&shading, face(Vec3::Y * h, Vec3::X * w, Vec3::NEG_Y, d), room.ceiling_color, Texture::Plain);
        self.quad(&shading, face(Vec3::new(0.0, h / 2.0, -d / 2.0), Vec3::X * w, Vec3::Z, h), wall, wall_texture);
        self.quad(&shading, face(Vec3::new(0.0, h / 2.0, d / 2.0), Vec3::NEG_X * w, Vec3::NEG_Z, h), wall, wall_texture);
        self.quad(&shading, face(Vec3::new(-w / 2.0, h / 2.0, 0.0), Vec3::NEG_Z * d, Vec3::X, h), wall, wall_texture);
        self.quad(&shading, face(Vec3::new(w / 2.0, h / 2.0, 0.0), Vec3::Z * d, Vec3::NEG_X, h), wall, wall_texture);
        // Interior walls: both sides and both ends of each segment beside the doorway.
        for inner in &room.inner_walls {
            let half = d / 2.0;
            for (z0, z1) in [(-half, inner.door.0), (inner.door.1, half)] {
                if z1 <= z0 {
                    continue;
                }
                let len = z1 - z0;
                let (x, t, zc) = (inner.x, INNER_WALL / 2.0, (z0 + z1) / 2.0);
                if !shading.sees(Vec3::new(x, h / 2.0, zc), (len * len + h * h).sqrt() / 2.0 + t) {
                    continue;
                }
                self.quad(&shading, face(Vec3::new(x - t, h / 2.0, zc), Vec3::Z * len, Vec3::NEG_X, h), wall, wall_texture);
                self.quad(&shading, face(Vec3::new(x + t, h / 2.0, zc), Vec3::NEG_Z * len, Vec3::X, h), wall, wall_texture);
                self.quad(&shading, face(Vec3::new(x, h / 2.0, z0), Vec3::NEG_X * INNER_WALL, Vec3::NEG_Z, h), wall, Texture::Plain);
                self.quad(&shading, face(Vec3::new(x, h / 2.0, z1), Vec3::X * INNER_WALL, Vec3::Z, h), wall, Texture::Plain);
            }
        }
        // Door panels: an open one has slid into its wall, out of sight.
        for wall in &room.inner_walls {
            if wall.gate != Gate::Open
                && let Some(p) = door_panel(wall, h)
            {
                self.part(&shading, &p);
            }
        }
        for o in &s.layout.objects {
            object_parts(o, |p| self.part(&shading, &p));
        }
    }

    fn part(&mut self, shading: &Shading, p: &Part) {
        let centre = Vec3::from(p.centre);
        if p.drawn() && shading.sees(centre, p.bound()) {
            let model = Mat4::from_scale_rotation_translation(Vec3::from(p.scale), Quat::from_rotation_y(p.yaw), centre);
            self.push(MeshKind::Object(p.mesh), model, shading, linear(p.srgb), pattern(Texture::Plain, (1.0, 1.0)));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::task::scenario::Scenario;

    fn state(name: &str, seed: u64) -> SimState {
        SimState::new(Arc::new(Scenario::load(name).expect("builtin")), seed).expect("generate")
    }

    /// Every visible object is drawn, and culling only drops objects the camera cannot see.
    #[test]
    fn visible_objects_are_never_culled() {
        for seed in 0..40 {
            let s = state("go_to_object", seed);
            let mut inst = Instances::default();
            inst.push_env(&s, 64, 64);
            assert_eq!(inst.ranges, vec![0..inst.len() as u32]);
            assert_eq!(inst.data.len(), inst.meshes.len() * INSTANCE_FLOATS);
            assert_eq!(&inst.meshes[..6], &[MeshKind::Quad; 6]);
            for (i, o) in s.layout.objects.iter().enumerate() {
                if s.is_visible(i) {
                    assert!(inst.meshes.contains(&MeshKind::Object(o.shape)), "seed {seed}: visible object {i} culled");
                }
            }
        }
    }

    /// An object straight ahead lands in the middle of clip space.
    #[test]
    fn the_clip_transform_looks_where_the_agent_looks() {
        let s = state("go_to_object", 3);
        let shading = Shading::new(&s, 64, 64);
        let (fx, fz) = s.agent.forward();
        let [x, y, z] = s.eye();
        let ahead = shading.clip * Vec4::new(x + 2.0 * fx, y, z + 2.0 * fz, 1.0);
        let pitch = s.scenario.agent.pitch_deg.to_radians();
        assert!((ahead.x / ahead.w).abs() < 1e-4);
        // The camera pitches down, so a point at eye height sits above the centre.
        assert!((ahead.y / ahead.w > 0.0) == (pitch > 0.0) || pitch == 0.0);
        let behind = shading.clip * Vec4::new(x - 2.0 * fx, y, z - 2.0 * fz, 1.0);
        assert!(behind.w < 0.0);
    }
}
