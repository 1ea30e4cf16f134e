//! The fuzz targets (`fuzz/`, run with cargo-fuzz) in small: a few hundred proptest cases of
//! each, in-process, so `cargo test` catches a panic in the lesson parser, the configuration
//! parsers or the command line's path to the memory guard without a nightly toolchain. The
//! committed fuzz seeds (and any crash input found) are replayed here too.

use std::ffi::OsString;
use std::path::Path;

use attnstep::commands::dry::resolve_args;
use attnstep::config::ConfigSpec;
use attnstep::lesson::BUNDLED;
use attnstep::lesson::format::parse;
use attnstep::lesson::source::Source;
use attnstep::memory::{self, Dtype};
use proptest::prelude::*;

use crate::support::manifest_dir;

/// Newlines and tabs are layout; any other control character would reach the terminal.
fn safe(text: &str) -> bool {
    !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
}

/// The lesson target's check: a lesson, or a located, printable error.
fn check_lesson(bytes: &[u8]) -> Result<(), String> {
    match Source::from_bytes("fuzz.toml", bytes).and_then(parse) {
        Ok(lesson) => {
            let texts = [
                Some(&lesson.title),
                Some(&lesson.summary),
                lesson.covers.as_ref(),
            ];
            match texts.into_iter().flatten().find(|t| !safe(t)) {
                Some(t) => Err(format!("lesson text with a control character: {t:?}")),
                None => Ok(()),
            }
        }
        Err(e) if !e.0.starts_with("fuzz.toml:") => Err(format!("unlocated error: {}", e.0)),
        Err(e) if !safe(&e.0) => Err(format!("message with a control character: {:?}", e.0)),
        Err(_) => Ok(()),
    }
}

/// The command-line target's check: resolves, or is refused with a printable message.
fn check_argv(args: &[OsString]) -> Result<(), String> {
    let argv: Vec<OsString> = std::iter::once(OsString::from("attnstep"))
        .chain(args.iter().cloned())
        .collect();
    match resolve_args(&argv) {
        Err(e) if !safe(&format!("{e:#}")) => {
            Err(format!("{args:?}: message with a control character: {e:#}"))
        }
        _ => Ok(()),
    }
}

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

/// A bundled lesson with a few bytes replaced, inserted or removed.
fn mutated_lesson() -> impl Strategy<Value = Vec<u8>> {
    let edit = (any::<prop::sample::Index>(), 0u8..3, any::<u8>());
    (0..BUNDLED.len(), prop::collection::vec(edit, 1..6)).prop_map(|(i, edits)| {
        let mut bytes = BUNDLED[i].source.as_bytes().to_vec();
        for (at, kind, byte) in edits {
            let at = at.index(bytes.len() + 1);
            match kind {
                0 if at < bytes.len() => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                _ if at < bytes.len() => {
                    bytes.remove(at);
                }
                _ => {}
            }
        }
        bytes
    })
}

/// Lesson text around values the checks must refuse or survive.
fn odd_lesson() -> impl Strategy<Value = Vec<u8>> {
    let key = prop::sample::select(vec![
        "seq_len",
        "batch",
        "decode",
        "hidden_size",
        "num_heads",
        "num_kv_heads",
        "head_dim",
        "rope_theta",
        "rms_norm_eps",
        "steps",
        "attention_mask",
        "tokens",
        "seed",
    ]);
    let value = prop::sample::select(vec![
        "0",
        "-1",
        "18446744073709551615",
        "9223372036854775808",
        "1e-300",
        "nan",
        "inf",
        "2.5",
        "\"x\"",
        "[]",
        "[0]",
        "[4096, 1]",
        "[\"01\", \"1\"]",
        "\"\\u001b]0;x\\u0007\"",
        "{}",
        "true",
    ]);
    (key, value).prop_map(|(k, v)| {
        format!("format_version = 1\ntitle = \"T\"\nsummary = \"S\"\n[config]\n{k} = {v}\n")
            .into_bytes()
    })
}

/// A count: small, at an edge the checks must hold at, or anything.
fn count() -> impl Strategy<Value = usize> {
    prop_oneof![
        4 => 0usize..70,
        2 => prop::sample::select(vec![
            4096,
            4097,
            1 << 22,
            (1 << 22) + 1,
            1 << 50,
            (1 << 50) + 1,
            1 << 63,
            usize::MAX,
        ]),
        1 => any::<usize>(),
    ]
}

/// Strings for the command line's own parsers: numbers, units, stage names and junk.
fn flag_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,22}",
        "-?[0-9]{0,3}(\\.[0-9]{0,2})?(e[0-9]{1,3})?[KMGTPE]?i?B?",
        "[a-z_]{0,12}",
        "[01,]{0,12}",
        "[0-9,]{0,12}",
        ".{0,8}",
        "[\\x00-\\x1f\\x7f\\u{9b}]{1,4}",
    ]
}

fn spec() -> impl Strategy<Value = ConfigSpec> {
    let heads = (
        prop::option::of(count()),
        prop::option::of(count()),
        prop::option::of(count()),
        prop::option::of(count()),
        prop::option::of(count()),
    );
    let steps = (
        prop::option::of(prop::collection::vec(count(), 0..5)),
        prop::option::of(count()),
        prop::option::of(count()),
        prop::option::of(prop::collection::vec("[012 ]{0,10}", 0..3)),
    );
    let rest = (
        prop::option::of(prop::sample::select(vec![
            "minimind2",
            "minimind3",
            "llama-3-8b",
            "nope",
        ])),
        prop::option::of(any::<bool>()),
        prop::option::of(prop_oneof![
            any::<f64>(),
            Just(1e-300),
            Just(1e300),
            Just(-0.0)
        ]),
        prop::option::of(prop_oneof![
            any::<f64>(),
            Just(1e-300),
            Just(1e300),
            Just(1e6)
        ]),
        prop::option::of(any::<bool>()),
        prop::option::of(".{0,20}"),
    );
    (heads, steps, rest).prop_map(
        |(
            (hidden_size, num_attention_heads, num_key_value_heads, head_dim, batch),
            (steps, seq_len, decode, attention_mask),
            (preset, qk_norm, rms_norm_eps, rope_theta, causal, tokens),
        )| ConfigSpec {
            preset: preset.map(str::to_owned),
            hidden_size,
            num_attention_heads,
            num_key_value_heads,
            head_dim,
            batch,
            steps,
            seq_len,
            decode,
            attention_mask,
            qk_norm,
            rms_norm_eps,
            rope_theta,
            causal,
            seed: None,
            tokens,
        },
    )
}

/// Words the command line knows, values at the edges, and junk: argv for the whole path.
fn argv() -> impl Strategy<Value = Vec<OsString>> {
    let command = prop::sample::select(vec![
        "run", "export", "shapes", "lesson", "lessons", "presets", "check", "show",
    ]);
    let flag = prop::sample::select(vec![
        "--all",
        "--quiz",
        "--preset",
        "--hidden-size",
        "--num-heads",
        "--num-kv-heads",
        "--head-dim",
        "--batch",
        "--steps",
        "--seq-len",
        "--decode",
        "--attention-mask",
        "--qk-norm",
        "--no-qk-norm",
        "--rms-norm-eps",
        "--rope-theta",
        "--no-causal",
        "--seed",
        "--tokens",
        "--stage",
        "--step",
        "--head",
        "--batch-index",
        "--max-rows",
        "--max-cols",
        "--precision",
        "--color",
        "--theme",
        "--max-memory",
        "--layers",
        "--dtype",
        "--compare",
        "--bytes",
        "--json",
        "-o",
        "--restart",
    ]);
    let value = prop::sample::select(vec![
        "0",
        "1",
        "2",
        "4",
        "8",
        "-1",
        "18446744073709551615",
        "9223372036854775808",
        "1e9",
        "abc",
        "",
        "5,1,1",
        "0111,1111",
        "minimind2",
        "minimind3",
        "softmax",
        "qk_norm",
        "99",
        "1PiB",
        "never",
        "light",
        "fp8",
        "-",
        "gqa",
        "12",
        "1e-300",
    ]);
    let word = prop_oneof![
        3 => flag.prop_map(OsString::from),
        3 => value.prop_map(OsString::from),
        1 => flag_text().prop_map(OsString::from),
    ];
    (command, prop::collection::vec(word, 0..8)).prop_map(|(c, mut words)| {
        words.insert(0, OsString::from(c));
        words
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn lesson_bytes_never_panic(bytes in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        mutated_lesson(),
        odd_lesson(),
    ]) {
        prop_assert_eq!(check_lesson(&bytes), Ok(()));
    }

    #[test]
    fn configurations_resolve_or_are_refused(
        spec in spec(),
        layers in 1usize..200,
        pick in prop::option::of(0usize..10),
    ) {
        match spec.resolve() {
            Ok(cfg) => {
                let total = memory::estimate(&cfg).total();
                let (_, _, largest) = memory::largest_tensor(&cfg);
                prop_assert!(total >= largest, "the total {} is below its largest tensor {}", total, largest);
                let _ = attnstep::report::report(&cfg, layers, Dtype::Bf16, pick);
            }
            Err(e) => {
                let _ = e.describe(&|k| attnstep::cli::flag(k).to_owned());
            }
        }
    }

    #[test]
    fn flag_strings_are_parsed_or_refused(
        size in flag_text(), stage in flag_text(), steps in flag_text(), mask in flag_text(),
    ) {
        prop_assert_eq!(check_argv(&os(&["run", "--all", "--max-memory", &size, "--stage", &stage])), Ok(()));
        prop_assert_eq!(check_argv(&os(&["shapes", "--steps", &steps, "--attention-mask", &mask])), Ok(()));
    }

    #[test]
    fn command_lines_resolve_or_are_refused(args in argv()) {
        prop_assert_eq!(check_argv(&args), Ok(()));
    }
}

/// Every file in one of the fuzz corpora.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = manifest_dir().join("fuzz/corpus").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 20,
        "{}: only {} seeds",
        dir.display(),
        files.len()
    );
    files
        .into_iter()
        .map(|p| (name(&p), std::fs::read(&p).unwrap()))
        .collect()
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn the_lesson_seeds_and_crashes_replay() {
    for (file, bytes) in corpus("lesson") {
        assert_eq!(check_lesson(&bytes), Ok(()), "{file}");
    }
}

#[test]
fn the_command_line_seeds_and_crashes_replay() {
    use std::os::unix::ffi::OsStringExt;
    for (file, bytes) in corpus("cli") {
        let args: Vec<OsString> = bytes
            .split(|&b| b == 0)
            .map(|a| OsString::from_vec(a.to_vec()))
            .collect();
        assert_eq!(check_argv(&args), Ok(()), "{file}");
    }
}
