//! The choice of renderer: every env of a batch in one pass, or Bevy's PBR path with one camera each.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which renderer draws a batch's frames. Both are deterministic and keep batch independence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Renderer {
    /// One render pass over an atlas of every env's tile: Lambert plus ambient, low-poly meshes.
    #[default]
    Batch,
    /// Bevy's physically based path: one camera, target and set of passes per env.
    Pbr,
}

impl Renderer {
    /// Every renderer.
    pub const ALL: [Renderer; 2] = [Renderer::Batch, Renderer::Pbr];

    /// The name used in configs and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Renderer::Batch => "batch",
            Renderer::Pbr => "pbr",
        }
    }
}

impl fmt::Display for Renderer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Renderer {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Renderer::ALL.into_iter().find(|r| r.name() == s).ok_or_else(|| format!("unknown renderer `{s}`: expected batch or pbr"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for r in Renderer::ALL {
            assert_eq!(r.name().parse::<Renderer>(), Ok(r));
        }
        assert!("vulkan".parse::<Renderer>().is_err());
        assert_eq!(Renderer::default(), Renderer::Batch);
    }
}
