//! `PbrRenderPlugin`: Bevy's standard path, for fidelity. One camera and render target per env, the
//! scene built from each env's simulation as entities with PBR materials, and same-frame readback.
//! Envs share one World; `RenderLayers` keep them apart.

use std::collections::HashMap;

use bevy::asset::RenderAssetUsages;
use bevy::camera::visibility::RenderLayers;
use bevy::camera::{ImageRenderTarget, RenderTarget};
use bevy::core_pipeline::tonemapping::Tonemapping;
use bevy::prelude::*;
use bevy::render::render_resource::{TextureFormat, TextureUsages};
use bevy::render::view::Msaa;
use bevy::render::{Render, RenderApp, RenderSystems};

use crate::plugin::{EnvSlots, EnvSystems};
use crate::render::readback::{ReadbackTargets, read_back_frames};
use crate::sim::SimState;
use crate::world::appearance::{Part, door_panel, object_parts};
use crate::world::layout::{INNER_WALL, Layout, Texture};
use crate::world::object::{Shape, Size, extent};

/// Renders every env's first-person view into its own image and reads it back each update.
pub struct PbrRenderPlugin {
    /// Number of envs (one camera each).
    pub num_envs: usize,
    /// Frame width, pixels.
    pub width: u32,
    /// Frame height, pixels.
    pub height: u32,
}

/// The render target of each env's camera.
#[derive(Resource, Clone, Debug)]
pub struct ViewTargets(pub Vec<Handle<Image>>);

/// Marks an entity as part of env `.0`'s scene (despawned on reset).
#[derive(Component, Clone, Copy, Debug)]
pub struct EnvMember(pub usize);

/// Marks env `.0`'s first-person camera.
#[derive(Component, Clone, Copy, Debug)]
pub struct EnvCamera(pub usize);

/// Marks the rendered copy of one part of object `index` of env `env` (or of a door).
#[derive(Component, Clone, Copy, Debug)]
pub struct SceneObject {
    /// Env number.
    pub env: usize,
    /// Object index in the layout, or a door's: [`DOOR`] plus its interior wall's.
    pub index: usize,
    /// Which of the object's parts (`world::appearance`).
    pub part: usize,
}

/// Shared meshes and materials, made once so resets create no new GPU assets.
#[derive(Resource)]
pub struct Palette {
    shapes: HashMap<Shape, Handle<Mesh>>,
    /// Object materials by colour bits: every object colour, lids and doors.
    tints: HashMap<[u32; 3], Handle<StandardMaterial>>,
    unit_cube: Handle<Mesh>,
    checker: Handle<Image>,
    stripes: Handle<Image>,
    surfaces: HashMap<SurfaceKey, Handle<StandardMaterial>>,
}

/// Colour bits, pattern, and quantised repeats: one material per distinct key.
type SurfaceKey = ([u32; 3], u8, [i32; 2]);

/// A tiny pattern image sampled with repetition and no filtering: `w × h` texels of white and grey.
fn pattern(w: u32, h: u32, light: impl Fn(u32, u32) -> bool) -> Image {
    use bevy::image::{ImageAddressMode, ImageFilterMode, ImageSampler, ImageSamplerDescriptor};
    use bevy::render::render_resource::{Extent3d, TextureDimension};
    let mut data = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..h {
        for x in 0..w {
            let v = if light(x, y) { 255 } else { 190 };
            data.extend_from_slice(&[v, v, v, 255]);
        }
    }
    let mut image = Image::new(
        Extent3d { width: w, height: h, depth_or_array_layers: 1 },
        TextureDimension::D2,
        data,
        TextureFormat::Rgba8UnormSrgb,
        RenderAssetUsages::RENDER_WORLD,
    );
    image.sampler = ImageSampler::Descriptor(ImageSamplerDescriptor {
        address_mode_u: ImageAddressMode::Repeat,
        address_mode_v: ImageAddressMode::Repeat,
        mag_filter: ImageFilterMode::Nearest,
        min_filter: ImageFilterMode::Nearest,
        ..default()
    });
    image
}

impl Plugin for PbrRenderPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Startup, (create_palette, spawn_cameras))
            .add_systems(Update, (rebuild_scenes, sync_poses, sync_lights).chain().in_set(EnvSystems::SyncScene));
    }

    fn finish(&self, app: &mut App) {
        let handles: Vec<Handle<Image>> = {
            let mut images = app.world_mut().resource_mut::<Assets<Image>>();
            (0..self.num_envs).map(|_| images.add(target_image(self.width, self.height))).collect()
        };
        let ids = handles.iter().map(|h| h.id()).collect();
        app.insert_resource(ViewTargets(handles));
        if let Some(render_app) = app.get_sub_app_mut(RenderApp) {
            render_app
                .insert_resource(ReadbackTargets { images: ids })
                .add_systems(Render, read_back_frames.after(RenderSystems::Render).before(RenderSystems::Cleanup));
        }
    }
}

fn target_image(width: u32, height: u32) -> Image {
    let mut image = Image::new_target_texture(width, height, TextureFormat::Rgba8UnormSrgb, None);
    image.texture_descriptor.usage |= TextureUsages::COPY_SRC;
    image.asset_usage = RenderAssetUsages::RENDER_WORLD;
    image
}

fn layer(env: usize) -> RenderLayers {
    // Layer 0 is Bevy's default; keep it empty so stray entities never show up in an observation.
    // `RenderLayers::layer` is bounded at construction; `with` grows to any env count.
    RenderLayers::none().with(env + 1)
}

/// Build the meshes and materials every scene draws from.
pub fn create_palette(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut images: ResMut<Assets<Image>>,
) {
    // Unit meshes have extent 1; objects scale them by their size's extent.
    let mut shapes = HashMap::new();
    for shape in Shape::ALL {
        let unit = extent(shape, Size::Small);
        let k = 1.0 / Size::Small.extent();
        let (r, h) = (unit.radius * k, unit.height * k);
        let mesh: Mesh = match shape {
            Shape::Cube => Cuboid::new(h, h, h).into(),
            Shape::Sphere => Sphere::new(r).mesh().uv(24, 16),
            Shape::Cylinder => Cylinder::new(r, h).mesh().resolution(24).into(),
            Shape::Cone => Cone { radius: r, height: h }.mesh().resolution(24).into(),
            Shape::Capsule => Capsule3d::new(r, h - 2.0 * r).mesh().longitudes(24).latitudes(12).into(),
            Shape::Torus => Torus::new(r - h, r).mesh().major_resolution(32).minor_resolution(12).into(),
            // Keys, boxes and switches are drawn as parts made of the plain shapes (`world::appearance`).
            Shape::Key | Shape::Box | Shape::Switch => continue,
        };
        shapes.insert(shape, meshes.add(mesh));
    }
    let unit_cube = meshes.add(Cuboid::new(1.0, 1.0, 1.0));
    let checker = images.add(pattern(2, 2, |x, y| (x + y) % 2 == 0));
    let stripes = images.add(pattern(2, 1, |x, _| x == 0));
    commands.insert_resource(Palette { shapes, tints: HashMap::new(), unit_cube, checker, stripes, surfaces: HashMap::new() });
}

/// Spawn one inactive camera per env, rendering into its target image.
pub fn spawn_cameras(mut commands: Commands, targets: Res<ViewTargets>) {
    for (i, handle) in targets.0.iter().enumerate() {
        commands.spawn((
            EnvCamera(i),
            Camera3d::default(),
            Camera { order: i as isize, is_active: false, clear_color: ClearColorConfig::Custom(Color::BLACK), ..default() },
            RenderTarget::Image(ImageRenderTarget::from(handle.clone())),
            Projection::Perspective(PerspectiveProjection { near: 0.05, far: 100.0, ..default() }),
            Msaa::Off,
            Tonemapping::None,
            AmbientLight::default(),
            layer(i),
            Transform::default(),
        ));
    }
}

impl Palette {
    /// The object material of colour `srgb`.
    fn tint(&mut self, materials: &mut Assets<StandardMaterial>, srgb: [f32; 3]) -> Handle<StandardMaterial> {
        self.tints
            .entry(srgb.map(f32::to_bits))
            .or_insert_with(|| materials.add(StandardMaterial { base_color: Color::srgb(srgb[0], srgb[1], srgb[2]), perceptual_roughness: 0.6, ..default() }))
            .clone()
    }

    /// A surface material of `srgb` with `texture` repeated over a face `size` metres across.
    fn surface(&mut self, materials: &mut Assets<StandardMaterial>, srgb: [f32; 3], texture: Texture, size: Vec2) -> Handle<StandardMaterial> {
        let (kind, image, tile) = match texture {
            Texture::Plain => (0u8, None, 1.0),
            Texture::Checker(t) => (1, Some(self.checker.clone()), t),
            Texture::Stripes(t) => (2, Some(self.stripes.clone()), t),
        };
        // Each pattern image holds two tiles per repeat; quantise repeats to quarters.
        let repeats = if kind == 0 { Vec2::ONE } else { (size / (2.0 * tile) * 4.0).round() / 4.0 };
        let key = (srgb.map(f32::to_bits), kind, [(repeats.x * 4.0) as i32, (repeats.y * 4.0) as i32]);
        self.surfaces
            .entry(key)
            .or_insert_with(|| {
                materials.add(StandardMaterial {
                    base_color: Color::srgb(srgb[0], srgb[1], srgb[2]),
                    base_color_texture: image,
                    uv_transform: bevy::math::Affine2::from_scale(repeats.max(Vec2::splat(0.25))),
                    perceptual_roughness: 0.9,
                    ..default()
                })
            })
            .clone()
    }
}

/// Rebuild the scene of every env that started a new episode since the last update.
pub fn rebuild_scenes(
    mut commands: Commands,
    envs: Res<EnvSlots>,
    mut built: Local<Vec<u64>>,
    members: Query<(Entity, &EnvMember)>,
    mut palette: ResMut<Palette>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut cameras: Query<(&EnvCamera, &mut Camera, &mut Projection, &mut AmbientLight)>,
) {
    built.resize(envs.slots.len(), 0);
    for (i, slot) in envs.slots.iter().enumerate() {
        let Some(state) = slot.state.as_ref() else { continue };
        if built[i] == slot.episode {
            continue;
        }
        built[i] = slot.episode;
        for (e, m) in &members {
            if m.0 == i {
                commands.entity(e).despawn();
            }
        }
        spawn_scene(&mut commands, i, &state.layout, &mut palette, &mut materials);
        for (cam, mut camera, mut projection, mut ambient) in &mut cameras {
            if cam.0 == i {
                camera.is_active = true;
                if let Projection::Perspective(p) = projection.as_mut() {
                    p.fov = state.scenario.agent.fov_deg.to_radians();
                }
                ambient.brightness = state.layout.light().ambient;
            }
        }
    }
}

fn spawn_scene(commands: &mut Commands, env: usize, layout: &Layout, palette: &mut Palette, materials: &mut Assets<StandardMaterial>) {
    let room = &layout.room;
    let (w, d, h) = (room.width, room.depth, room.height);
    let t = 0.1;
    let mut surface = |color, texture, size: Vec2| palette.surface(materials, color, texture, size);
    let floor = surface(room.floor_color, room.floor_texture, Vec2::new(w + 2.0 * t, d + 2.0 * t));
    let ceiling = surface(room.ceiling_color, Texture::Plain, Vec2::ONE);
    let wall_x = surface(room.wall_color, room.wall_texture, Vec2::new(w + 2.0 * t, h));
    let wall_z = surface(room.wall_color, room.wall_texture, Vec2::new(d, h));
    let mut slabs = vec![
        (floor, Vec3::new(0.0, -t / 2.0, 0.0), Vec3::new(w + 2.0 * t, t, d + 2.0 * t)),
        (ceiling, Vec3::new(0.0, h + t / 2.0, 0.0), Vec3::new(w + 2.0 * t, t, d + 2.0 * t)),
        (wall_x.clone(), Vec3::new(0.0, h / 2.0, -d / 2.0 - t / 2.0), Vec3::new(w + 2.0 * t, h, t)),
        (wall_x, Vec3::new(0.0, h / 2.0, d / 2.0 + t / 2.0), Vec3::new(w + 2.0 * t, h, t)),
        (wall_z.clone(), Vec3::new(-w / 2.0 - t / 2.0, h / 2.0, 0.0), Vec3::new(t, h, d)),
        (wall_z, Vec3::new(w / 2.0 + t / 2.0, h / 2.0, 0.0), Vec3::new(t, h, d)),
    ];
    for inner in &room.inner_walls {
        let half = d / 2.0;
        for (z0, z1) in [(-half, inner.door.0), (inner.door.1, half)] {
            if z1 > z0 {
                let m = surface(room.wall_color, room.wall_texture, Vec2::new(z1 - z0, h));
                slabs.push((m, Vec3::new(inner.x, h / 2.0, (z0 + z1) / 2.0), Vec3::new(INNER_WALL, h, z1 - z0)));
            }
        }
    }
    for (material, at, scale) in slabs {
        commands.spawn((
            EnvMember(env),
            Mesh3d(palette.unit_cube.clone()),
            MeshMaterial3d(material),
            Transform::from_translation(at).with_scale(scale),
            layer(env),
        ));
    }
    let l = &layout.light();
    let toward = -Vec3::new(l.elevation.cos() * l.azimuth.sin(), l.elevation.sin(), l.elevation.cos() * l.azimuth.cos());
    commands.spawn((
        EnvMember(env),
        DirectionalLight { illuminance: l.illuminance, shadow_maps_enabled: false, ..default() },
        Transform::default().looking_to(toward, Vec3::Y),
        layer(env),
    ));
    let mut parts = Vec::new();
    for (index, o) in layout.objects.iter().enumerate() {
        let mut part = 0;
        object_parts(o, |p| {
            parts.push((SceneObject { env, index, part }, p));
            part += 1;
        });
    }
    for (k, wall) in room.inner_walls.iter().enumerate() {
        if let Some(p) = door_panel(wall, h) {
            parts.push((SceneObject { env, index: DOOR + k, part: 0 }, p));
        }
    }
    for (id, p) in parts {
        commands.spawn((
            EnvMember(env),
            id,
            Mesh3d(palette.shapes[&p.mesh].clone()),
            MeshMaterial3d(palette.tint(materials, p.srgb)),
            part_transform(&p),
            part_visibility(&p),
            layer(env),
        ));
    }
}

/// `SceneObject::index` of the door in interior wall 0; wall `k`'s is `DOOR + k`.
const DOOR: usize = 1 << 20;

fn part_transform(p: &Part) -> Transform {
    Transform::from_translation(Vec3::from(p.centre)).with_rotation(Quat::from_rotation_y(p.yaw)).with_scale(Vec3::from(p.scale).max(Vec3::splat(1e-6)))
}

fn part_visibility(p: &Part) -> Visibility {
    if p.drawn() { Visibility::Inherited } else { Visibility::Hidden }
}

/// Part `part` of object `index` (or the door of wall `index - DOOR`) as the simulation has it now.
fn current_part(s: &SimState, index: usize, part: usize) -> Option<Part> {
    if index >= DOOR {
        return door_panel(s.layout.room.inner_walls.get(index - DOOR)?, s.layout.room.height);
    }
    let mut found = None;
    let mut k = 0;
    object_parts(s.layout.objects.get(index)?, |p| {
        if k == part {
            found = Some(p);
        }
        k += 1;
    });
    found
}

fn camera_transform(s: &SimState) -> Transform {
    let [x, y, z] = s.eye();
    Transform::from_xyz(x, y, z)
        .with_rotation(Quat::from_rotation_y(s.agent.yaw) * Quat::from_rotation_x(-s.scenario.agent.pitch_deg.to_radians()))
}

/// Light each env's scene as its simulation says: a light switch dims or restores it.
pub fn sync_lights(
    envs: Res<EnvSlots>,
    mut suns: Query<(&EnvMember, &mut DirectionalLight)>,
    mut cameras: Query<(&EnvCamera, &mut AmbientLight)>,
) {
    let light = |env: usize| envs.slots.get(env).and_then(|s| s.state.as_ref()).map(|s| s.layout.light());
    for (member, mut sun) in &mut suns {
        if let Some(l) = light(member.0)
            && sun.illuminance != l.illuminance
        {
            sun.illuminance = l.illuminance;
        }
    }
    for (cam, mut ambient) in &mut cameras {
        if let Some(l) = light(cam.0)
            && ambient.brightness != l.ambient
        {
            ambient.brightness = l.ambient;
        }
    }
}

/// Move cameras and objects to where the simulations put them, and colour each part as its
/// state says (an unlocked door turns from its lock's colour to wood).
pub fn sync_poses(
    envs: Res<EnvSlots>,
    mut palette: ResMut<Palette>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut objects: Query<(&SceneObject, &mut Transform, &mut Visibility, &mut MeshMaterial3d<StandardMaterial>), Without<EnvCamera>>,
    mut cameras: Query<(&EnvCamera, &mut Transform), Without<SceneObject>>,
) {
    for (cam, mut t) in &mut cameras {
        if let Some(s) = envs.slots.get(cam.0).and_then(|s| s.state.as_ref()) {
            t.set_if_neq(camera_transform(s));
        }
    }
    for (o, mut t, mut v, mut m) in &mut objects {
        if let Some(s) = envs.slots.get(o.env).and_then(|s| s.state.as_ref())
            && let Some(p) = current_part(s, o.index, o.part)
        {
            t.set_if_neq(part_transform(&p));
            v.set_if_neq(part_visibility(&p));
            let tint = palette.tint(&mut materials, p.srgb);
            if m.0 != tint {
                m.0 = tint;
            }
        }
    }
}
