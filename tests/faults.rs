//! Faults a long run meets: `kill -9` at steps drawn over `pretrain`, `finetune` and
//! `finetune --online` (inside online rounds and between them). Each run is resumed after every
//! kill and must end with the same bytes as the same run left alone: the final weights and
//! optimiser moments, every logged number but times, and the aggregated dataset. (`record`'s kill
//! test is in `cli_record`.) A shard truncated or rewritten under a running job ends it with a
//! one-line error instead of a SIGBUS. A full disk (a size-limited tmpfs in a mount namespace of
//! the test's own) during `record` and during checkpointing ends the run with a one-line error,
//! leaves what was committed before intact, and the run resumes to the uninterrupted run's bytes
//! once space returns.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use sandtable_agent::dataset::Dataset;

use crate::util::{read_tree, sandtable, stderr};

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

/// A run's result: the latest checkpoint's weight and optimiser files, `metrics.jsonl` without
/// its times, and the aggregated dataset of an online run.
type Result = (Vec<(String, Vec<u8>)>, Vec<Value>, Vec<(String, Vec<u8>)>);

fn result(run: &Path) -> Result {
    let latest = std::fs::read_to_string(run.join("checkpoints/latest")).expect("checkpoints/latest");
    let ckpt = run.join("checkpoints").join(latest.trim());
    // state.json names the run's own folder (the online dataset), so it differs between runs.
    let weights = read_tree(&ckpt).into_iter().filter(|(name, _)| name.ends_with(".safetensors")).collect();
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).expect("metrics.jsonl");
    let metrics = text
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).expect("a JSON line");
            if let Some(o) = v.as_object_mut() {
                for timing in ["step_ms", "tokens_per_s", "frames_per_s", "play"] {
                    o.remove(timing);
                }
            }
            v
        })
        .collect();
    let online = if run.join("online").is_dir() { read_tree(&run.join("online")) } else { Vec::new() };
    (weights, metrics, online)
}

/// The highest step `metrics.jsonl` in `run` has logged so far.
fn logged_step(run: &Path) -> u64 {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap_or_default();
    text.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).filter_map(|v| v["step"].as_u64()).max().unwrap_or(0)
}

/// Run `args` into `out`, killing it with SIGKILL as soon as it has logged each of the steps of
/// `kill_at` and resuming it after each kill, then let it finish. Returns how many attempts the
/// kill ended (the others had finished first).
fn killed_and_resumed(args: &[&str], out: &Path, kill_at: &[u64]) -> usize {
    use std::os::unix::process::ExitStatusExt;
    let mut killed = 0;
    for (i, &step) in kill_at.iter().enumerate() {
        let mut a: Vec<&str> = [args, &["--out", s(out)]].concat();
        if i > 0 {
            a.push("--resume");
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_sandtable")).args(&a).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn");
        let deadline = Instant::now() + Duration::from_secs(120);
        while logged_step(out) < step && child.try_wait().expect("wait").is_none() {
            assert!(Instant::now() < deadline, "step {step} was not reached in time");
            std::thread::sleep(Duration::from_millis(1));
        }
        // A run that ended before its kill has nothing to lose: the next resume finds it done.
        let _ = child.kill();
        killed += usize::from(child.wait().expect("reaped").signal() == Some(9));
    }
    let o = sandtable(&[args, &["--out", s(out), "--resume"]].concat());
    assert!(o.status.success(), "the last resume of {args:?}: {}", stderr(&o));
    killed
}

/// `n` kill points among the steps 1..`steps`: a fixed pseudo-random draw, so a failure can be
/// rerun.
fn kill_points(seed: u64, n: usize, steps: u64) -> Vec<u64> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut points: Vec<u64> = (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            1 + x % (steps - 1)
        })
        .collect();
    points.sort();
    points
}

fn check_kills(name: &str, args: &[&str], steps: u64, seed: u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (whole_run, cut_run) = (dir.path().join("whole"), dir.path().join("cut"));
    let o = sandtable(&[args, &["--out", s(&whole_run)]].concat());
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    let points = kill_points(seed, 3, steps);
    let killed = killed_and_resumed(args, &cut_run, &points);
    assert!(killed >= 2, "{name}: only {killed} of the kills at steps {points:?} landed before the run finished");
    let (a, b) = (result(&whole_run), result(&cut_run));
    assert!(!a.0.is_empty() && !a.1.is_empty(), "{name}: the run left weights and metrics");
    assert!(a == b, "{name}: killed at steps {points:?} and resumed, the run must end with the uninterrupted run's bytes");
}

fn demos(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("demos");
    let o = sandtable(&["record", "--scenario", "go_to_object", "--episodes", "8", "--policy", "mixed:0.3", "--seed", "3", "--out", s(&data)]);
    assert!(o.status.success(), "{}", stderr(&o));
    data
}

#[test]
fn pretraining_killed_anywhere_resumes_to_the_same_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = demos(dir.path());
    check_kills("pretrain", &["pretrain", "--data", s(&data), "--config", "tiny", "--tokenizer-steps", "40", "--dynamics-steps", "40"], 80, 1);
}

#[test]
fn fine_tuning_killed_anywhere_resumes_to_the_same_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = demos(dir.path());
    check_kills("finetune", &["finetune", "--init", "none", "--config", "tiny", "--data", s(&data), "--steps", "70"], 70, 2);
}

#[test]
fn online_imitation_killed_anywhere_resumes_to_the_same_bytes() {
    let args = [
        "finetune", "--online", "--scenario", "go_to_object", "--init", "none", "--config", "tiny", "--steps", "12", "--rounds", "4", "--round-episodes", "4", "--envs",
        "4",
    ];
    // Rounds start at steps 0, 3, 6 and 9: a kill just after one of them lands in its play or its
    // first training steps.
    check_kills("finetune --online", &args, 12, 3);
}

/// A child process that is killed when dropped, so a failed assertion leaves nothing running.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The one `error:` line of a failed run's stderr; the run must have exited with 1.
fn one_error_line(what: &str, code: Option<i32>, err: &str) -> String {
    assert_eq!(code, Some(1), "{what}: {err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{what}: one error line: {err}");
    errors[0].to_string()
}

/// Tokenizer pretraining on `data` into `out`, long enough never to end by itself.
fn endless_pretraining<'a>(data: &'a Path, out: &'a Path) -> [&'a str; 11] {
    ["pretrain", "--data", s(data), "--config", "tiny", "--tokenizer-steps", "100000", "--dynamics-steps", "1", "--out", s(out)]
}

/// Start [`endless_pretraining`] in `dir/run`, wait for its first checkpoint (step 30) and two
/// steps more, apply `change` to the dataset's first shard, and return the process's exit and
/// stderr.
fn pretraining_with_a_changed_shard(dir: &Path, data: &Path, change: impl FnOnce(&Path)) -> (std::process::ExitStatus, String) {
    let out = dir.join("run");
    let log = dir.join("stderr");
    let stderr_file = std::fs::File::create(&log).expect("stderr file");
    let mut child = Reaped(
        Command::new(env!("CARGO_BIN_EXE_sandtable")).args(endless_pretraining(data, &out)).stdout(Stdio::null()).stderr(stderr_file).spawn().expect("spawn"),
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    while !out.join("checkpoints/latest").is_file() || logged_step(&out) < 32 {
        assert!(Instant::now() < deadline && child.0.try_wait().expect("wait").is_none(), "pretraining did not reach step 32");
        std::thread::sleep(Duration::from_millis(5));
    }
    change(&data.join("data/shard-00000.safetensors"));
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "pretraining went on reading a changed shard");
        std::thread::sleep(Duration::from_millis(5));
    };
    (status, std::fs::read_to_string(&log).expect("stderr"))
}

#[test]
fn a_shard_truncated_or_rewritten_under_a_running_job_ends_it_with_one_line() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = demos(dir.path());
    let shard = data.join("data/shard-00000.safetensors");
    let bytes = std::fs::read(&shard).expect("shard");
    let truncate = |p: &Path| std::fs::OpenOptions::new().write(true).open(p).and_then(|f| f.set_len(1000)).expect("truncate");
    // In place, at the same size (a rewrite through O_TRUNC would pass through a truncated file).
    let rewrite = |p: &Path| {
        use std::os::unix::fs::FileExt;
        let last = bytes.len() - 1;
        std::fs::OpenOptions::new().write(true).open(p).and_then(|f| f.write_all_at(&[!bytes[last]], last as u64)).expect("rewrite");
    };
    for (what, change) in [("truncated", &truncate as &dyn Fn(&Path)), ("rewritten", &rewrite)] {
        std::fs::write(&shard, &bytes).expect("restore the shard");
        let run = dir.path().join(what);
        std::fs::create_dir_all(&run).expect("dir");
        let (status, err) = pretraining_with_a_changed_shard(&run, &data, change);
        assert_eq!(status.signal(), None, "{what}: the job died of a signal: {err}");
        let line = one_error_line(what, status.code(), &err);
        assert!(line.contains("shard-00000.safetensors") && line.contains(&format!("{what} while this job read it")), "{what}: {line}");
        // The checkpoint written before the change is intact: the run resumes from it once the
        // shard is back.
        std::fs::write(&shard, &bytes).expect("restore the shard");
        let out = run.join("run");
        let latest = std::fs::read_to_string(out.join("checkpoints/latest")).expect("a checkpoint before the change");
        assert!(latest.trim() >= "step-00000030", "{what}: latest is {latest}");
        let until = (logged_step(&out) + 2).to_string();
        let o = sandtable(&[&endless_pretraining(&data, &out)[..], &["--resume", "--until", &until]].concat());
        assert!(o.status.success(), "{what}: resuming after the shard is restored: {}", stderr(&o));
        assert_eq!(logged_step(&out).to_string(), until, "{what}: the resumed run went on");
    }
}

/// Run `command` into `out/whole` on the ordinary disk, then twice on a tmpfs of `size` mounted
/// in a mount namespace of its own: first into `--out`, and after the tmpfs is grown to 256 MiB
/// again with `--resume`. Returns, per attempt, the exit code and stderr, and copies of the run
/// directory after each attempt in `out` (`at-failure`, `resumed`). The namespace (as root, or as
/// a user mapped to root where user namespaces are allowed) takes the mount with it when it ends.
fn on_a_full_disk(out: &Path, size: &str, command: &[&str]) -> [(i32, String); 2] {
    use std::os::unix::fs::MetadataExt;
    let o = sandtable(&[command, &["--out", s(&out.join("whole"))]].concat());
    assert!(o.status.success(), "{command:?} uninterrupted: {}", stderr(&o));
    const SCRIPT: &str = r#"
set -u
mnt=$1 out=$2 size=$3; shift 3
mount -t tmpfs -o "size=$size" tmpfs "$mnt" || exit 90
"$@" --out "$mnt/run" 2>"$out/first.err"; echo $? >"$out/first.rc"
cp -a "$mnt/run" "$out/at-failure"
mount -o remount,size=256m tmpfs "$mnt" || exit 91
"$@" --out "$mnt/run" --resume 2>"$out/resume.err"; echo $? >"$out/resume.rc"
cp -a "$mnt/run" "$out/resumed"
"#;
    let mnt = out.join("mnt");
    std::fs::create_dir_all(&mnt).expect("mount point");
    let root = std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false);
    let ns: &[&str] = if root { &["--mount", "--propagation", "private"] } else { &["--user", "--map-root-user", "--mount"] };
    let o = Command::new("unshare")
        .args(ns)
        .args(["sh", "-c", SCRIPT, "sh", s(&mnt), s(out), size, env!("CARGO_BIN_EXE_sandtable")])
        .args(command)
        .output()
        .expect("unshare (util-linux) runs");
    assert!(o.status.success(), "the mount namespace with a {size} tmpfs: {}", stderr(&o));
    let read = |name: &str| std::fs::read_to_string(out.join(name)).expect(name);
    ["first", "resume"].map(|k| (read(&format!("{k}.rc")).trim().parse().expect("an exit code"), read(&format!("{k}.err"))))
}

/// The one error line of a failed run's stderr, checked to name a full disk.
fn disk_full_error(what: &str, (code, err): &(i32, String)) -> String {
    let line = one_error_line(what, Some(*code), err);
    assert!(line.contains("No space left on device"), "{what}: {line}");
    line
}

/// Files under `dir` whose name ends in `.partial`.
fn partials(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("readable dir").map(|e| e.expect("entry").path()) {
            if e.to_string_lossy().ends_with(".partial") {
                found.push(e.display().to_string());
            } else if e.is_dir() {
                stack.push(e);
            }
        }
    }
    found
}

#[test]
fn a_recording_on_a_full_disk_keeps_its_shards_and_resumes_to_the_same_dataset() {
    let dir = tempfile::tempdir().expect("tempdir");
    // One env per worker: every episode is drawn in the batch renderer's first tile either way
    // (with 4, a resumed recording draws an episode in another tile than the whole one did, and
    // one edge pixel of one frame in 296 came out differently; see docs/performance.md).
    let args = ["record", "--scenario", "go_to_object", "--episodes", "8", "--policy", "mixed:0.3", "--seed", "3", "--shard-frames", "100", "--envs", "1"];
    let whole = dir.path().join("whole");
    // The whole dataset takes 3.6 MB in 3 shards; 2 MiB holds the first.
    let [first, resume] = on_a_full_disk(dir.path(), "2m", &args);
    let line = disk_full_error("record", &first);
    assert!(line.contains("shard-0000"), "the error names the shard: {line}");
    let cut = dir.path().join("at-failure");
    assert_eq!(partials(&cut), Vec::<String>::new(), "a failed write leaves no partial file taking space");
    let ds = Dataset::open(&cut).expect("the committed shards are a valid dataset");
    ds.verify().expect("and their checksums match");
    assert!((1..8).contains(&ds.num_episodes()), "kept {} of 8 episodes", ds.num_episodes());
    assert_eq!(resume.0, 0, "resumed once space returned: {}", resume.1);
    let (a, b) = (read_tree(&whole), read_tree(&dir.path().join("resumed")));
    let differ: Vec<&str> = a.iter().zip(&b).filter(|(x, y)| x != y).map(|(x, _)| x.0.as_str()).collect();
    assert!(a.len() == b.len() && differ.is_empty(), "resumed on a disk with room, the dataset equals the uninterrupted one; these differ: {differ:?}");
}

#[test]
fn checkpointing_on_a_full_disk_keeps_the_previous_checkpoint_and_resumes_to_the_same_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = demos(dir.path());
    // Checkpoints at steps 30, 60 and 70 take 0.85 MB each: 2 MiB holds two.
    let args = ["finetune", "--init", "none", "--config", "tiny", "--data", s(&data), "--steps", "70"];
    let whole = dir.path().join("whole");
    let [first, resume] = on_a_full_disk(dir.path(), "2m", &args);
    let line = disk_full_error("finetune", &first);
    assert!(line.contains("checkpoints/step-"), "the disk filled while checkpointing: {line}");
    let cut = dir.path().join("at-failure");
    assert_eq!(partials(&cut), Vec::<String>::new(), "a failed checkpoint leaves no partial directory taking space");
    let latest = std::fs::read_to_string(cut.join("checkpoints/latest")).expect("a checkpoint was committed before the disk filled");
    let (kept, same) = (cut.join("checkpoints").join(latest.trim()), whole.join("checkpoints").join(latest.trim()));
    let weights = |d: &Path| read_tree(d).into_iter().filter(|(n, _)| n.ends_with(".safetensors")).collect::<Vec<_>>();
    assert!(weights(&kept) == weights(&same), "the checkpoint before the failure ({}) is intact", latest.trim());
    assert_eq!(resume.0, 0, "resumed once space returned: {}", resume.1);
    assert!(result(&whole) == result(&dir.path().join("resumed")), "resumed on a disk with room, the run ends with the uninterrupted run's bytes");
}
