//! The play window's keys: what each key asks for, and the help line that lists them.

use bevy::input::keyboard::KeyCode;

use crate::action::Action;

/// What a key asks the play window to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Take this action.
    Act(Action),
    /// Pick up the object in reach, or drop the one held.
    PickOrDrop,
    /// Open the answer box (question scenarios), or take `done` elsewhere.
    Enter,
    /// Start a new episode: with the next seed (`true`) or a fresh random one.
    Reset {
        /// The next seed rather than a random one.
        next_seed: bool,
    },
    /// Pause or resume the driver.
    Pause,
    /// While paused, let the driver take one action.
    StepOnce,
    /// Save a screenshot of the window.
    Screenshot,
    /// Close the window.
    Quit,
}

/// The help line shown under the view.
pub const KEYS_HELP: &str = "arrows/WASD move and turn | Q/E strafe | space pick up/drop | F toggle | Enter answer (done) | \
R next seed | N new seed | P pause | . step | F12 screenshot | Esc quit";

/// The control bound to a key, if any.
pub fn control(key: KeyCode) -> Option<Control> {
    Some(match key {
        KeyCode::ArrowUp | KeyCode::KeyW => Control::Act(Action::Forward),
        KeyCode::ArrowDown | KeyCode::KeyS => Control::Act(Action::Back),
        KeyCode::ArrowLeft | KeyCode::KeyA => Control::Act(Action::TurnLeft),
        KeyCode::ArrowRight | KeyCode::KeyD => Control::Act(Action::TurnRight),
        KeyCode::KeyQ => Control::Act(Action::StrafeLeft),
        KeyCode::KeyE => Control::Act(Action::StrafeRight),
        KeyCode::Space => Control::PickOrDrop,
        KeyCode::KeyF => Control::Act(Action::Toggle),
        KeyCode::Enter | KeyCode::NumpadEnter => Control::Enter,
        KeyCode::KeyR => Control::Reset { next_seed: true },
        KeyCode::KeyN => Control::Reset { next_seed: false },
        KeyCode::KeyP => Control::Pause,
        KeyCode::Period => Control::StepOnce,
        KeyCode::F12 => Control::Screenshot,
        KeyCode::Escape => Control::Quit,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_movement_has_a_key_and_the_help_names_them() {
        let keys = [
            KeyCode::ArrowUp,
            KeyCode::ArrowDown,
            KeyCode::ArrowLeft,
            KeyCode::ArrowRight,
            KeyCode::KeyQ,
            KeyCode::KeyE,
        ];
        let acts: Vec<Control> = keys.iter().filter_map(|&k| control(k)).collect();
        for a in [Action::Forward, Action::Back, Action::TurnLeft, Action::TurnRight, Action::StrafeLeft, Action::StrafeRight] {
            assert!(acts.contains(&Control::Act(a)), "{a:?} has no key");
        }
        assert_eq!(control(KeyCode::KeyW), control(KeyCode::ArrowUp));
        assert_eq!(control(KeyCode::KeyZ), None);
        for word in ["WASD", "Q/E", "space", "Enter", "R ", "N ", "Esc"] {
            assert!(KEYS_HELP.contains(word), "the help line does not mention {word}");
        }
    }
}
