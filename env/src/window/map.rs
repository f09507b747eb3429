//! The play window's top-down map, drawn on the CPU from the simulation: the floor, interior
//! walls with their doorways and doors, each object as a disc of its colour (a shut box with a
//! dark rim; what a box hides is not shown), and the agent with its heading.

use crate::sim::SimState;
use crate::world::appearance::door_panel;
use crate::world::layout::{Gate, INNER_WALL, InnerWall};
use crate::world::object::Shape;

/// An RGBA image of `side × side` pixels showing `s` from above, north (−z) up.
pub fn draw_map(s: &SimState, side: u32) -> Vec<u8> {
    let mut img = vec![0u8; (side * side * 4) as usize];
    let room = &s.layout.room;
    let margin = 6.0;
    let scale = (side as f32 - 2.0 * margin) / room.width.max(room.depth);
    let (ox, oz) = (side as f32 / 2.0, side as f32 / 2.0);
    // Pixel centre → world point.
    let world = |px: u32, py: u32| ((px as f32 + 0.5 - ox) / scale, (py as f32 + 0.5 - oz) / scale);
    let to_srgb8 = |c: [f32; 3]| c.map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8);
    let floor = to_srgb8(room.floor_color);
    let wall = to_srgb8(room.wall_color).map(|v| v / 2);
    for py in 0..side {
        for px in 0..side {
            let (x, z) = world(px, py);
            let inside = x.abs() <= room.width / 2.0 && z.abs() <= room.depth / 2.0;
            let near_wall = |w: &&InnerWall| (x - w.x).abs() <= (INNER_WALL / 2.0).max(1.0 / scale);
            let in_wall = room.inner_walls.iter().filter(near_wall).any(|w| z < w.door.0 || z > w.door.1);
            // A shut door across its doorway, in its colour; an open one is not drawn.
            let door = room.inner_walls.iter().filter(near_wall).find_map(|w| match w.gate {
                Gate::Closed | Gate::Locked(_) if z >= w.door.0 && z <= w.door.1 => door_panel(w, room.height).map(|p| to_srgb8(p.srgb)),
                _ => None,
            });
            let rgb = if !inside {
                [24, 24, 24]
            } else if in_wall {
                wall
            } else {
                door.unwrap_or(floor)
            };
            let mut rgb = rgb;
            for o in s.layout.objects.iter().filter(|o| o.solid()) {
                let d = ((x - o.pos.0).powi(2) + (z - o.pos.1).powi(2)).sqrt();
                if d <= o.extent.radius {
                    // A shut box shows a darker rim, so it reads as a box from above.
                    let rim = o.shape == Shape::Box && !o.open && d > 0.7 * o.extent.radius;
                    rgb = to_srgb8(o.color.srgb().map(|v| if rim { v * 0.6 } else { v }));
                }
            }
            let (ax, az) = (s.agent.x, s.agent.z);
            let d = ((x - ax).powi(2) + (z - az).powi(2)).sqrt();
            let r = s.scenario.agent.radius;
            if d <= r {
                rgb = [255, 255, 255];
            }
            // The heading: a short dark segment from inside the agent's disc forward.
            let (fx, fz) = s.agent.forward();
            let along = (x - ax) * fx + (z - az) * fz;
            let across = ((x - ax) * fz - (z - az) * fx).abs();
            if along >= 0.5 * r && along <= 2.0 * r && across <= 1.0 / scale {
                rgb = [20, 20, 20];
            }
            let at = ((py * side + px) * 4) as usize;
            img[at..at + 4].copy_from_slice(&[rgb[0], rgb[1], rgb[2], 255]);
        }
    }
    img
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::task::scenario::Scenario;

    #[test]
    fn the_map_shows_the_agent_and_every_object_where_they_are() {
        let s = SimState::new(Arc::new(Scenario::load("go_to_object").expect("builtin")), 4).expect("generate");
        let side = 160;
        let img = draw_map(&s, side);
        let room = &s.layout.room;
        let scale = (side as f32 - 12.0) / room.width.max(room.depth);
        let pixel = |x: f32, z: f32| {
            let (px, py) = ((x * scale + side as f32 / 2.0) as u32, (z * scale + side as f32 / 2.0) as u32);
            let at = ((py * side + px) * 4) as usize;
            [img[at], img[at + 1], img[at + 2]]
        };
        assert_eq!(pixel(s.agent.x, s.agent.z), [255, 255, 255]);
        for o in &s.layout.objects {
            let c = o.color.srgb().map(|v| (v * 255.0).round() as u8);
            assert_eq!(pixel(o.pos.0, o.pos.1), c, "the {} {} is not drawn at its place", o.color.name(), o.shape.name());
        }
    }
}
