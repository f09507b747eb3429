//! World generation: turning a scenario and a seed into a concrete room, objects, light and spawn.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{EnvError, Result};
use crate::expert::hazard::{clearances, keeps_clear};
use crate::expert::planner::unreachable_role;
use crate::task::mission::render;
use crate::task::scenario::{DistractorRule, DoorState, RoleKind, Scenario};
use crate::world::body::Spawn;
use crate::world::geometry::{Pose, dist, heading};
use crate::world::layout::{Gate, InnerWall, Layout, Lighting, PlacedObject, Room};
use crate::world::object::{ObjectColor, Shape, Size, extent};
use crate::world::visibility::visible;

/// How many times generation retries a seed (deterministically) before giving up.
pub const MAX_ATTEMPTS: u32 = 64;

/// Generate the world for `seed`. The same scenario and seed always give the same layout.
pub fn generate(scenario: &Scenario, seed: u64) -> Result<Layout> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut reason = String::new();
    for _ in 0..MAX_ATTEMPTS {
        match try_generate(scenario, &mut rng) {
            Ok(layout) => return Ok(layout),
            Err(why) => reason = why,
        }
    }
    Err(EnvError::Generation { scenario: scenario.name.clone(), seed, attempts: MAX_ATTEMPTS, reason })
}

fn try_generate(sc: &Scenario, rng: &mut ChaCha8Rng) -> std::result::Result<Layout, String> {
    let rnd = sc.randomize;
    let rooms = sc.room.rooms.sample(rng, rnd).max(1) as usize;
    let widths: Vec<f32> = (0..rooms).map(|_| sc.room.width.sample(rng, rnd)).collect();
    let depth = sc.room.depth.sample(rng, rnd);
    let total: f32 = widths.iter().sum();
    let door = sc.room.door_width;
    let mut inner_walls = Vec::with_capacity(rooms - 1);
    let mut x = -total / 2.0;
    for w in &widths[..rooms - 1] {
        x += w;
        let centre = uniform(rng, depth / 2.0 - door / 2.0 - 0.3)?;
        inner_walls.push(InnerWall { x, door: (centre - door / 2.0, centre + door / 2.0), gate: Gate::None });
    }
    // Quantised so the renderer's material cache stays small.
    let k = (sc.room.brightness.sample(rng, rnd) * 20.0).round() / 20.0;
    let shade = |c: [f32; 3]| c.map(|v| (v * k).clamp(0.0, 1.0));
    let room = Room {
        width: total,
        depth,
        height: sc.room.height,
        wall_color: shade(sc.room.wall_color),
        floor_color: shade(sc.room.floor_color),
        ceiling_color: shade(sc.room.ceiling_color),
        inner_walls,
        floor_texture: sc.room.floor_texture,
        wall_texture: sc.room.wall_texture,
    };
    let l = &sc.lighting;
    let lighting = Lighting {
        illuminance: l.illuminance.sample(rng, rnd),
        ambient: l.ambient.sample(rng, rnd),
        elevation: l.elevation_deg.sample(rng, rnd).to_radians(),
        azimuth: l.azimuth_deg.sample(rng, rnd).to_radians(),
    };
    let count = sc.objects.count.sample(rng, rnd) as usize;
    let spec = &sc.objects;
    if count == 0 || spec.shapes.is_empty() || spec.colors.is_empty() || spec.sizes.is_empty() {
        return Err("the scenario allows no objects (run `sandtable scenario check` on it)".into());
    }
    let pick = |rng: &mut ChaCha8Rng| {
        (
            spec.shapes[rng.random_range(0..spec.shapes.len())],
            spec.colors[rng.random_range(0..spec.colors.len())],
            spec.sizes[rng.random_range(0..spec.sizes.len())],
        )
    };
    if count < spec.roles.len() {
        return Err(format!("{count} objects cannot fill {} roles", spec.roles.len()));
    }
    // Roles take random slots so a role's index says nothing about it.
    let mut slots: Vec<usize> = (0..count).collect();
    for i in (1..count).rev() {
        slots.swap(i, rng.random_range(0..=i));
    }
    let mut kinds: Vec<Option<Kind>> = vec![None; count];
    let mut roles = Vec::with_capacity(spec.roles.len());
    let mut sole_shapes: Vec<Shape> = Vec::new();
    let mut sole_colors: Vec<ObjectColor> = Vec::new();
    for (k, role) in spec.roles.iter().enumerate() {
        let taken: Vec<Kind> = kinds.iter().flatten().copied().collect();
        // Keys and boxes draw only a colour from the same draws, so plain roles draw as before.
        let role_pick = |rng: &mut ChaCha8Rng| {
            let (s, c, z) = pick(rng);
            match role.kind {
                RoleKind::Object => (s, c, z),
                RoleKind::Key => (Shape::Key, c, Size::Small),
                RoleKind::Box { .. } => (Shape::Box, c, Size::Large),
                RoleKind::Switch { .. } => (Shape::Switch, c, Size::Small),
            }
        };
        let kind = draw(rng, &role_pick, |(s, c, _)| {
            let clash = (role.unique && taken.iter().any(|t| t.0 == *s && t.1 == *c))
                || (role.sole_shape && taken.iter().any(|t| t.0 == *s))
                || (role.sole_color && taken.iter().any(|t| t.1 == *c))
                || sole_shapes.contains(s)
                || sole_colors.contains(c);
            !clash
        })
        .ok_or_else(|| format!("no colour-and-shape pair is left for role `{}`", role.name))?;
        if role.sole_shape {
            sole_shapes.push(kind.0);
        }
        if role.sole_color {
            sole_colors.push(kind.1);
        }
        kinds[slots[k]] = Some(kind);
        roles.push((role.name.clone(), slots[k]));
    }
    let unique: Vec<(Shape, ObjectColor)> = spec
        .roles
        .iter()
        .zip(&roles)
        .filter(|(r, _)| r.unique)
        .filter_map(|(_, (_, i))| kinds[*i].map(|(s, c, _)| (s, c)))
        .collect();
    let role_kind = |name: &str| roles.iter().find(|(n, _)| n == name).and_then(|(_, i)| kinds[*i]);
    let share = match &spec.distractors {
        DistractorRule::Any => None,
        DistractorRule::ShareColor(r) => role_kind(r).map(|k| (Some(k.1), None)),
        DistractorRule::ShareShape(r) => role_kind(r).map(|k| (None, Some(k.0))),
    };
    for slot in slots.iter().skip(spec.roles.len()) {
        // Distractors never repeat a unique role's colour and shape, so missions stay unambiguous.
        let kind = draw(
            rng,
            &|rng: &mut ChaCha8Rng| {
                let (s, c, z) = pick(rng);
                match share {
                    Some((Some(color), _)) => (s, color, z),
                    Some((_, Some(shape))) => (shape, c, z),
                    _ => (s, c, z),
                }
            },
            |(s, c, _)| !unique.contains(&(*s, *c)) && !sole_shapes.contains(s) && !sole_colors.contains(c),
        )
        .ok_or("no distractor differs from the unique roles")?;
        kinds[*slot] = Some(kind);
    }
    let mut kinds: Vec<Kind> = kinds.into_iter().flatten().collect();
    // Moving balls come after the task's objects; their colours avoid the unique roles' pairs.
    let moving = sc.objects.moving.as_ref().map_or(0, |m| m.count.sample(rng, rnd) as usize);
    for _ in 0..moving {
        let kind = draw(rng, &|rng: &mut ChaCha8Rng| (Shape::Sphere, spec.colors[rng.random_range(0..spec.colors.len())], Size::Small), |(s, c, _)| {
            !unique.contains(&(*s, *c)) && !sole_shapes.contains(s) && !sole_colors.contains(c)
        })
        .ok_or("no colour is left for the moving balls")?;
        kinds.push(kind);
    }

    let agent_r = sc.agent.radius;
    let mut objects: Vec<PlacedObject> = Vec::with_capacity(count);
    for (shape, color, size) in kinds {
        let ext = extent(shape, size);
        let margin = ext.radius + 0.1;
        let mut placed = false;
        for _ in 0..200 {
            let x = uniform(rng, room.width / 2.0 - margin)?;
            let z = uniform(rng, room.depth / 2.0 - margin)?;
            // Leave a corridor wide enough for the agent between any two objects, and keep clear
            // of interior walls by the same margin so doorways stay passable.
            let clear = room.contains_circle(x, z, ext.radius + 2.0 * agent_r + 0.1)
                && objects.iter().all(|o| dist((x, z), o.pos) >= o.extent.radius + ext.radius + 2.0 * agent_r + 0.1);
            if clear {
                let yaw = rng.random_range(0.0..std::f32::consts::TAU);
                let velocity = match &sc.objects.moving {
                    Some(m) if objects.len() >= count => {
                        let speed = m.speed.sample(rng, rnd);
                        let heading = rng.random_range(0.0..std::f32::consts::TAU);
                        (speed * heading.cos(), speed * heading.sin())
                    }
                    _ => (0.0, 0.0),
                };
                objects.push(PlacedObject { shape, color, size, extent: ext, pos: (x, z), lift: 0.0, yaw, velocity, open: false, inside: None, used: false });
                placed = true;
                break;
            }
        }
        if !placed {
            return Err(format!("no free spot for a {} {} after 200 tries", color.name(), shape.name()));
        }
    }

    // What a box holds waits inside it, at its place; a locked door takes its key's colour.
    let index = |name: &str| roles.iter().find(|(n, _)| n == name).map(|(_, i)| *i);
    for r in &spec.roles {
        if let RoleKind::Box { holds: Some(h) } = &r.kind
            && let (Some(b), Some(j)) = (index(&r.name), index(h))
        {
            objects[j].pos = objects[b].pos;
            objects[j].inside = Some(b);
        }
    }
    let mut room = room;
    let mut doors = Vec::with_capacity(sc.room.doors.len());
    for (wall, d) in room.inner_walls.iter_mut().zip(&sc.room.doors) {
        wall.gate = match &d.state {
            DoorState::Open => Gate::Open,
            DoorState::Closed => Gate::Closed,
            DoorState::Locked(key) => Gate::Locked(index(key).map(|k| objects[k].color).ok_or_else(|| format!("no key role `{key}`"))?),
            DoorState::Barred => Gate::Barred,
        };
        doors.push(d.name.clone());
    }
    let switches = spec
        .roles
        .iter()
        .filter_map(|r| match &r.kind {
            RoleKind::Switch { opens: Some(opens), .. } => Some((index(&r.name)?, doors.iter().position(|d| d == opens)?)),
            _ => None,
        })
        .collect();
    let light_switches = spec.roles.iter().filter(|r| matches!(r.kind, RoleKind::Switch { light: true, .. })).filter_map(|r| index(&r.name)).collect();

    let spawn = match sc.agent.spawn {
        Spawn::Random => random_spawn(rng, &room, &objects, roles[0].1, agent_r)?,
        Spawn::Overview => overview_spawn(rng, &room, &objects, sc)?,
    };
    let doors = doors.into_iter().enumerate().map(|(i, n)| (n, i)).collect();
    let mut layout = Layout { room, lighting, objects, roles, spawn, mission: String::new(), doors, switches, light_switches, lit: !sc.lighting.dark };
    layout.mission = render(&sc.task.mission, &layout);
    // Start clear of what the failure condition names, so no episode fails at step zero.
    let avoid = clearances(sc.task.failure.as_ref(), &layout);
    if !keeps_clear(&layout, (spawn.x, spawn.z), agent_r, &avoid) {
        return Err("the spawn point is within a failure condition's radius of its object".into());
    }
    if let Some(role) = unreachable_role(&layout, sc) {
        return Err(format!("role `{role}` cannot be reached from the spawn point"));
    }
    Ok(layout)
}

type Kind = (Shape, ObjectColor, Size);

/// A uniformly drawn spot for the agent's centre, and whether the body fits there with a margin.
fn spawn_spot(rng: &mut ChaCha8Rng, room: &Room, objects: &[PlacedObject], agent_r: f32) -> std::result::Result<((f32, f32), bool), String> {
    let m = agent_r + 0.1;
    let x = uniform(rng, room.width / 2.0 - m)?;
    let z = uniform(rng, room.depth / 2.0 - m)?;
    let clear = room.contains_circle(x, z, m) && objects.iter().all(|o| dist((x, z), o.pos) >= o.extent.radius + agent_r + 0.2);
    Ok(((x, z), clear))
}

/// A free spot at least 1.5 m from the main target, facing a random direction.
fn random_spawn(rng: &mut ChaCha8Rng, room: &Room, objects: &[PlacedObject], target: usize, agent_r: f32) -> std::result::Result<Pose, String> {
    for _ in 0..200 {
        let ((x, z), clear) = spawn_spot(rng, room, objects, agent_r)?;
        let yaw = rng.random_range(-std::f32::consts::PI..std::f32::consts::PI);
        // Start away from the main target so no episode is solved at step zero; with several
        // rooms, start in another room than the target's, so it begins behind a doorway.
        let t = &objects[target];
        let far = dist((x, z), t.pos) - t.extent.radius - agent_r > 1.5;
        let elsewhere = room.inner_walls.is_empty() || room.room_of(x) != room.room_of(t.pos.0);
        if clear && far && elsewhere {
            return Ok(Pose { x, z, yaw });
        }
    }
    Err("no free spawn point away from the target".into())
}

/// A free spot from which every object is visible, facing the objects' centroid.
fn overview_spawn(rng: &mut ChaCha8Rng, room: &Room, objects: &[PlacedObject], sc: &Scenario) -> std::result::Result<Pose, String> {
    let n = objects.len() as f32;
    let centroid = (objects.iter().map(|o| o.pos.0).sum::<f32>() / n, objects.iter().map(|o| o.pos.1).sum::<f32>() / n);
    for _ in 0..300 {
        let ((x, z), clear) = spawn_spot(rng, room, objects, sc.agent.radius)?;
        if !clear {
            continue;
        }
        let pose = Pose { x, z, yaw: heading((x, z), centroid) };
        if (0..objects.len()).all(|i| visible(room, objects, &sc.agent, &pose, i)) {
            return Ok(pose);
        }
    }
    Err("no spawn point sees every object".into())
}

/// Draw until `ok` accepts, at most 1000 times.
fn draw(rng: &mut ChaCha8Rng, pick: &impl Fn(&mut ChaCha8Rng) -> Kind, ok: impl Fn(&Kind) -> bool) -> Option<Kind> {
    (0..1000).map(|_| pick(rng)).find(|k| ok(k))
}

/// A uniform draw from `-half..=half`, or an error when the room is too small for the margin.
fn uniform(rng: &mut ChaCha8Rng, half: f32) -> std::result::Result<f32, String> {
    if half.is_nan() || half < 0.0 {
        return Err("the room is too small for the objects and the agent".into());
    }
    Ok(rng.random_range(-half..=half))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_layout_and_seeds_differ() {
        let sc = Scenario::load("go_to_object").expect("builtin");
        let a = generate(&sc, 3).expect("gen");
        let b = generate(&sc, 3).expect("gen");
        let c = generate(&sc, 4).expect("gen");
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn target_is_unique_and_objects_do_not_overlap() {
        let sc = Scenario::load("go_to_object").expect("builtin");
        for seed in 0..200 {
            let l = generate(&sc, seed).expect("gen");
            assert!((3..=8).contains(&l.objects.len()));
            let t = &l.objects[l.target()];
            let same = l.objects.iter().filter(|o| o.shape == t.shape && o.color == t.color).count();
            assert_eq!(same, 1, "seed {seed}");
            assert!(l.mission.contains(t.color.name()) && l.mission.contains(t.shape.name()));
            for (i, a) in l.objects.iter().enumerate() {
                assert!(l.room.contains_circle(a.pos.0, a.pos.1, a.extent.radius));
                for b in &l.objects[i + 1..] {
                    assert!(dist(a.pos, b.pos) > a.extent.radius + b.extent.radius);
                }
            }
        }
    }

    #[test]
    fn multi_room_targets_start_in_another_room_and_mostly_out_of_view() {
        let sc = std::sync::Arc::new(Scenario::load("multi_room_go_to").expect("builtin"));
        let mut hidden = 0;
        for seed in 0..50 {
            let s = crate::sim::SimState::new(sc.clone(), seed).expect("gen");
            let room = &s.layout.room;
            assert!((1..=2).contains(&room.inner_walls.len()));
            let t = s.layout.target();
            assert_ne!(room.room_of(s.agent.x), room.room_of(s.layout.objects[t].pos.0), "seed {seed}");
            hidden += usize::from(!s.is_visible(t));
        }
        assert!(hidden >= 25, "the target was hidden at the start of only {hidden}/50 episodes");
    }

    #[test]
    fn no_randomisation_uses_defaults() {
        let mut sc = Scenario::load("go_to_object").expect("builtin");
        sc.randomize = false;
        let l = generate(&sc, 11).expect("gen");
        assert_eq!(l.room.width, sc.room.width.default);
        assert_eq!(l.objects.len() as u32, sc.objects.count.default);
    }
}
