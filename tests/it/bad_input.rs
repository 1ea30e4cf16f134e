//! The bad-input sweep, as a test: every numeric flag at zero, negative, huge and malformed
//! values; a few hundred seeded random flag combinations; seeded mutations of the bundled
//! lessons; odd standard streams; a state directory that cannot be used. Whatever the input,
//! the binary must answer within its time limit, never with a panic (101) or an abort (134),
//! and never print an ESC byte when colour is off (`--color never`, `NO_COLOR`): a control
//! character it did not mean to print is one a lesson file or an argument smuggled in.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::support::{attnstep, command, state_dir};

/// Longest any one run may take: every command here finishes in well under a second in a
/// debug build; the margin is for a loaded machine.
const LIMIT: Duration = Duration::from_secs(30);

/// The most a numeric run in the random sweeps may compute, so a combination that passes
/// every check still finishes fast in a debug build.
const SMALL_MEMORY: &str = "8MiB";

/// What one run did.
struct Outcome {
    label: String,
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Outcome {
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// No hang, no panic, no abort, no ESC: what every run in this file must satisfy.
    fn check(&self) -> &Self {
        let label = &self.label;
        let Some(code) = self.code else {
            panic!("{label}: killed: ran past {LIMIT:?} or died of a signal");
        };
        assert!(
            [0, 1, 2].contains(&code),
            "{label}: exit status {code}\n{}",
            self.stderr()
        );
        assert!(
            !self.stdout.contains(&0x1b),
            "{label}: ESC on stdout with colour off"
        );
        assert!(
            !self.stderr.contains(&0x1b),
            "{label}: ESC on stderr with colour off: {:?}",
            self.stderr()
        );
        if code != 0 {
            assert!(
                self.stderr().contains("error"),
                "{label}: exit status {code} without an error message: {:?}",
                self.stderr()
            );
        }
        self
    }

    fn code(&self) -> i32 {
        self.code.expect("checked")
    }
}

/// Runs attnstep with colour off (and `NO_COLOR` set), stdin empty, output captured.
fn run(args: &[&str], state: &Path) -> Outcome {
    let out = attnstep()
        .args(args)
        .env("NO_COLOR", "1")
        .env("ATTNSTEP_STATE_DIR", state)
        .timeout(LIMIT)
        .output()
        .expect("attnstep runs");
    Outcome {
        label: args.join(" "),
        code: out.status.code(),
        stdout: out.stdout,
        stderr: out.stderr,
    }
}

/// Runs a prepared command (for standard streams assert_cmd cannot set) with the same limit;
/// stderr is captured, stdout only when the command left it piped.
fn run_raw(label: &str, mut cmd: Command) -> Outcome {
    cmd.env("NO_COLOR", "1").stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("attnstep starts");
    let err = child.stderr.take().expect("stderr is piped");
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(&mut { err }, &mut buf);
        buf
    });
    let out = child.stdout.take();
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut o) = out {
            let _ = std::io::Read::read_to_end(&mut o, &mut buf);
        }
        buf
    });
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Outcome {
        label: label.to_owned(),
        code: status.and_then(|s| s.code()),
        stdout: out_reader.join().unwrap(),
        stderr: reader.join().unwrap(),
    }
}

/// A scratch directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = state_dir(&format!("bad-input-{tag}"));
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Every flag that takes a number, with a command that accepts it.
const NUMERIC_FLAGS: &[(&str, &[&str])] = &[
    ("--hidden-size", &["run", "--all"]),
    ("--num-heads", &["run", "--all"]),
    ("--num-kv-heads", &["run", "--all"]),
    ("--head-dim", &["run", "--all"]),
    ("--batch", &["run", "--all"]),
    ("--steps", &["run", "--all"]),
    ("--seq-len", &["run", "--all"]),
    ("--decode", &["run", "--all"]),
    ("--rms-norm-eps", &["run", "--all"]),
    ("--rope-theta", &["run", "--all"]),
    ("--seed", &["run", "--all"]),
    ("--step", &["run", "--all"]),
    ("--stage", &["run", "--all"]),
    ("--head", &["run", "--all"]),
    ("--batch-index", &["run", "--all"]),
    ("--max-rows", &["run", "--all"]),
    ("--max-cols", &["run", "--all"]),
    ("--precision", &["run", "--all"]),
    ("--max-memory", &["run", "--all"]),
    ("--layers", &["shapes"]),
    ("--seq-len", &["shapes"]),
    ("--decode", &["shapes"]),
    ("--head", &["lesson", "1", "--all"]),
    ("--steps", &["lesson", "chunked-prefill", "--all"]),
];

const EDGE_VALUES: &[&str] = &[
    "0",
    "-1",
    "18446744073709551615",
    "9223372036854775808",
    // 2^64 - 1 and one more digit: overflowed the size parser's rounding (found by fuzzing).
    "184467440737095516159",
    "1844674407370955161.59",
    "1e9",
    "abc",
    "",
];

#[test]
fn every_numeric_flag_at_every_edge_is_answered() {
    let scratch = Scratch::new("numeric");
    for (flag, command) in NUMERIC_FLAGS {
        for value in EDGE_VALUES {
            let mut args = command.to_vec();
            args.extend([flag, value]);
            if command[0] != "shapes" {
                args.extend(["--color", "never"]);
            }
            let out = run(&args, &scratch.0);
            out.check();
            // No file or stream is involved: the answer is a result or a usage error.
            assert!(
                [0, 2].contains(&out.code()),
                "{}: status {}: {}",
                out.label,
                out.code(),
                out.stderr()
            );
            if ["abc", ""].contains(value) {
                assert_eq!(out.code(), 2, "{}: {}", out.label, out.stderr());
            }
        }
    }
}

/// Flags for the random sweep, each with the values it is tried with.
const COMBO_FLAGS: &[(&str, &[&str])] = &[
    (
        "--preset",
        &["minimind2", "minimind3", "llama-3-8b", "nope", ""],
    ),
    (
        "--hidden-size",
        &["0", "2", "8", "16", "64", "-3", "18446744073709551615"],
    ),
    ("--num-heads", &["0", "1", "2", "4", "8", "3"]),
    (
        "--num-kv-heads",
        &["0", "1", "2", "4", "3", "9223372036854775808"],
    ),
    (
        "--head-dim",
        &["0", "2", "3", "4", "8", "18446744073709551615"],
    ),
    ("--batch", &["0", "1", "2", "3", "18446744073709551615"]),
    (
        "--steps",
        &[
            "3",
            "2,1",
            "4,1,1",
            "0,1",
            "1,,1",
            "18446744073709551615,1",
            "-2",
        ],
    ),
    ("--seq-len", &["0", "1", "3", "7", "1000000", "abc"]),
    (
        "--decode",
        &["0", "1", "2", "4194304", "4194305", "18446744073709551615"],
    ),
    (
        "--attention-mask",
        &["011", "011,111", "0111", "1x1", "", "000,000"],
    ),
    ("--qk-norm", &[]),
    ("--no-qk-norm", &[]),
    ("--no-causal", &[]),
    (
        "--rms-norm-eps",
        &["0", "1e-6", "-1", "1e300", "nan", "inf"],
    ),
    (
        "--rope-theta",
        &["10000", "1e-300", "0", "-5", "inf", "1e6"],
    ),
    (
        "--seed",
        &["0", "18446744073709551615", "-1", "18446744073709551616"],
    ),
    ("--tokens", &["a b c", "\u{1b}]0;x\u{7} b c", "", "one"]),
    (
        "--stage",
        &[
            "softmax",
            "qk_norm",
            "padding_mask",
            "1",
            "0",
            "99",
            "\u{1b}[2J",
        ],
    ),
    ("--step", &["1", "2", "0", "99"]),
    ("--head", &["0", "1", "7", "18446744073709551615"]),
    ("--batch-index", &["0", "1", "5"]),
    ("--max-rows", &["0", "2", "18446744073709551615"]),
    ("--max-cols", &["0", "3", "18446744073709551615"]),
    ("--precision", &["0", "3", "18446744073709551615"]),
    ("--max-memory", &["1", "1KiB", "1e3", "abc", "-1", "2MiB"]),
    ("--theme", &["dark", "light", "sepia"]),
    ("--quiz", &[]),
];

/// Which flags each command takes (the sweep also tries a few it does not).
fn takes(command: &str, flag: &str) -> bool {
    let view = [
        "--head",
        "--batch-index",
        "--max-rows",
        "--max-cols",
        "--precision",
        "--theme",
    ];
    match command {
        "shapes" => !view.contains(&flag) && !["--max-memory", "--quiz"].contains(&flag),
        "export" => !view.contains(&flag) && !["--stage", "--step", "--quiz"].contains(&flag),
        "lesson" => !["--stage", "--step"].contains(&flag),
        _ => true,
    }
}

#[test]
fn seeded_random_flag_combinations_are_answered() {
    let scratch = Scratch::new("combos");
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(10);
    let mut statuses = [0usize; 3];
    for _ in 0..240 {
        let command = ["run", "run", "shapes", "export", "lesson"][rng.random_range(0..5)];
        let mut args: Vec<String> = vec![command.to_owned()];
        match command {
            "run" => args.extend(["--all".into(), "--color".into(), "never".into()]),
            "export" => args.extend(["-o".into(), "-".into()]),
            "lesson" => {
                args.push(["1", "padding", "kv-cache", "12"][rng.random_range(0..4)].into());
                args.extend(["--all".into(), "--color".into(), "never".into()]);
            }
            _ => {}
        }
        let mut memory_set = false;
        for _ in 0..rng.random_range(0..7) {
            let (flag, values) = COMBO_FLAGS[rng.random_range(0..COMBO_FLAGS.len())];
            // Now and then a flag the command does not take: clap must refuse it cleanly.
            if !takes(command, flag) && rng.random_range(0..4) != 0 {
                continue;
            }
            memory_set |= flag == "--max-memory";
            args.push(flag.into());
            if !values.is_empty() {
                args.push(values[rng.random_range(0..values.len())].into());
            }
        }
        if command != "shapes" && !memory_set {
            args.extend(["--max-memory".into(), SMALL_MEMORY.into()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&args, &scratch.0);
        out.check();
        statuses[out.code() as usize] += 1;
    }
    // The sweep reaches both sides: some combinations run, most are refused; none is an I/O
    // failure (nothing here touches a file).
    assert!(statuses[0] >= 10, "too few combinations ran: {statuses:?}");
    assert!(statuses[2] >= 10, "too few were refused: {statuses:?}");
    assert_eq!(statuses[1], 0, "I/O failures: {statuses:?}");
}

/// One seeded mutation of a lesson's text: an edge value, a deleted, doubled or cut line, a
/// control character, a byte that is not UTF-8, or a value of the wrong kind.
fn mutate(text: &str, rng: &mut Xoshiro256PlusPlus) -> Vec<u8> {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for _ in 0..rng.random_range(1..4) {
        let i = rng.random_range(0..lines.len());
        match rng.random_range(0..9) {
            0 => {
                lines.remove(i);
            }
            1 => {
                let l = lines[i].clone();
                lines.insert(i, l);
            }
            2 => {
                let cut = rng.random_range(0..=lines[i].len());
                let cut = (0..=cut)
                    .rev()
                    .find(|&c| lines[i].is_char_boundary(c))
                    .unwrap();
                lines[i].truncate(cut);
            }
            3 => lines[i].push_str("\u{1b}]52;c;aGk=\u{7}\u{1b}[2J"),
            4 => {
                if let Some((key, _)) = lines[i].split_once(" = ") {
                    let v = [
                        "18446744073709551615",
                        "-1",
                        "0",
                        "1e-300",
                        "\"x\"",
                        "[]",
                        "nan",
                    ][rng.random_range(0..7)];
                    lines[i] = format!("{key} = {v}");
                }
            }
            5 => {
                let key = [
                    "seq_len",
                    "batch",
                    "decode",
                    "num_heads",
                    "head_dim",
                    "steps",
                    "head",
                ][rng.random_range(0..7)];
                let v = [
                    "0",
                    "4096",
                    "4194305",
                    "1125899906842625",
                    "[1, 0]",
                    "18446744073709551615",
                ][rng.random_range(0..6)];
                let at = lines
                    .iter()
                    .position(|l| l == "[config]")
                    .map_or(0, |p| p + 1);
                lines.insert(at, format!("{key} = {v}"));
            }
            6 => lines.insert(i, "[[notes]]\ntext = \"no stage\"".into()),
            7 => lines.truncate(i),
            _ => lines[i].insert_str(0, "\u{0}\u{8}"),
        }
        if lines.is_empty() {
            lines.push(String::new());
        }
    }
    let mut bytes = lines.join("\n").into_bytes();
    if rng.random_range(0..8) == 0 {
        let at = rng.random_range(0..=bytes.len());
        bytes.insert(at, 0xff);
    }
    bytes
}

#[test]
fn seeded_mutations_of_the_bundled_lessons_are_answered() {
    let scratch = Scratch::new("lessons");
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1010);
    let mut files = Vec::new();
    for round in 0..120 {
        let b = &attnstep::lesson::BUNDLED[round % attnstep::lesson::BUNDLED.len()];
        let path = scratch.0.join(format!("m{round:03}-{}", b.file));
        fs::write(&path, mutate(b.source, &mut rng)).unwrap();
        files.push(path);
    }
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    // One process checks them all; every file that fails says so at its own path.
    let mut args = vec!["lessons", "check"];
    args.extend(names.iter().map(String::as_str));
    let out = run(&args, &scratch.0);
    out.check();
    let stderr = out.stderr();
    let refused = names.iter().filter(|n| stderr.contains(n.as_str())).count();
    let accepted = String::from_utf8_lossy(&out.stdout).lines().count();
    assert_eq!(
        refused + accepted,
        names.len(),
        "every file is answered once"
    );
    assert!(
        refused >= 30 && accepted >= 5,
        "{refused} refused, {accepted} accepted"
    );
    // A sample taken as lessons too.
    for name in names.iter().step_by(8) {
        let args = [
            "lesson",
            name,
            "--all",
            "--color",
            "never",
            "--max-memory",
            SMALL_MEMORY,
        ];
        run(&args, &scratch.0).check();
    }
}

/// Standard input and output of odd kinds.
#[derive(Clone, Copy, Debug)]
enum Stdin {
    Null,
    Closed,
    Directory,
}

fn with_stdin(cmd: &mut Command, stdin: Stdin, dir: &Path) {
    match stdin {
        Stdin::Null => {
            cmd.stdin(Stdio::null());
        }
        Stdin::Directory => {
            cmd.stdin(File::open(dir).expect("a directory opens for reading"));
        }
        Stdin::Closed => {
            use std::os::unix::process::CommandExt;
            // SAFETY: close(2) is async-signal-safe, as pre_exec requires.
            unsafe {
                cmd.pre_exec(|| {
                    libc::close(0);
                    Ok(())
                });
            }
        }
    }
}

#[test]
fn odd_standard_input_is_answered() {
    let scratch = Scratch::new("stdin");
    let commands: &[&[&str]] = &[
        &["run"],
        &["run", "--quiz"],
        &["run", "--all"],
        &["lesson", "1"],
        &["lesson", "1", "--quiz"],
        &[],
    ];
    for stdin in [Stdin::Null, Stdin::Closed, Stdin::Directory] {
        for args in commands {
            let mut cmd = command();
            cmd.args(*args)
                .env("ATTNSTEP_STATE_DIR", &scratch.0)
                .stdout(Stdio::piped());
            with_stdin(&mut cmd, stdin, &scratch.0);
            let out = run_raw(&format!("{args:?} with stdin {stdin:?}"), cmd);
            out.check();
            // Stepping commands read from a directory: refused, naming standard input.
            let steps = !args.is_empty() && !args.contains(&"--all");
            if matches!(stdin, Stdin::Directory) && steps {
                assert_eq!(out.code(), 2, "{}: {}", out.label, out.stderr());
                assert!(out.stderr().contains("standard input"), "{}", out.stderr());
            }
        }
    }
}

#[test]
fn a_full_stdout_is_an_error_naming_it() {
    let scratch = Scratch::new("full");
    let commands: &[&[&str]] = &[
        &["run", "--all"],
        &["run"],
        &["export", "-o", "-"],
        &["shapes"],
        &["shapes", "--json"],
        &["presets"],
        &["presets", "--json"],
        &["lessons"],
        &["lessons", "check"],
        &["lessons", "show", "1"],
        &["lesson", "1", "--all"],
        &["--help"],
        &["--version"],
        &["run", "--help"],
    ];
    for args in commands {
        let mut cmd = command();
        cmd.args(*args)
            .env("ATTNSTEP_STATE_DIR", &scratch.0)
            .stdin(Stdio::null())
            .stdout(File::options().write(true).open("/dev/full").unwrap());
        let out = run_raw(&format!("{args:?} >/dev/full"), cmd);
        out.check();
        assert_eq!(out.code(), 1, "{}: {}", out.label, out.stderr());
        assert!(
            out.stderr().contains("stdout"),
            "{}: {}",
            out.label,
            out.stderr()
        );
    }
}

/// A state directory that cannot hold progress: the lesson still runs (or the list still
/// prints), with a warning, and nothing hangs on a FIFO.
#[test]
fn an_unusable_state_directory_is_answered() {
    let scratch = Scratch::new("state");
    let base = &scratch.0;
    let file = base.join("a-file");
    fs::write(&file, "not a directory").unwrap();
    let read_only = base.join("read-only");
    fs::create_dir(&read_only).unwrap();
    let garbage = base.join("garbage");
    fs::create_dir(&garbage).unwrap();
    fs::write(garbage.join("progress.json"), [0xff, 0x00, 0x1b, b'[']).unwrap();
    let dir_at_file = base.join("dir-at-file");
    fs::create_dir_all(dir_at_file.join("progress.json")).unwrap();
    let crafted = base.join("crafted");
    fs::create_dir(&crafted).unwrap();
    fs::write(
        crafted.join("progress.json"),
        r#"{"format":"attnstep-progress/1","lessons":{"tour":{"step":18446744073709551615,"stage":18446744073709551615,"finished":false,"quiz":{"correct":18446744073709551615,"asked":0}}}}"#,
    )
    .unwrap();
    let newer = base.join("newer");
    fs::create_dir(&newer).unwrap();
    fs::write(
        newer.join("progress.json"),
        r#"{"format":"attnstep-progress/9","lessons":{}}"#,
    )
    .unwrap();
    let fifos = base.join("fifos");
    fs::create_dir(&fifos).unwrap();
    for name in ["progress.json", "progress.json.lock"] {
        let path =
            std::ffi::CString::new(fifos.join(name).into_os_string().into_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    }
    let states: Vec<PathBuf> = vec![
        file.clone(),
        file.join("sub"),
        PathBuf::from("/dev/null"),
        read_only.clone(),
        garbage,
        dir_at_file,
        crafted.clone(),
        newer.clone(),
        fifos,
    ];
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&read_only, fs::Permissions::from_mode(0o500)).unwrap();
    }
    // A crafted step number is shown (before a walk below replaces it) as it is, not wrapped round to the first step.
    let list = run(&["lessons"], &crafted);
    let stdout = String::from_utf8_lossy(&list.check().stdout).into_owned();
    assert!(
        stdout.contains("[stopped at step 18446744073709551616, stage 18446744073709551616]"),
        "{stdout}"
    );
    for state in &states {
        for args in [
            &["lesson", "1", "--all", "--color", "never"][..],
            &["lesson", "1", "--color", "never"],
            &["lessons"],
            &[],
        ] {
            let mut cmd = command();
            cmd.args(args)
                .env("ATTNSTEP_STATE_DIR", state)
                .stdin(Stdio::null())
                .stdout(Stdio::piped());
            let out = run_raw(&format!("{args:?} with state dir {}", state.display()), cmd);
            out.check();
        }
    }
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&read_only, fs::Permissions::from_mode(0o700)).unwrap();
    }
    // A progress file from a newer attnstep is left as it was.
    assert_eq!(
        fs::read_to_string(newer.join("progress.json")).unwrap(),
        r#"{"format":"attnstep-progress/9","lessons":{}}"#
    );
}

/// Terminal and colour variables at odd values: widths clamp, colour stays off when asked.
#[test]
fn odd_environment_variables_are_answered() {
    let scratch = Scratch::new("env");
    let vars: &[(&str, &str)] = &[
        ("COLUMNS", "18446744073709551615"),
        ("COLUMNS", "100000000000"),
        ("COLUMNS", "0"),
        ("COLUMNS", "-1"),
        ("COLUMNS", "abc"),
        ("LINES", "18446744073709551615"),
        ("TERM", "dumb"),
        ("TERM", ""),
        ("COLORFGBG", "15;0;\u{1b}[2J"),
        ("CLICOLOR_FORCE", "1"),
        ("FORCE_COLOR", "3"),
    ];
    for (key, value) in vars {
        for args in [
            &["run", "--all", "--color", "never"][..],
            &[
                "lesson", "1", "--all", "--color", "never", "--theme", "auto",
            ],
            &["shapes", "--compare"],
            &["run", "--color", "never"],
        ] {
            let out = attnstep()
                .args(args)
                .env("NO_COLOR", "1")
                .env(key, value)
                .env("ATTNSTEP_STATE_DIR", &scratch.0)
                .timeout(LIMIT)
                .output()
                .unwrap();
            let out = Outcome {
                label: format!("{args:?} with {key}={value:?}"),
                code: out.status.code(),
                stdout: out.stdout,
                stderr: out.stderr,
            };
            out.check();
            assert_eq!(out.code(), 0, "{}: {}", out.label, out.stderr());
        }
    }
}

/// Paths that are not regular files, or cannot be written: refused with a message naming
/// them, at once.
#[test]
fn odd_paths_are_answered() {
    let scratch = Scratch::new("paths");
    let fifo = scratch.0.join("fifo.toml");
    let c = std::ffi::CString::new(fifo.clone().into_os_string().into_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let dir = scratch.0.display().to_string();
    let fifo = fifo.display().to_string();
    let missing = scratch.0.join("no/such/dir/x.json").display().to_string();
    let evil = scratch
        .0
        .join("evil\u{1b}]0;x\u{7}.toml")
        .display()
        .to_string();
    let cases: &[(&[&str], i32)] = &[
        (&["lessons", "check", "/dev/zero"], 2),
        (&["lessons", "check", &fifo], 2),
        (&["lessons", "check", &dir], 2),
        (&["lessons", "check", &evil], 2),
        (&["lesson", "/dev/zero"], 2),
        (&["lesson", &fifo], 2),
        (&["lesson", &evil, "--all"], 2),
        (&["export", "-o", &fifo, "--seq-len", "2"], 2),
        (&["export", "-o", &dir, "--seq-len", "2"], 2),
        (&["export", "-o", &missing, "--seq-len", "2"], 2),
        (&["export", "-o", "/dev/full", "--seq-len", "2"], 2),
    ];
    for (args, want) in cases {
        let out = run(args, &scratch.0);
        out.check();
        assert_eq!(out.code(), *want, "{}: {}", out.label, out.stderr());
    }
}

/// clap echoes a bad argument in its message, raw when it colours the message (a terminal,
/// or CLICOLOR_FORCE): one holding a control character must come out visible instead.
#[test]
fn control_characters_in_arguments_are_not_echoed() {
    let scratch = Scratch::new("echo");
    let evil = "\u{1b}]0;owned\u{7}\u{1b}[2J\r";
    let cases: &[&[&str]] = &[
        &[evil],
        &["run", "--max-memory", evil],
        &["run", "--seq-len", evil],
        &["run", &format!("--bogus{evil}")],
        &["run", "--color", evil],
        &["shapes", "--dtype", evil],
        &["lessons", evil],
        &["run", "--stage", evil, "--all"],
        &["run", "--preset", evil, "--all"],
        &["lesson", evil],
        &["lessons", "show", evil],
    ];
    for args in cases {
        let out = attnstep()
            .args(*args)
            .env("CLICOLOR_FORCE", "1")
            .env("ATTNSTEP_STATE_DIR", &scratch.0)
            .timeout(LIMIT)
            .output()
            .unwrap();
        let label = format!("{args:?}");
        assert_eq!(out.status.code(), Some(2), "{label}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains(['\u{1b}', '\u{7}', '\r']),
            "{label}: {stderr:?}"
        );
    }
}
