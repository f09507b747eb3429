//! The play window's App: a winit window showing the env's own frame scaled up with nearest
//! neighbour (a person sees exactly what the agent sees), the optional map, and text lines for
//! the mission, the step and the answer box. Keys and the pilot drive the [`Session`].

use std::sync::{Arc, Mutex, PoisonError};

use bevy::app::AppExit;
use bevy::asset::RenderAssetUsages;
use bevy::image::ImageSampler;
use bevy::input::ButtonState;
use bevy::input::keyboard::{Key, KeyboardInput};
use bevy::log::LogPlugin;
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};
use bevy::render::view::screenshot::{Screenshot, save_to_disk};
use bevy::window::{WindowPlugin, WindowResolution};

use crate::action::{Action, Decision};
use crate::error::{EnvError, Result};
use crate::task::answer_vocabulary;
use crate::window::controls::{Control, KEYS_HELP, control};
use crate::window::map::draw_map;
use crate::window::session::{Pilot, Session, Sink, Summary, ViewerConfig};

/// Side of the map, screen pixels.
const MAP_SIDE: u32 = 256;

/// Registers the play window's UI and systems.
pub struct ViewerPlugin;

impl Plugin for ViewerPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Startup, build_ui).add_systems(Update, (read_keys, drive, refresh).chain());
    }
}

/// The images the UI shows.
#[derive(Resource)]
pub struct ViewImages {
    view: Handle<Image>,
    map: Option<Handle<Image>>,
}

/// Which of the text lines that change an entity is.
#[derive(Component, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// The mission.
    Mission,
    /// Scenario, seed, step, reward, outcome, driver.
    Status,
    /// The answer box.
    Answer,
}

/// Open the window and play until it closes. Fails with one line on a machine without a display.
pub fn run(config: ViewerConfig, pilot: Option<Box<dyn Pilot>>, sink: Option<Sink>) -> Result<Summary> {
    if std::env::var_os("DISPLAY").is_none_or(|d| d.is_empty()) {
        return Err(EnvError::Config(
            "`play` opens a window but no display is set (DISPLAY is empty); on a machine without one, run it under `xvfb-run`".into(),
        ));
    }
    let summary = Arc::new(Mutex::new(Summary::default()));
    let title = format!("sandtable play: {}", config.scenario.name);
    let view = config.size * config.scale;
    let width = (view + if config.map { MAP_SIDE + 8 } else { 0 } + 16).max(720);
    let height = view.max(if config.map { MAP_SIDE } else { 0 }) + 150;
    let session = Session::new(config, pilot, sink, summary.clone())?;
    let mut app = App::new();
    app.add_plugins(
        DefaultPlugins
            .build()
            // The binary owns the logger.
            .disable::<LogPlugin>()
            .set(ImagePlugin::default_nearest())
            .set(WindowPlugin {
                primary_window: Some(Window { title, resolution: WindowResolution::new(width, height), resizable: false, ..default() }),
                ..default()
            }),
    )
    .insert_non_send(session)
    .add_plugins(ViewerPlugin);
    app.run();
    drop(app);
    let summary = summary.lock().unwrap_or_else(PoisonError::into_inner).clone();
    match &summary.error {
        Some(e) => Err(EnvError::Render(e.clone())),
        None => Ok(summary),
    }
}

fn blank_image(width: u32, height: u32) -> Image {
    let mut image = Image::new_fill(
        Extent3d { width, height, depth_or_array_layers: 1 },
        TextureDimension::D2,
        &[0, 0, 0, 255],
        TextureFormat::Rgba8UnormSrgb,
        RenderAssetUsages::MAIN_WORLD | RenderAssetUsages::RENDER_WORLD,
    );
    image.sampler = ImageSampler::nearest();
    image
}

/// Spawn the camera and the UI: the view (and map) above four text lines.
pub fn build_ui(mut commands: Commands, mut images: ResMut<Assets<Image>>, session: NonSend<Session>) {
    let c = &session.config;
    let view = images.add(blank_image(c.size, c.size));
    let map = c.map.then(|| images.add(blank_image(MAP_SIDE, MAP_SIDE)));
    let side = (c.size * c.scale) as f32;
    commands.spawn(Camera2d);
    let line = |size: f32, gray: f32| (TextFont { font_size: FontSize::Px(size), ..default() }, TextColor(Color::srgb(gray, gray, gray)));
    commands
        .spawn((
            Node { flex_direction: FlexDirection::Column, padding: UiRect::all(Val::Px(8.0)), row_gap: Val::Px(6.0), ..default() },
            BackgroundColor(Color::srgb(0.08, 0.08, 0.09)),
        ))
        .with_children(|root| {
            root.spawn(Node { flex_direction: FlexDirection::Row, column_gap: Val::Px(8.0), ..default() }).with_children(|row| {
                row.spawn((ImageNode::new(view.clone()), Node { width: Val::Px(side), height: Val::Px(side), ..default() }));
                if let Some(map) = &map {
                    let s = MAP_SIDE as f32;
                    row.spawn((ImageNode::new(map.clone()), Node { width: Val::Px(s), height: Val::Px(s), ..default() }));
                }
            });
            root.spawn((Text::new(""), line(20.0, 1.0), Line::Mission));
            root.spawn((Text::new(""), line(16.0, 0.85), Line::Status));
            root.spawn((Text::new(""), line(16.0, 0.95), Line::Answer));
            root.spawn((Text::new(KEYS_HELP), line(13.0, 0.6)));
        });
    commands.insert_resource(ViewImages { view, map });
}

fn finish(session: &mut Session, exit: &mut MessageWriter<AppExit>, result: std::result::Result<(), String>) {
    if let Err(e) = result {
        session.fail(e);
        exit.write(AppExit::error());
    }
}

/// Keys: movement, the answer box, resets, pause, screenshots and quitting.
pub fn read_keys(
    mut commands: Commands,
    mut keys: MessageReader<KeyboardInput>,
    mut session: NonSendMut<Session>,
    mut exit: MessageWriter<AppExit>,
) {
    for key in keys.read() {
        if key.state != ButtonState::Pressed {
            continue;
        }
        let question = session.config.scenario.task.answer.is_some();
        let c = control(key.key_code);
        // While the answer box is open, keys type into it (F12 still takes a screenshot).
        if c != Some(Control::Screenshot)
            && let Some(buffer) = session.answer.as_mut()
        {
            match &key.logical_key {
                Key::Enter => {
                    let word = buffer.trim().to_lowercase();
                    if answer_vocabulary().contains(&word) {
                        session.answer = None;
                        session.notice = None;
                        let r = session.act(Decision::Answer(word));
                        finish(&mut session, &mut exit, r);
                    } else {
                        // A typo must not end the episode: say so and keep the box open.
                        session.notice = Some(format!("`{word}` is not an answer word"));
                    }
                }
                Key::Escape => {
                    session.answer = None;
                    session.notice = None;
                }
                Key::Backspace => {
                    buffer.pop();
                }
                Key::Character(s) => buffer.extend(s.chars().filter(|c| c.is_alphanumeric())),
                _ => {}
            }
            session.dirty = true;
            continue;
        }
        let Some(c) = c else { continue };
        let result = match c {
            Control::Act(a) => session.act(Decision::Act(a)),
            Control::PickOrDrop => session.pick_or_drop(),
            Control::Enter if question && !session.over => {
                session.answer = Some(String::new());
                session.dirty = true;
                Ok(())
            }
            Control::Enter => session.act(Decision::Act(Action::Done)),
            Control::Reset { next_seed } => session.reset(next_seed),
            Control::Pause => {
                session.paused = !session.paused;
                session.dirty = true;
                Ok(())
            }
            Control::StepOnce => match session.pilot_decision() {
                Ok(Some(d)) => session.act(d),
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            },
            Control::Screenshot => {
                session.screenshots += 1;
                let name = format!("sandtable-{}-seed{}-{}.png", session.config.scenario.name, session.seed, session.screenshots);
                let path = session.config.screenshots.join(name);
                commands.spawn(Screenshot::primary_window()).observe(save_to_disk(path));
                Ok(())
            }
            Control::Quit => {
                let r = session.end_episode(true);
                exit.write(AppExit::Success);
                r
            }
        };
        finish(&mut session, &mut exit, result);
    }
}

/// The pilot acts at the configured speed; a finished episode gives way to the next seed after
/// a short pause; the window closes after the requested number of episodes.
pub fn drive(time: Res<Time>, mut session: NonSendMut<Session>, mut exit: MessageWriter<AppExit>) {
    session.timer += time.delta_secs();
    let period = 1.0 / session.config.speed.max(0.1);
    if session.over {
        if session.config.episodes.is_some_and(|n| session.finished() >= n) {
            exit.write(AppExit::Success);
            return;
        }
        // A person gets time to see how the episode ended.
        let pause = if session.piloted() { period.clamp(0.2, 1.0) } else { 1.5 };
        if session.timer >= pause {
            let r = session.reset(true);
            finish(&mut session, &mut exit, r);
        }
        return;
    }
    if !session.piloted() || session.paused || session.answer.is_some() || session.timer < period {
        return;
    }
    let r = match session.pilot_decision() {
        Ok(Some(d)) => session.act(d),
        Ok(None) => Ok(()),
        Err(e) => Err(e),
    };
    finish(&mut session, &mut exit, r);
}

/// Redraw the view, the map and the text lines after a change.
pub fn refresh(
    mut session: NonSendMut<Session>,
    handles: Res<ViewImages>,
    mut images: ResMut<Assets<Image>>,
    mut texts: Query<(&mut Text, &Line)>,
) {
    if !session.dirty {
        return;
    }
    session.dirty = false;
    if let Some(mut image) = images.get_mut(&handles.view) {
        image.data = Some(session.frame.rgb.chunks(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect());
    }
    if let (Some(map), Some(state)) = (&handles.map, session.env.state())
        && let Some(mut image) = images.get_mut(map)
    {
        image.data = Some(draw_map(state, MAP_SIDE));
    }
    let s = &*session;
    let outcome = if !s.over {
        "playing".to_string()
    } else if s.info.success {
        "SUCCESS".to_string()
    } else {
        "over".to_string()
    };
    let paused = if s.piloted() && s.paused { " (paused: P resumes, . steps)" } else { "" };
    let status = format!(
        "{} | seed {} | step {}/{} | reward {:.2} | return {:.2} | {outcome} | driver {}{paused}",
        s.config.scenario.name, s.seed, s.info.step, s.config.scenario.max_steps, s.reward, s.episode_return, s.config.driver
    );
    let answer = match (&s.answer, s.config.scenario.task.answer.is_some()) {
        (Some(buffer), _) => format!("answer> {buffer}_   (Enter answers, Esc cancels){}", s.notice.as_ref().map(|n| format!("   {n}")).unwrap_or_default()),
        (None, true) => "Enter opens the answer box".to_string(),
        (None, false) => String::new(),
    };
    for (mut text, line) in &mut texts {
        text.0 = match line {
            Line::Mission => s.mission.to_string(),
            Line::Status => status.clone(),
            Line::Answer => answer.clone(),
        };
    }
}
