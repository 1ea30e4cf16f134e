//! Fuzz target: the configuration parsers. A configuration built from fuzzed values (as a
//! lesson's `[config]` or the flags would give it) must resolve or be refused, and a resolved
//! one must go through the memory estimate and the shapes report; the strings the command
//! line parses itself (`--max-memory`, `--stage`, `--steps`, `--attention-mask`) must be
//! accepted or refused with a printable message. Nothing may panic.
#![no_main]

use std::ffi::OsString;

use attnstep::commands::dry::resolve_args;
use attnstep::config::ConfigSpec;
use attnstep::memory::{self, Dtype};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

/// A count: mostly small, sometimes at an edge the checks must hold at, sometimes anything.
#[derive(Arbitrary, Debug)]
enum Num {
    Small(u8),
    Edge(u8),
    Any(usize),
}

const EDGES: [usize; 12] = [
    0,
    1,
    2,
    3,
    4096,
    4097,
    1 << 22,
    (1 << 22) + 1,
    1 << 50,
    (1 << 50) + 1,
    1 << 63,
    usize::MAX,
];

impl Num {
    fn get(&self) -> usize {
        match *self {
            Num::Small(n) => usize::from(n),
            Num::Edge(i) => EDGES[usize::from(i) % EDGES.len()],
            Num::Any(n) => n,
        }
    }
}

/// A preset: one of the real names, or any text.
#[derive(Arbitrary, Debug)]
enum PresetPick {
    Known(u8),
    Text(String),
}

#[derive(Arbitrary, Debug)]
struct Input {
    preset: Option<PresetPick>,
    hidden_size: Option<Num>,
    num_attention_heads: Option<Num>,
    num_key_value_heads: Option<Num>,
    head_dim: Option<Num>,
    batch: Option<Num>,
    steps: Option<Vec<Num>>,
    seq_len: Option<Num>,
    decode: Option<Num>,
    attention_mask: Option<Vec<String>>,
    qk_norm: Option<bool>,
    rms_norm_eps: Option<f64>,
    rope_theta: Option<f64>,
    causal: Option<bool>,
    seed: Option<u64>,
    tokens: Option<String>,
    layers: Num,
    dtype: u8,
    pick: Option<Num>,
    /// Strings for the command line's own parsers.
    max_memory: String,
    stage: String,
    steps_flag: String,
    mask_flag: String,
}

fn safe(text: &str) -> bool {
    !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
}

/// Resolves a command line; a refusal must be printable.
fn check_args(args: &[&str]) {
    let argv: Vec<OsString> = std::iter::once("attnstep")
        .chain(args.iter().copied())
        .map(OsString::from)
        .collect();
    if let Err(e) = resolve_args(&argv) {
        let msg = format!("{e:#}");
        assert!(
            safe(&msg),
            "{args:?}: message with a control character: {msg:?}"
        );
    }
}

fuzz_target!(|input: Input| {
    let names = attnstep::presets::names();
    let spec = ConfigSpec {
        preset: input.preset.as_ref().map(|p| match p {
            PresetPick::Known(i) => names[usize::from(*i) % names.len()].to_owned(),
            PresetPick::Text(t) => t.clone(),
        }),
        hidden_size: input.hidden_size.as_ref().map(Num::get),
        num_attention_heads: input.num_attention_heads.as_ref().map(Num::get),
        num_key_value_heads: input.num_key_value_heads.as_ref().map(Num::get),
        head_dim: input.head_dim.as_ref().map(Num::get),
        batch: input.batch.as_ref().map(Num::get),
        steps: input
            .steps
            .as_ref()
            .map(|s| s.iter().map(Num::get).collect()),
        seq_len: input.seq_len.as_ref().map(Num::get),
        decode: input.decode.as_ref().map(Num::get),
        attention_mask: input.attention_mask.clone(),
        qk_norm: input.qk_norm,
        rms_norm_eps: input.rms_norm_eps,
        rope_theta: input.rope_theta,
        causal: input.causal,
        seed: input.seed,
        tokens: input.tokens.clone(),
    };
    match spec.resolve() {
        Ok(cfg) => {
            let _ = memory::estimate(&cfg).total();
            let _ = memory::largest_tensor(&cfg);
            let dtypes = [Dtype::F32, Dtype::Bf16, Dtype::F16, Dtype::Fp8, Dtype::Int8];
            let dtype = dtypes[usize::from(input.dtype) % dtypes.len()];
            let layers = input.layers.get().max(1);
            let _ =
                attnstep::report::report(&cfg, layers, dtype, input.pick.as_ref().map(Num::get));
        }
        Err(e) => {
            // Both ways a refusal is worded: by key (lessons) and by flag.
            let _ = e.to_string();
            let _ = e.describe(&|k| attnstep::cli::flag(k).to_owned());
        }
    }
    check_args(&[
        "run",
        "--all",
        "--max-memory",
        &input.max_memory,
        "--stage",
        &input.stage,
    ]);
    check_args(&[
        "shapes",
        "--steps",
        &input.steps_flag,
        "--attention-mask",
        &input.mask_flag,
    ]);
});
