//! The one definition of the discrete action space, shared by the env, datasets and agents.

use serde::{Deserialize, Serialize};

/// A discrete action. The numeric index (`as u8`) is what datasets and models store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Action {
    /// Do nothing this step.
    Noop = 0,
    /// Walk forward by the scenario's move step.
    Forward = 1,
    /// Walk backward.
    Back = 2,
    /// Turn left (counter-clockwise seen from above).
    TurnLeft = 3,
    /// Turn right.
    TurnRight = 4,
    /// Step sideways to the left.
    StrafeLeft = 5,
    /// Step sideways to the right.
    StrafeRight = 6,
    /// Pick up the object in front of the agent, if one is in reach.
    PickUp = 7,
    /// Put the held object down in front of the agent.
    Drop = 8,
    /// Declare the task finished.
    Done = 9,
    /// Operate what is in front of the agent: open or close a door, unlock a locked one with a
    /// key of its colour that the agent carries (the key stays in the lock), open a box.
    Toggle = 10,
}

impl Action {
    /// Every action, in index order.
    pub const ALL: [Action; 11] = [
        Action::Noop,
        Action::Forward,
        Action::Back,
        Action::TurnLeft,
        Action::TurnRight,
        Action::StrafeLeft,
        Action::StrafeRight,
        Action::PickUp,
        Action::Drop,
        Action::Done,
        Action::Toggle,
    ];

    /// The number of actions.
    pub const COUNT: usize = Self::ALL.len();

    /// What a random policy draws from: every action but `done`, `toggle` last. Where a scenario
    /// has nothing to toggle, draw from all but the last ([`Action::random_choices`]): there it
    /// would be a second `noop`, and random baselines stay what they were before it existed.
    pub const RANDOM: [Action; 10] = [
        Action::Noop,
        Action::Forward,
        Action::Back,
        Action::TurnLeft,
        Action::TurnRight,
        Action::StrafeLeft,
        Action::StrafeRight,
        Action::PickUp,
        Action::Drop,
        Action::Toggle,
    ];

    /// The random policy's choices: [`Action::RANDOM`], without `toggle` unless `interactive`.
    pub fn random_choices(interactive: bool) -> &'static [Action] {
        &Self::RANDOM[..Self::RANDOM.len() - usize::from(!interactive)]
    }

    /// The stable index stored in datasets.
    pub fn index(self) -> u8 {
        self as u8
    }

    /// The action with this index, if any.
    pub fn from_index(index: u8) -> Option<Self> {
        Self::ALL.get(usize::from(index)).copied()
    }

    /// The snake_case name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Action::Noop => "noop",
            Action::Forward => "forward",
            Action::Back => "back",
            Action::TurnLeft => "turn_left",
            Action::TurnRight => "turn_right",
            Action::StrafeLeft => "strafe_left",
            Action::StrafeRight => "strafe_right",
            Action::PickUp => "pick_up",
            Action::Drop => "drop",
            Action::Done => "done",
            Action::Toggle => "toggle",
        }
    }

    /// The names of all actions in index order: the vocabulary written into dataset metadata.
    pub fn vocabulary() -> Vec<&'static str> {
        Self::ALL.iter().map(|a| a.name()).collect()
    }
}

/// What a policy does at a step: act in the world, or answer the scenario's question (which ends
/// the episode).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Take an action.
    Act(Action),
    /// Answer the question with this word of [`crate::task::answer_vocabulary`].
    Answer(String),
}

impl Decision {
    /// The token index stored in datasets: an action's own index, or [`ANSWER_TOKEN`] for an
    /// answer (the word itself is kept beside it as text).
    pub fn token(&self) -> u8 {
        match self {
            Decision::Act(a) => a.index(),
            Decision::Answer(_) => ANSWER_TOKEN,
        }
    }

    /// The decision's name: the action's, or `answer`.
    pub fn name(&self) -> &'static str {
        match self {
            Decision::Act(a) => a.name(),
            Decision::Answer(_) => "answer",
        }
    }
}

/// The dataset token that stands for "answered the question"; it follows the actions.
pub const ANSWER_TOKEN: u8 = Action::COUNT as u8;

/// The names of every dataset token in index order: the actions, then `answer`. This is the
/// action vocabulary written into dataset metadata.
pub fn decision_vocabulary() -> Vec<&'static str> {
    let mut v = Action::vocabulary();
    v.push("answer");
    v
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Action {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|a| a.name() == s)
            .ok_or_else(|| format!("unknown action `{s}` (expected one of: {})", Self::vocabulary().join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_round_trips() {
        for a in Action::ALL {
            assert_eq!(Action::from_index(a.index()), Some(a));
            assert_eq!(a.name().parse::<Action>(), Ok(a));
        }
        assert_eq!(Action::from_index(11), None);
        assert!("jump".parse::<Action>().is_err());
    }
}
