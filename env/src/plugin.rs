//! `EnvPlugin`: the per-env simulation slots and the system that advances them. No rendering.

use std::sync::Arc;

use bevy::prelude::*;

use crate::action::Action;
use crate::error::EnvError;
use crate::task::scenario::Scenario;
use crate::sim::{StepEffect, SimState};

/// What the host asked an env to do in the next update.
#[derive(Clone, Debug)]
pub enum Command {
    /// Start a new episode.
    Reset {
        /// The scenario to play.
        scenario: Arc<Scenario>,
        /// The episode seed.
        seed: u64,
    },
    /// Take one action.
    Act(Action),
    /// Answer the scenario's question (ends the episode).
    Answer(String),
}

/// What an env did with its command.
#[derive(Debug)]
pub enum Reply {
    /// A new episode started.
    Reset,
    /// An action was taken.
    Stepped(StepEffect),
    /// The command failed.
    Failed(EnvError),
}

/// One env of the batch.
#[derive(Debug, Default)]
pub struct Slot {
    /// The simulation, once reset.
    pub state: Option<SimState>,
    /// Set by the host, taken by [`advance_envs`].
    pub command: Option<Command>,
    /// Set by [`advance_envs`], taken by the host.
    pub reply: Option<Reply>,
    /// Counts resets, so the scene is rebuilt exactly when a new episode starts.
    pub episode: u64,
}

/// Every env hosted by this App.
#[derive(Resource, Debug, Default)]
pub struct EnvSlots {
    /// One slot per env, indexed by env number.
    pub slots: Vec<Slot>,
}

/// Ordering of the env systems inside `Update`.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum EnvSystems {
    /// Commands are applied to the simulations.
    Simulate,
    /// The rendered scene is brought in line with the simulations.
    SyncScene,
}

/// Hosts `num_envs` simulations and advances them once per `update()`.
pub struct EnvPlugin {
    /// Number of envs.
    pub num_envs: usize,
}

impl Plugin for EnvPlugin {
    fn build(&self, app: &mut App) {
        let slots = (0..self.num_envs).map(|_| Slot::default()).collect();
        app.insert_resource(EnvSlots { slots })
            .configure_sets(Update, (EnvSystems::Simulate, EnvSystems::SyncScene).chain())
            .add_systems(Update, advance_envs.in_set(EnvSystems::Simulate));
    }
}

/// The slot's simulation if an episode is running, or why not.
fn running(slot: &mut Slot, index: usize) -> Result<&mut SimState, EnvError> {
    match slot.state.as_mut() {
        Some(state) if !state.over => Ok(state),
        Some(_) => Err(EnvError::NeedsReset { index, reason: "the episode is over" }),
        None => Err(EnvError::NeedsReset { index, reason: "the env was never reset" }),
    }
}

/// Apply each slot's pending command.
pub fn advance_envs(mut envs: ResMut<EnvSlots>) {
    for (index, slot) in envs.slots.iter_mut().enumerate() {
        let Some(command) = slot.command.take() else { continue };
        slot.reply = Some(match command {
            Command::Reset { scenario, seed } => match SimState::new(scenario, seed) {
                Ok(state) => {
                    slot.state = Some(state);
                    slot.episode += 1;
                    Reply::Reset
                }
                Err(e) => Reply::Failed(e),
            },
            Command::Act(action) => running(slot, index).map_or_else(Reply::Failed, |s| Reply::Stepped(s.step(action))),
            Command::Answer(word) => running(slot, index).map_or_else(Reply::Failed, |s| Reply::Stepped(s.answer(&word))),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(n: usize) -> App {
        let mut app = App::new();
        app.add_plugins((MinimalPlugins, EnvPlugin { num_envs: n }));
        app
    }

    #[test]
    fn commands_are_applied_in_one_update() {
        let mut app = app(2);
        let sc = Arc::new(Scenario::load("go_to_object").expect("builtin"));
        {
            let mut envs = app.world_mut().resource_mut::<EnvSlots>();
            envs.slots[0].command = Some(Command::Reset { scenario: sc.clone(), seed: 5 });
            envs.slots[1].command = Some(Command::Act(Action::Forward));
        }
        app.update();
        let mut envs = app.world_mut().resource_mut::<EnvSlots>();
        assert!(matches!(envs.slots[0].reply.take(), Some(Reply::Reset)));
        assert_eq!(envs.slots[0].episode, 1);
        assert!(matches!(envs.slots[1].reply.take(), Some(Reply::Failed(EnvError::NeedsReset { index: 1, .. }))));
        envs.slots[0].command = Some(Command::Act(Action::TurnLeft));
        app.update();
        let envs = app.world().resource::<EnvSlots>();
        assert!(matches!(envs.slots[0].reply, Some(Reply::Stepped(_))));
        assert_eq!(envs.slots[0].state.as_ref().map(|s| s.step), Some(1));
    }

    /// The plugin only hosts: an episode stepped through `App::update()` matches the plain
    /// simulation stepped directly, step for step, and an env given no command is left alone.
    #[test]
    fn updates_match_the_plain_simulation() {
        let mut app = app(2);
        let sc = Arc::new(Scenario::load("go_to_object").expect("builtin"));
        let mut plain = SimState::new(sc.clone(), 9).expect("gen");
        app.world_mut().resource_mut::<EnvSlots>().slots[0].command = Some(Command::Reset { scenario: sc, seed: 9 });
        app.update();
        while !plain.over {
            let action = crate::expert::expert_action(&plain);
            let expected = plain.step(action);
            app.world_mut().resource_mut::<EnvSlots>().slots[0].command = Some(Command::Act(action));
            app.update();
            let mut envs = app.world_mut().resource_mut::<EnvSlots>();
            let Some(Reply::Stepped(got)) = envs.slots[0].reply.take() else { panic!("step {} got no step reply", plain.step) };
            assert_eq!(got, expected);
            let s = envs.slots[0].state.as_ref().expect("state");
            assert_eq!((s.agent, s.step, s.held, s.success), (plain.agent, plain.step, plain.held, plain.success));
            assert!(envs.slots[1].reply.is_none() && envs.slots[1].state.is_none());
        }
        assert!(plain.success, "the expert should solve go_to_object seed 9");
    }

    #[test]
    fn an_answer_ends_the_episode_and_later_commands_fail() {
        let mut app = app(1);
        let sc = Arc::new(Scenario::load("describe_object").expect("builtin"));
        app.world_mut().resource_mut::<EnvSlots>().slots[0].command = Some(Command::Reset { scenario: sc, seed: 4 });
        app.update();
        let truth = app.world().resource::<EnvSlots>().slots[0].state.as_ref().and_then(SimState::true_answer).expect("a question");
        app.world_mut().resource_mut::<EnvSlots>().slots[0].command = Some(Command::Answer(truth));
        app.update();
        let mut envs = app.world_mut().resource_mut::<EnvSlots>();
        assert!(matches!(envs.slots[0].reply.take(), Some(Reply::Stepped(StepEffect { terminated: true, truncated: false, .. }))));
        assert!(envs.slots[0].state.as_ref().is_some_and(|s| s.over && s.success));
        envs.slots[0].command = Some(Command::Act(Action::Forward));
        app.update();
        let envs = app.world().resource::<EnvSlots>();
        assert!(matches!(envs.slots[0].reply, Some(Reply::Failed(EnvError::NeedsReset { index: 0, reason: "the episode is over" }))));
    }
}
