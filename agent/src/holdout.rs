//! Held-out colour×shape pairs: compositions kept out of fine-tuning so that evaluation can
//! measure whether the agent generalises to combinations of words it has only seen apart.

use serde::{Deserialize, Serialize};

use crate::text::split_words;

/// A colour and a shape, as missions name them ("the red cube").
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Pair {
    /// Colour word.
    pub color: String,
    /// Shape word.
    pub shape: String,
}

impl Pair {
    /// Whether `mission` names this colour immediately followed by this shape.
    pub fn named_by(&self, mission: &str) -> bool {
        let words = split_words(mission);
        words.windows(2).any(|w| w[0] == self.color && w[1] == self.shape)
    }
}

impl std::fmt::Display for Pair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.color, self.shape)
    }
}

impl std::str::FromStr for Pair {
    type Err = String;

    /// `colour:shape`, for example `red:cube`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            Some((c, sh)) if !c.is_empty() && !sh.is_empty() && !sh.contains(':') => {
                Ok(Self { color: c.trim().to_lowercase(), shape: sh.trim().to_lowercase() })
            }
            _ => Err(format!("`{s}` is not a colour:shape pair (for example red:cube)")),
        }
    }
}

/// The first of `pairs` that `mission` names.
pub fn named_pair<'a>(pairs: &'a [Pair], mission: &str) -> Option<&'a Pair> {
    pairs.iter().find(|p| p.named_by(mission))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_parse_and_match_adjacent_words() {
        let p: Pair = "Red:cube".parse().expect("valid pair");
        assert_eq!(p.to_string(), "red:cube");
        assert!(p.named_by("go to the red cube"));
        assert!(p.named_by("pick up the red cube"));
        assert!(!p.named_by("go to the red sphere"));
        assert!(!p.named_by("go to the blue cube near the red"));
        assert!("red".parse::<Pair>().is_err());
        assert!("red:cube:x".parse::<Pair>().is_err());
        let pairs = vec![p, "blue:torus".parse().expect("valid pair")];
        assert_eq!(named_pair(&pairs, "go to the blue torus").map(|p| p.shape.as_str()), Some("torus"));
        assert_eq!(named_pair(&pairs, "what color is the torus?"), None);
    }
}
