//! The expert's planner: 8-connected A* over a grid of the free floor, with the agent's body
//! inflated by a small margin. Generation uses it to reject worlds with an unreachable role.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::expert::hazard::{clearances, keeps_clear};
use crate::task::scenario::Scenario;
use crate::world::body::REACH;
use crate::world::geometry::dist;
use crate::world::layout::{Gate, Layout, PlacedObject};
use crate::world::object::Shape;

/// Planning grid resolution, metres.
const CELL: f32 = 0.1;
/// Extra clearance the planner keeps from walls and objects, metres.
const MARGIN: f32 = 0.03;

/// The floor as cells, each free or blocked for a body of one radius.
struct Grid {
    nx: usize,
    nz: usize,
    x0: f32,
    z0: f32,
    free: Vec<bool>,
}

impl Grid {
    fn new(layout: &Layout, body: f32, ignore: Option<usize>, avoid: &[(usize, f32)]) -> Self {
        let nx = (layout.room.width / CELL).floor() as usize;
        let nz = (layout.room.depth / CELL).floor() as usize;
        let x0 = -(nx as f32) * CELL / 2.0;
        let z0 = -(nz as f32) * CELL / 2.0;
        let mut free = vec![false; nx * nz];
        for iz in 0..nz {
            for ix in 0..nx {
                let c = (x0 + (ix as f32 + 0.5) * CELL, z0 + (iz as f32 + 0.5) * CELL);
                free[iz * nx + ix] = layout.circle_is_free(c, body, ignore) && keeps_clear(layout, c, body, avoid);
            }
        }
        Self { nx, nz, x0, z0, free }
    }

    fn center(&self, i: usize) -> (f32, f32) {
        (self.x0 + ((i % self.nx) as f32 + 0.5) * CELL, self.z0 + ((i / self.nx) as f32 + 0.5) * CELL)
    }

    fn cell_of(&self, p: (f32, f32)) -> Option<usize> {
        let ix = ((p.0 - self.x0) / CELL).floor();
        let iz = ((p.1 - self.z0) / CELL).floor();
        if ix < 0.0 || iz < 0.0 || ix as usize >= self.nx || iz as usize >= self.nz {
            return None;
        }
        Some(iz as usize * self.nx + ix as usize)
    }

    /// The free cell nearest to `p`, searching a small neighbourhood (discretisation can mark the agent's own cell blocked).
    fn nearest_free(&self, p: (f32, f32)) -> Option<usize> {
        let mut best: Option<(usize, f32)> = None;
        let ix = ((p.0 - self.x0) / CELL).floor() as i64;
        let iz = ((p.1 - self.z0) / CELL).floor() as i64;
        for dz in -4..=4 {
            for dx in -4..=4 {
                let (x, z) = (ix + dx, iz + dz);
                if x < 0 || z < 0 || x as usize >= self.nx || z as usize >= self.nz {
                    continue;
                }
                let i = z as usize * self.nx + x as usize;
                if self.free[i] {
                    let d = dist(self.center(i), p);
                    if best.is_none_or(|b| d < b.1) {
                        best = Some((i, d));
                    }
                }
            }
        }
        best.map(|b| b.0)
    }
}

#[derive(PartialEq)]
struct Open {
    f: f32,
    cell: usize,
}
impl Eq for Open {}
impl Ord for Open {
    fn cmp(&self, other: &Self) -> Ordering {
        other.f.total_cmp(&self.f).then_with(|| other.cell.cmp(&self.cell))
    }
}
impl PartialOrd for Open {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A* from `start` to any cell where `goal(cell centre)` holds. Returns cell centres, start first.
fn astar(grid: &Grid, start: (f32, f32), goal: impl Fn((f32, f32)) -> bool, h: impl Fn((f32, f32)) -> f32) -> Option<Vec<(f32, f32)>> {
    let s = match grid.cell_of(start) {
        Some(c) if grid.free[c] => c,
        _ => grid.nearest_free(start)?,
    };
    let n = grid.free.len();
    let mut g = vec![f32::INFINITY; n];
    let mut parent = vec![usize::MAX; n];
    let mut heap = BinaryHeap::new();
    g[s] = 0.0;
    heap.push(Open { f: h(grid.center(s)), cell: s });
    while let Some(Open { cell, .. }) = heap.pop() {
        let c = grid.center(cell);
        if goal(c) {
            let mut path = vec![c];
            let mut k = cell;
            while parent[k] != usize::MAX {
                k = parent[k];
                path.push(grid.center(k));
            }
            path.reverse();
            return Some(path);
        }
        let (cx, cz) = ((cell % grid.nx) as i64, (cell / grid.nx) as i64);
        for (dx, dz) in [(1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1)] {
            let (x, z) = (cx + dx, cz + dz);
            if x < 0 || z < 0 || x as usize >= grid.nx || z as usize >= grid.nz {
                continue;
            }
            let nb = z as usize * grid.nx + x as usize;
            if !grid.free[nb] {
                continue;
            }
            // No corner cutting past a blocked cell.
            if dx != 0 && dz != 0 {
                let a = cz as usize * grid.nx + x as usize;
                let b = z as usize * grid.nx + cx as usize;
                if !grid.free[a] || !grid.free[b] {
                    continue;
                }
            }
            let step = if dx != 0 && dz != 0 { CELL * std::f32::consts::SQRT_2 } else { CELL };
            let ng = g[cell] + step;
            if ng < g[nb] {
                g[nb] = ng;
                parent[nb] = cell;
                heap.push(Open { f: ng + h(grid.center(nb)), cell: nb });
            }
        }
    }
    None
}

/// A path for the agent's centre from `start` to within `reach` of `goal` (centre to centre),
/// for a body of radius `body`, ignoring object `ignore` (the one being carried) and keeping the
/// `avoid` clearances (object, extra distance) of [`crate::expert::hazard`].
pub(crate) fn plan_to(layout: &Layout, body: f32, start: (f32, f32), goal: (f32, f32), reach: f32, ignore: Option<usize>, avoid: &[(usize, f32)]) -> Option<Vec<(f32, f32)>> {
    let grid = Grid::new(layout, body + MARGIN, ignore, avoid);
    astar(&grid, start, |c| dist(c, goal) <= reach, |c| (dist(c, goal) - reach).max(0.0))
}

/// How close the planner brings the agent's centre to an object it walks up to.
pub(crate) fn approach(body: f32, object: &PlacedObject) -> f32 {
    body + object.extent.radius + REACH * 0.5
}

/// `layout` with every door opened that an agent at `start` could open: closed doors, locked
/// doors whose key, and barred doors whose switch, it can walk up to through the doors opened so
/// far (keys in closed boxes count once their box can be reached). `held` is a key the agent
/// carries.
pub(crate) fn opened(layout: &Layout, body: f32, start: (f32, f32), held: Option<usize>, avoid: &[(usize, f32)]) -> Layout {
    let mut open = layout.clone();
    for w in &mut open.room.inner_walls {
        if w.gate == Gate::Closed {
            w.gate = Gate::Open;
        }
    }
    loop {
        let mut changed = false;
        for k in 0..open.room.inner_walls.len() {
            let reachable = |i: usize| {
                let at = open.objects[i].inside.unwrap_or(i);
                held == Some(i) || plan_to(&open, body, start, open.objects[at].pos, approach(body, &open.objects[at]), held, avoid).is_some()
            };
            let opens = match open.room.inner_walls[k].gate {
                Gate::Locked(color) => open.objects.iter().enumerate().any(|(i, o)| o.shape == Shape::Key && o.color == color && !o.used && reachable(i)),
                Gate::Barred => open.switches.iter().any(|(i, w)| *w == k && reachable(*i)),
                _ => false,
            };
            if opens {
                open.room.inner_walls[k].gate = Gate::Open;
                changed = true;
            }
        }
        if !changed {
            return open;
        }
    }
}

/// The first role whose object the agent cannot walk up to from its spawn point, opening the
/// doors it can (for an object shut in a box, the box), if any, keeping clear of what the failure
/// condition names (except the role itself, when that is what is checked).
pub fn unreachable_role(layout: &Layout, scenario: &Scenario) -> Option<String> {
    let r = scenario.agent.radius;
    let start = (layout.spawn.x, layout.spawn.z);
    let avoid = clearances(scenario.task.failure.as_ref(), layout);
    let open = opened(layout, r, start, None, &avoid);
    layout.roles.iter().find_map(|(name, i)| {
        let at = layout.objects[*i].inside.unwrap_or(*i);
        let o = &layout.objects[at];
        let others: Vec<(usize, f32)> = avoid.iter().copied().filter(|(j, _)| *j != *i && *j != at).collect();
        plan_to(&open, r, start, o.pos, approach(r, o), None, &others).is_none().then(|| name.clone())
    })
}
