//! `sandtable play` in a real window on a virtual X server (Xvfb), driven by real key events
//! (xdotool): keys move the agent, the window shows the scene, human episodes are recorded as a
//! valid dataset, and the expert driver finishes an episode.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use sandtable_agent::dataset::Dataset;
use sandtable_env::{Action, Env, EnvConfig, Scenario};

use crate::util::{sandtable, sandtable_env, stderr};

/// A virtual X display, killed on drop.
struct Display {
    server: Child,
    name: String,
}

impl Drop for Display {
    fn drop(&mut self) {
        // SIGTERM lets Xvfb remove its lock file and socket; SIGKILL only if that fails.
        let terminated = Command::new("kill").arg(self.server.id().to_string()).status().is_ok_and(|s| s.success());
        if !terminated {
            let _ = self.server.kill();
        }
        let _ = self.server.wait();
    }
}

/// Xvfb picks a free display itself (`-displayfd`) and writes its number once it accepts
/// connections: a number chosen here could collide with another server, or with the lock file a
/// killed one left behind, and the window would then never open.
fn start_display() -> Display {
    let mut server = Command::new("Xvfb")
        .args(["-displayfd", "1", "-screen", "0", "1280x900x24", "-nolisten", "tcp"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb runs (scripts/setup.sh installs xvfb)");
    let stdout = server.stdout.take().expect("Xvfb's stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
    let n: u32 = line.trim().parse().unwrap_or_else(|_| {
        let _ = server.kill();
        panic!("Xvfb did not report its display within 20 s (got {line:?})")
    });
    Display { server, name: format!(":{n}") }
}

fn xdotool(display: &Display, args: &[&str]) -> Output {
    Command::new("xdotool").args(args).env("DISPLAY", &display.name).output().expect("xdotool runs (scripts/setup.sh installs it)")
}

fn spawn_play(display: &Display, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_sandtable"))
        .arg("play")
        .args(args)
        .env("DISPLAY", &display.name)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sandtable play starts")
}

/// Start `sandtable play` on `display` and wait for its window; returns the process and window id.
/// Once in a few dozen CI runs a fresh Xvfb refused the first client although it had reported
/// its display (`XOpenDisplayFailed`); a play that exits with that error is started again, twice
/// at most, so the test checks play and not the server's start-up.
#[allow(clippy::zombie_processes, reason = "the child is returned; the caller waits on it")]
fn open_window(display: &Display, args: &[&str]) -> (Child, String) {
    let mut child = spawn_play(display, args);
    let mut retries = 2;
    let start = Instant::now();
    loop {
        if retries > 0 && child.try_wait().expect("poll").is_some() {
            let out = child.wait_with_output().expect("output");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("XOpenDisplayFailed"), "sandtable play exited before its window appeared: {err}");
            retries -= 1;
            std::thread::sleep(Duration::from_millis(500));
            child = spawn_play(display, args);
            continue;
        }
        let found = xdotool(display, &["search", "--name", "sandtable play"]);
        let id = String::from_utf8_lossy(&found.stdout).lines().next().unwrap_or_default().trim().to_string();
        if !id.is_empty() {
            return (child, id);
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!("the play window never appeared: {}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_exit(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    while child.try_wait().expect("poll").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("sandtable play did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

/// Send one key to the focused window and give the window a moment to act on it.
fn press(display: &Display, key: &str) {
    let o = xdotool(display, &["key", key]);
    assert!(o.status.success(), "xdotool key {key}: {}", stderr(&o));
    std::thread::sleep(Duration::from_millis(250));
}

/// Keys move the agent as they say: the recorded actions are the keys' actions, and replaying
/// them in a headless env gives the recorded frames byte for byte. An episode reset with N
/// before its first step records nothing and leaves no gap in the dataset. F12's screenshot shows the
/// view, and the recording passes `dataset check`.
#[test]
fn keys_drive_the_agent_the_window_shows_it_and_the_episode_is_recorded() {
    let display = start_display();
    let dir = tempfile::tempdir().expect("tempdir");
    let (data, shots) = (dir.path().join("human"), dir.path().join("shots"));
    std::fs::create_dir_all(&shots).expect("mkdir");
    let (child, window) = open_window(
        &display,
        &["--scenario", "go_to_object", "--seed", "3", "--scale", "4", "--record", data.to_str().expect("utf8"), "--screenshots", shots.to_str().expect("utf8")],
    );
    let o = xdotool(&display, &["windowfocus", "--sync", &window]);
    assert!(o.status.success(), "focusing the window: {}", stderr(&o));
    std::thread::sleep(Duration::from_millis(500));
    // A fresh seed before any step: that episode records nothing, and must not leave a gap.
    press(&display, "n");
    let keys = [("Up", Action::Forward), ("w", Action::Forward), ("Left", Action::TurnLeft), ("e", Action::StrafeRight), ("Right", Action::TurnRight)];
    for (key, _) in keys {
        press(&display, key);
    }
    press(&display, "F12");
    let start = Instant::now();
    let shot = loop {
        if let Some(f) = std::fs::read_dir(&shots).expect("read").flatten().map(|e| e.path()).find(|p| p.extension().is_some_and(|e| e == "png")) {
            // The file is written once complete; give the encoder a moment.
            std::thread::sleep(Duration::from_millis(300));
            break f;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "F12 wrote no screenshot");
        std::thread::sleep(Duration::from_millis(100));
    };
    press(&display, "Escape");
    let out = wait_exit(child, Duration::from_secs(30));
    assert!(out.status.success(), "play failed: {}", stderr(&out));

    let check = sandtable(&["dataset", "check", data.to_str().expect("utf8")]);
    assert!(check.status.success(), "dataset check: {}", stderr(&check));
    let ds = Dataset::open(&data).expect("open");
    assert_eq!(ds.num_episodes(), 1);
    let ep = ds.episode(0).expect("episode");
    let want: Vec<i64> = keys.iter().map(|(_, a)| i64::from(a.index())).collect();
    assert_eq!(&ep.actions[..keys.len()], &want[..], "the recorded actions are not the keys pressed");
    assert_eq!(ep.actions.len(), keys.len() + 1);
    assert!(ep.truncated[keys.len() - 1] == 1, "an episode left with Esc ends truncated");
    assert_ne!(ep.meta.seed, 3, "N should have moved to a fresh seed");

    // The same actions in a headless env give the same frames.
    let scenario = std::sync::Arc::new(Scenario::load("go_to_object").expect("builtin"));
    let mut env = Env::with_config(EnvConfig::new(scenario)).expect("env");
    let (obs, _) = env.reset(ep.meta.seed).expect("reset");
    assert!(ep.frame(0).expect("frame") == obs.frame.rgb, "the first recorded frame differs");
    let mut last = obs.frame.rgb;
    for (k, (_, a)) in keys.iter().enumerate() {
        last = env.step(*a).expect("step").obs.frame.rgb;
        assert!(ep.frame(k + 1).expect("frame") == last, "frame {} differs from the keys' replay", k + 1);
    }

    // The screenshot's view (8 px in, 4 screen pixels per frame pixel) is the last frame.
    let img = image::open(&shot).expect("a PNG").to_rgb8();
    let mut diff = 0u64;
    for y in 0..64u32 {
        for x in 0..64u32 {
            let p = img.get_pixel(8 + 4 * x + 2, 8 + 4 * y + 2).0;
            let i = ((y * 64 + x) * 3) as usize;
            diff += (0..3).map(|c| (i64::from(p[c]) - i64::from(last[i + c])).unsigned_abs()).sum::<u64>();
        }
    }
    let mean = diff as f64 / (64.0 * 64.0 * 3.0);
    assert!(mean < 6.0, "the screenshot's view differs from the frame by {mean:.1} per channel");
}

/// The expert driver plays to success on its own, and `--episodes 1` closes the window after it.
#[test]
fn the_expert_driver_finishes_an_episode_with_success() {
    let display = start_display();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("expert");
    let (child, _) = open_window(
        &display,
        &["--scenario", "go_to_object", "--seed", "5", "--driver", "expert", "--speed", "40", "--episodes", "1", "--record", data.to_str().expect("utf8")],
    );
    let out = wait_exit(child, Duration::from_secs(60));
    assert!(out.status.success(), "play failed: {}", stderr(&out));
    let ds = Dataset::open(&data).expect("open");
    assert_eq!(ds.num_episodes(), 1);
    let ep = ds.episode(0).expect("episode");
    assert!(ep.meta.success, "the expert did not succeed");
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 successes"));
}

/// Without a display, `play` fails at once with one line that says why.
#[test]
fn play_without_a_display_fails_with_one_line() {
    let o = sandtable_env(&["play", "--scenario", "go_to_object"], &[("DISPLAY", "")]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("display") && err.trim().lines().count() == 1, "{err}");
}

/// A fine-tuned agent drives the window through a whole question episode (describe_object ends
/// within 60 steps, with its answer or by truncation), and the episode is recorded.
#[test]
fn a_trained_agent_drives_the_window_to_the_end_of_an_episode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = |p: &Path| p.to_str().expect("utf8").to_string();
    let (demos, run, data) = (dir.path().join("demos"), dir.path().join("agent"), dir.path().join("played"));
    let o = sandtable(&["record", "--scenario", "describe_object", "--episodes", "4", "--policy", "expert", "--out", &s(&demos)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = sandtable(&["finetune", "--init", "none", "--config", "tiny", "--data", &s(&demos), "--steps", "2", "--out", &s(&run)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let display = start_display();
    let (child, _) = open_window(
        &display,
        &["--scenario", "describe_object", "--seed", "9", "--driver", "agent", "--checkpoint", &s(&run), "--speed", "40", "--episodes", "1", "--record", &s(&data)],
    );
    let out = wait_exit(child, Duration::from_secs(60));
    assert!(out.status.success(), "play failed: {}", stderr(&out));
    let ds = Dataset::open(&data).expect("open");
    assert_eq!(ds.num_episodes(), 1);
    let ep = ds.episode(0).expect("episode");
    let last = ep.actions.len() - 2;
    assert!(ep.terminated[last] == 1 || ep.truncated[last] == 1, "the episode did not end");
}
