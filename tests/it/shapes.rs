//! `attnstep shapes`, `attnstep presets`, the shape errors and the memory guard.
//!
//! Byte counts are checked against arithmetic written out in the tests from the published model
//! dimensions, never against the program's own output.

use std::time::{Duration, Instant};

use attnstep::backend::Shapes;
use attnstep::config::{Config, ConfigSpec};
use attnstep::dims::Shape;
use attnstep::memory::{self, Dtype};
use attnstep::numeric::{Numeric, RowSummary, Tensor};
use attnstep::render::report::{TextOptions, write_text};
use attnstep::report;
use attnstep::trace::{StageId, TensorId};
use predicates::prelude::*;
use proptest::prelude::*;
use serde_json::Value;

use crate::support::attnstep;

fn json_of(args: &[&str]) -> Value {
    let out = attnstep().args(args).arg("--json").assert().success();
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

fn tensor<'a>(step: &'a Value, stage: &str, name: &str) -> &'a Value {
    step["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == stage)
        .unwrap_or_else(|| panic!("no stage {stage}"))["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no tensor {name}"))
}

// ---- agreement with the numeric trace -------------------------------------------------------

fn small_config() -> impl Strategy<Value = Config> {
    (
        (1usize..=6, 1usize..=4, 1usize..=3), // n_kv_heads, n_rep, head_dim / 2
        proptest::option::of(1usize..=24),    // explicit hidden size (head_dim then explicit)
        1usize..=3,                           // batch
        proptest::collection::vec(1usize..=4, 1..=4),
        any::<bool>(), // qk_norm
        any::<bool>(), // causal
        any::<bool>(), // padding mask
        any::<u64>(),
    )
        .prop_flat_map(
            |((kv, rep, half), hidden, batch, steps, qk, causal, masked, seed)| {
                let total: usize = steps.iter().sum();
                let mask = proptest::collection::vec(
                    proptest::collection::vec(prop_oneof![Just('0'), Just('1')], total),
                    batch,
                );
                (
                    Just((
                        kv, rep, half, hidden, batch, steps, qk, causal, masked, seed,
                    )),
                    mask,
                )
            },
        )
        .prop_map(
            |((kv, rep, half, hidden, batch, steps, qk, causal, masked, seed), mask)| {
                let heads = kv * rep;
                let head_dim = 2 * half;
                ConfigSpec {
                    hidden_size: Some(hidden.unwrap_or(heads * head_dim)),
                    num_attention_heads: Some(heads),
                    num_key_value_heads: Some(kv),
                    head_dim: hidden.map(|_| head_dim),
                    batch: Some(batch),
                    steps: Some(steps),
                    attention_mask: masked
                        .then(|| mask.into_iter().map(|r| r.into_iter().collect()).collect()),
                    qk_norm: Some(qk),
                    causal: Some(causal),
                    seed: Some(seed),
                    ..Default::default()
                }
                .resolve()
                .expect("the strategy only builds valid configurations")
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every stage of every step of `shapes` (each picked in turn, so steps inside a group are
    /// checked too) names the same tensors, with the same named shapes, as the numeric trace,
    /// and its sizes are the numeric data's element counts.
    #[test]
    fn shapes_agree_with_the_numeric_trace(cfg in small_config(), layers in 1usize..=4) {
        let numeric = attnstep::forward::trace(&cfg, &mut Numeric::new(cfg.seed));
        for (i, step) in numeric.steps.iter().enumerate() {
            let report = report::report(&cfg, layers, Dtype::F16, Some(i));
            prop_assert_eq!(report.step_count, numeric.steps.len());
            prop_assert_eq!(report.weights.len(), numeric.weights.len());
            for (row, w) in report.weights.iter().zip(&numeric.weights) {
                prop_assert_eq!(row.name, w.id.name());
                prop_assert_eq!(&row.shape.sizes(), &w.value.data.shape().to_vec());
                prop_assert_eq!(&row.shape, &w.value.shape);
            }
            let srow = report.steps.iter().find(|s| s.index == i + 1).expect("the picked step");
            prop_assert_eq!(srow.kind, step.kind);
            prop_assert_eq!((srow.start_pos, srow.seq_len), (step.start_pos, step.seq_len));
            let ids: Vec<StageId> = srow.stages.iter().map(|s| s.stage).collect();
            let want: Vec<StageId> = step.stages.iter().map(|s| s.id).collect();
            prop_assert_eq!(ids, want);
            for (grow, stage) in srow.stages.iter().zip(&step.stages) {
                prop_assert_eq!(grow.tensors.len(), stage.tensors.len());
                for (t, n) in grow.tensors.iter().zip(&stage.tensors) {
                    prop_assert_eq!(t.name, n.name());
                    prop_assert_eq!(&t.shape.sizes(), &n.value.data.shape().to_vec());
                    prop_assert_eq!(&t.shape, &n.value.shape);
                    prop_assert_eq!(t.numel, n.value.data.len() as u128);
                    prop_assert_eq!(t.bytes, 2 * n.value.data.len() as u128);
                }
                let via: Vec<_> = grow.via.iter().map(|v| (v.label, v.shape.clone())).collect();
                prop_assert_eq!(via, stage.via.clone());
            }
        }
    }
}

// ---- byte counts worked out by hand ---------------------------------------------------------

#[test]
fn llama_3_8b_at_8k_in_bf16() {
    let r = json_of(&[
        "shapes",
        "--preset",
        "llama-3-8b",
        "--seq-len",
        "8192",
        "--dtype",
        "bf16",
    ]);
    assert_eq!(r["format"], "attnstep-shapes/2");
    assert_eq!(r["layers"], 32, "layers default to the preset's");
    let kv = &r["kv_cache"];
    // 2 (k, v) · 8 KV heads · 128 · 2 bytes = 4096 bytes per token per layer.
    assert_eq!(kv["bytes_per_token_per_layer"], 4096);
    // × 8192 tokens = 32 MiB per layer; × 32 layers = 1 GiB.
    assert_eq!(kv["bytes_per_layer"], 32u64 * 8192 * 128);
    assert_eq!(kv["bytes_all_layers"], 1u64 << 30);
    // As MHA (32 KV heads) the cache is 4 GiB, as MQA 128 MiB.
    let cmp = r["compare"].as_array().unwrap();
    let row = |v: &str| cmp.iter().find(|c| c["variant"] == v).unwrap();
    assert_eq!(row("MHA")["bytes_all_layers"], 4u64 << 30);
    assert_eq!(row("GQA")["bytes_all_layers"], 1u64 << 30);
    assert_eq!(row("GQA")["this_config"], true);
    assert_eq!(row("GQA")["saving_vs_mha"], 4.0);
    assert_eq!(row("MQA")["bytes_all_layers"], 128u64 << 20);
    assert_eq!(row("MQA")["saving_vs_mha"], 32.0);
    // xk after repeat_kv: [bsz=1, kv_len=8192, n_heads=32, head_dim=128], 64 MiB in bf16.
    let step = &r["steps"][0];
    let xk = tensor(step, "repeat_kv", "xk_repeat");
    assert_eq!(xk["shape"], serde_json::json!([1, 8192, 32, 128]));
    assert_eq!(
        xk["dims"],
        serde_json::json!(["bsz", "kv_len", "n_heads", "head_dim"])
    );
    assert_eq!(xk["bytes"], 8192u64 * 32 * 128 * 2);
    // scores: 32 heads × 8192 × 8192 × 2 bytes = 4 GiB per layer.
    assert_eq!(r["scores"]["bytes"], 4u64 << 30);
    assert_eq!(r["scores"]["bytes_f32"], 8u64 << 30);
    assert_eq!(r["scores"]["fused_attention"], true);
    // Weights: q and o 4096², k and v 1024 × 4096, 2 bytes each.
    assert_eq!(
        r["weights_bytes_per_layer"],
        (2 * 4096u64 * 4096 + 2 * 1024 * 4096) * 2
    );
}

#[test]
fn llama_3_70b_at_128k() {
    let r = json_of(&[
        "shapes",
        "--preset",
        "llama-3-70b",
        "--seq-len",
        "131072",
        "--layers",
        "80",
    ]);
    assert_eq!(r["dtype"]["name"], "bf16");
    let kv = &r["kv_cache"];
    // 2 · 8 · 128 · 2 B = 4 KiB per token per layer; × 131072 tokens × 80 layers = 40 GiB.
    assert_eq!(kv["bytes_per_token_per_layer"], 4096);
    assert_eq!(kv["bytes_all_layers"], 4096u64 * 131072 * 80);
    assert_eq!(kv["bytes_all_layers"], 40u64 << 30);
    // scores: 64 heads × 131072² × 2 B = 2^6 · 2^34 · 2 = 2 TiB per layer.
    assert_eq!(r["scores"]["numel"], 64u64 * 131072 * 131072);
    assert_eq!(r["scores"]["bytes"], 2u64 << 40);
    // Past the 8192-token context of the published config: said in a note.
    let notes = r["notes"].as_array().unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n.as_str().unwrap().contains("context of 8192"))
    );
}

#[test]
fn qwen_in_f16_and_fp8_and_a_batch() {
    // Qwen2.5-7B: 2 · 4 KV heads · 128 · 2 B = 2048 B per token per layer;
    // × 32768 tokens × 28 layers = 1.75 GiB; batch 2 doubles it; fp8 halves it.
    let r = json_of(&[
        "shapes",
        "--preset",
        "qwen2.5-7b",
        "--seq-len",
        "32768",
        "--dtype",
        "f16",
    ]);
    assert_eq!(r["kv_cache"]["bytes_per_token_per_layer"], 2048);
    assert_eq!(r["kv_cache"]["bytes_all_layers"], 2048u64 * 32768 * 28);
    let r = json_of(&[
        "shapes",
        "--preset",
        "qwen2.5-7b",
        "--seq-len",
        "32768",
        "--dtype",
        "fp8",
        "--batch",
        "2",
    ]);
    assert_eq!(r["kv_cache"]["bytes_all_layers"], 1024u64 * 32768 * 28 * 2);
    // 28 query heads, 4 KV heads: MHA would be 7 times larger.
    let mha = &r["compare"][0];
    assert_eq!(mha["num_key_value_heads"], 28);
    assert_eq!(r["compare"][1]["saving_vs_mha"], 7.0);
}

#[test]
fn the_engineers_question_in_one_command() {
    // "What shape is xk after repeat_kv in Llama-3-8B at 8k context, and how big is the KV
    // cache in bf16 vs MHA?"
    attnstep()
        .args([
            "shapes",
            "--preset",
            "llama-3-8b",
            "--seq-len",
            "8192",
            "--stage",
            "repeat_kv",
            "--compare",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "xk_repeat  [bsz=1, kv_len=8192, n_heads=32, head_dim=128]",
        ))
        .stdout(predicate::str::contains("n_kv_heads=8, n_rep=4"))
        .stdout(predicate::str::is_match(r"all layers\s+× 32 layers\s+1 GiB").unwrap())
        .stdout(predicate::str::is_match(r"MHA\s+32\s+16 KiB\s+4 GiB\s+1×").unwrap())
        .stdout(predicate::str::is_match(r"GQA \(this\)\s+8\s+4 KiB\s+1 GiB\s+4× smaller").unwrap())
        .stdout(predicate::str::is_match(r"MQA\s+1\s+512 B\s+128 MiB\s+32× smaller").unwrap())
        // 32 heads × 16384² × 2 B = 16 GiB; 32 × 32768² × 2 B = 64 GiB.
        .stdout(predicate::str::contains(
            "at 2× this length 16 GiB, at 4× 64 GiB",
        ))
        .stdout(predicate::str::contains("xq_proj").not());
}

#[test]
fn the_header_says_when_flags_change_a_preset() {
    attnstep()
        .args([
            "shapes",
            "--preset",
            "llama-3-8b",
            "--num-kv-heads",
            "32",
            "--seq-len",
            "4",
        ])
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "llama-3-8b with values changed by flags",
        ))
        .stdout(predicate::str::contains("32 KV heads (MHA, n_rep 1)"));
    attnstep()
        .args(["shapes", "--preset", "mistral-7b", "--seq-len", "4"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "mistral-7b (mistralai/Mistral-7B-v0.1 config.json)",
        ))
        .stdout(predicate::str::contains("sliding-window"));
}

#[test]
fn exact_bytes_on_request() {
    attnstep()
        .args([
            "shapes",
            "--preset",
            "llama-3-8b",
            "--seq-len",
            "8192",
            "--bytes",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("1 GiB (1073741824 B)"))
        .stdout(predicate::str::contains("4 GiB (4294967296 B)"));
}

#[test]
fn decode_steps_through_the_cache() {
    // Prefill 3, then two decode calls: the scores grow along kv_len only.
    let r = json_of(&["shapes", "--steps", "3", "--decode", "2", "--dtype", "f32"]);
    let steps = r["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 3);
    let kinds: Vec<&str> = steps.iter().map(|s| s["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["prefill", "decode", "decode"]);
    // Defaults: 4 heads, 2 KV heads, head_dim 8, batch 1.
    assert_eq!(
        tensor(&steps[2], "scores", "scores")["shape"],
        serde_json::json!([1, 4, 1, 5])
    );
    assert_eq!(
        tensor(&steps[2], "kv_cache", "xk_cache")["shape"],
        serde_json::json!([1, 5, 2, 8])
    );
    assert_eq!(steps[1]["fused_attention"], false);
    // KV cache in f32 after 5 tokens: 2 · 2 · 8 · 4 B = 128 B per token, 640 B in all.
    assert_eq!(r["kv_cache"]["bytes_all_layers"], 640);
    assert_eq!(r["layers"], 1);
}

#[test]
fn text_layout() {
    let out = attnstep()
        .args([
            "shapes",
            "--hidden-size",
            "16",
            "--num-heads",
            "4",
            "--num-kv-heads",
            "2",
            "--steps",
            "3",
            "--decode",
            "1",
            "--dtype",
            "f32",
            "--compare",
        ])
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        text.lines().all(|l| l == l.trim_end()),
        "no trailing spaces"
    );
    insta::assert_snapshot!(text);
}

// ---- size never costs memory or time -------------------------------------------------------

#[test]
fn a_billion_tokens_costs_nothing() {
    let cfg = ConfigSpec {
        preset: Some("llama-3-70b".into()),
        seq_len: Some(1_000_000_000),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    let start = Instant::now();
    let r = report::report(&cfg, 80, Dtype::Bf16, None);
    let mut text = Vec::new();
    write_text(&mut text, &r, &TextOptions::default()).unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );
    // 64 · 10^9 · 10^9 elements: past u64, exact in u128.
    assert_eq!(r.scores.numel, 64 * 1_000_000_000u128 * 1_000_000_000);
    assert_eq!(r.kv_cache.bytes_all_layers, 4096 * 1_000_000_000u128 * 80);
    // The shapes trace is the same size at any length: it holds shapes, not data.
    let small = attnstep::forward::trace(
        &ConfigSpec {
            seq_len: Some(2),
            ..cfg_spec("llama-3-70b")
        }
        .resolve()
        .unwrap(),
        &mut Shapes,
    );
    let big = attnstep::forward::trace(&cfg, &mut Shapes);
    let count = |t: &attnstep::trace::Trace<attnstep::dims::Shape>| {
        t.steps
            .iter()
            .flat_map(|s| s.tensors())
            .map(|n| n.value.rank())
            .sum::<usize>()
    };
    assert_eq!(count(&small), count(&big));
}

fn cfg_spec(preset: &str) -> ConfigSpec {
    ConfigSpec {
        preset: Some(preset.into()),
        ..Default::default()
    }
}

#[test]
fn sizes_beyond_u64_are_reported_not_overflowed() {
    attnstep()
        .args([
            "shapes",
            "--preset",
            "llama-3-70b",
            "--seq-len",
            "4000000000000",
            "--batch",
            "1000000",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("EiB"));
}

// ---- presets --------------------------------------------------------------------------------

#[test]
fn presets_lists_every_model_with_its_attention() {
    attnstep()
        .arg("presets")
        .assert()
        .success()
        .stdout(
            predicate::str::is_match(r"llama-3-70b\s+GQA\s+8192\s+64\s+8\s+8\s+128\s+80").unwrap(),
        )
        .stdout(predicate::str::is_match(r"gpt2\s+MHA\s+768\s+12\s+12\s+1\s+64\s+12").unwrap())
        .stdout(
            predicate::str::is_match(r"qwen2.5-7b\s+GQA\s+3584\s+28\s+4\s+7\s+128\s+28").unwrap(),
        )
        .stdout(predicate::str::contains("learned positions"));
    let list: Value = serde_json::from_slice(
        &attnstep()
            .args(["presets", "--json"])
            .assert()
            .success()
            .get_output()
            .stdout,
    )
    .unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "minimind2",
            "minimind3",
            "gpt2",
            "llama-2-7b",
            "llama-3-8b",
            "llama-3-70b",
            "mistral-7b",
            "qwen2.5-7b"
        ]
    );
}

#[test]
fn presets_drive_numeric_runs_within_the_guard() {
    attnstep()
        .args([
            "run",
            "--preset",
            "gpt2",
            "--seq-len",
            "2",
            "--stage",
            "repeat_kv",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("xk_repeat"))
        // GPT-2 is MHA: n_rep is 1, so repeat_kv returns its input (no 5-D expand).
        .stdout(predicate::str::contains(
            "[bsz=1, kv_len=2, n_kv_heads=12, head_dim=64]  (same shape)",
        ))
        .stdout(predicate::str::contains("n_rep=1, head_dim").not());
}

// ---- shape errors ---------------------------------------------------------------------------

fn fails_with(args: &[&str], needles: &[&str]) {
    let mut assert = attnstep().args(args).assert().code(2);
    for n in needles {
        assert = assert.stderr(predicate::str::contains(*n));
    }
    assert.stderr(predicate::str::contains("panicked").not());
}

#[test]
fn view_error_names_the_line_and_the_numbers() {
    for cmd in ["shapes", "run"] {
        fails_with(
            &[cmd, "--hidden-size", "500", "--num-heads", "8"],
            &[
                "xq.view(bsz, seq_len, 8, 500 / 8) cannot work",
                "500 / 8 = 62.5",
                "8 heads × 62 = 496",
                "8 heads × 63 = 504",
                "--head-dim",
            ],
        );
    }
}

#[test]
fn repeat_kv_error_names_the_line_and_the_numbers() {
    fails_with(
        &[
            "shapes",
            "--hidden-size",
            "96",
            "--num-heads",
            "12",
            "--num-kv-heads",
            "5",
        ],
        &[
            "num_attention_heads (12) must be divisible by num_key_value_heads (5)",
            "repeat_kv needs num_attention_heads (12) to be a multiple of num_key_value_heads (5)",
            "12 // 5 = 2 would give 10 key/value heads for 12 query heads",
            "--num-kv-heads 1, 2, 3, 4, 6 or 12",
        ],
    );
    // The same through a preset whose KV heads were overridden.
    fails_with(
        &["shapes", "--preset", "llama-3-8b", "--num-kv-heads", "3"],
        &["num_attention_heads (32) must be divisible by num_key_value_heads (3)"],
    );
}

#[test]
fn odd_head_dim_and_zero_sizes() {
    fails_with(
        &[
            "shapes",
            "--num-heads",
            "2",
            "--num-kv-heads",
            "1",
            "--head-dim",
            "7",
        ],
        &[
            "head_dim (7) must be even",
            "2 × (head_dim // 2) = 6 columns",
            "apply_rotary_pos_emb",
        ],
    );
    fails_with(
        &["shapes", "--num-kv-heads", "0"],
        &["num_key_value_heads must be at least 1", "divides by zero"],
    );
    fails_with(
        &["shapes", "--layers", "0"],
        &["--layers must be at least 1"],
    );
    fails_with(
        &["shapes", "--preset", "llama-3-8b", "--step", "2"],
        &["--step 2 is out of range"],
    );
    fails_with(
        &["shapes", "--preset", "llama-4"],
        &["unknown preset 'llama-4'", "llama-3-70b"],
    );
}

#[test]
fn absurd_sizes_are_refused_not_panicked_on() {
    fails_with(
        &["shapes", "--steps", "18446744073709551615,1"],
        &["too large"],
    );
    fails_with(
        &[
            "shapes",
            "--num-heads",
            "4",
            "--num-kv-heads",
            "2",
            "--head-dim",
            "9223372036854775806",
        ],
        &["num_attention_heads × head_dim", "too large"],
    );
}

// ---- the memory guard ---------------------------------------------------------------------

#[test]
fn diff_of_two_saturated_estimates_is_refused_not_panicked_on() {
    // Each run's estimate saturates at u128::MAX bytes; their sum once overflowed (exit 101).
    fails_with(
        &[
            "diff",
            "--batch",
            "1099511627776",
            "--seq-len",
            "1099511627776",
            "--hidden-size",
            "4096",
            "--num-heads",
            "2048",
            "--num-kv-heads",
            "2048",
            "--head-dim",
            "2",
            "--",
            "--num-kv-heads",
            "1024",
        ],
        &["more than", "--max-memory"],
    );
}

#[test]
fn guard_refuses_a_model_scale_numeric_run() {
    for cmd in [
        &["run", "--preset", "llama-3-70b", "--seq-len", "131072"][..],
        &[
            "export",
            "--preset",
            "llama-3-8b",
            "--seq-len",
            "8192",
            "-o",
            "-",
        ][..],
    ] {
        attnstep()
            .args(cmd)
            .assert()
            .code(2)
            .stdout(predicate::str::is_empty())
            .stderr(predicate::str::contains(
                "over the --max-memory limit of 2 GiB",
            ))
            .stderr(predicate::str::contains("use `attnstep shapes`"));
    }
}

#[test]
fn guard_names_the_tensor_that_does_not_fit() {
    // scores of a 131072-token prefill with 64 heads: 64 · 2^17 · 2^17 · 4 B = 2^42 B = 4 TiB.
    attnstep()
        .args(["run", "--preset", "llama-3-70b", "--seq-len", "131072"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "the largest tensor, scores [bsz=1, n_heads=64, seq_len=131072, kv_len=131072], \
             alone takes 4 TiB in f32",
        ));
}

#[test]
fn guard_limit_is_exact() {
    // hidden 8, 2 heads, 1 KV head (head_dim 4), 2 tokens, f32, each buffer counted once:
    // weights q 8·8 + k 4·8 + v 4·8 + o 8·8 = 192 elements; x 16, xq/xk/xv_proj 16+8+8,
    // cos/sin 8+8, xq/xk_rope 16+8, xk/xv_repeat 16+16, scores 8, causal_mask 4,
    // scores_masked 8, weights 8, attn_out 16, merged 16 (a copy of the transposed output),
    // output 16 = 196 elements (split heads, the cache and the transposes share those
    // buffers): (192 + 196) · 4 = 1552 B. Row summaries (56 B each): scores, masked scores and
    // weights 2 heads · 2 rows, the mask 2 rows = 14 · 56 = 784 B, and the largest list again
    // while it is copied, 4 · 56 = 224 B. In all 2560 B.
    let base = [
        "export",
        "--hidden-size",
        "8",
        "--num-heads",
        "2",
        "--num-kv-heads",
        "1",
        "--seq-len",
        "2",
        "-o",
        "-",
    ];
    attnstep()
        .args(base)
        .args(["--max-memory", "2559"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("about 2.5 KiB (2560 bytes)"));
    attnstep()
        .args(base)
        .args(["--max-memory", "2560"])
        .assert()
        .success();
}

#[test]
fn guard_refuses_absurd_sizes_with_a_message() {
    // The total overflowed and wrapped, letting the run through to a panic in ndarray.
    let absurd = [
        "--batch",
        "5892709912434995655",
        "--seq-len",
        "9223372036854775808",
        "--hidden-size",
        "1",
        "--num-heads",
        "1",
        "--num-kv-heads",
        "1",
        "--head-dim",
        "2",
    ];
    for cmd in [&["run", "--all"][..], &["export", "-o", "-"][..]] {
        let args: Vec<&str> = cmd.iter().chain(&absurd).copied().collect();
        fails_with(
            &args,
            &["the total length is too large", "use shorter steps"],
        );
    }
    // The longest run the configuration accepts (2^50 tokens) is refused by the guard with
    // sizes printed in scientific form, not wrapped.
    fails_with(
        &["run", "--steps", "1125899906842624", "--max-memory", "1"],
        &[
            "bytes), over the --max-memory limit of 1 B",
            "kv_len=1125899906842624], alone takes",
        ],
    );
}

#[test]
fn guard_refuses_a_million_decode_calls() {
    // Σ over a million calls of a cache growing by one token: far over 2 GiB. The estimate is
    // closed-form (its cost is measured in the report, not asserted here).
    fails_with(
        &["run", "--seq-len", "1", "--decode", "1000000"],
        &["over the --max-memory limit of 2 GiB", "kv_len=1000001,"],
    );
}

/// What the guard should estimate for `cfg`, counted over every call of its full numeric trace:
/// each buffer once (a tensor is counted when its data's address range lies outside every
/// buffer the trace showed before it), each row-summary list once, the whole pages of the
/// zeros softmax leaves unwritten after each row's trailing -inf (a run of t floats holds
/// max(0, t - 1024) floats of whole 4 KiB pages on average), the largest row-summary list
/// again for its copy, and the baseline.
fn brute_force_estimate(cfg: &Config) -> memory::Estimate {
    let trace = attnstep::forward::trace(cfg, &mut Numeric::new(cfg.seed));
    let mut buffers: Vec<(usize, usize)> = Vec::new();
    let mut lists: Vec<usize> = Vec::new();
    let mut fresh = |t: &Tensor| {
        let start = t.data.as_ptr() as usize;
        let end = start + 4 * t.data.len();
        let inside = buffers.iter().any(|&(s, e)| s <= start && end <= e);
        buffers.push((start, end));
        if inside { 0 } else { t.data.len() as u128 }
    };
    let mut floats: u128 = trace.weights.iter().map(|w| fresh(&w.value)).sum();
    let (mut rows, mut largest_rows, mut untouched) = (0u128, 0u128, 0u128);
    for step in &trace.steps {
        for n in step.tensors() {
            let own = fresh(&n.value);
            floats += own;
            if let Some(list) = &n.value.rows
                && !lists.contains(&(list.as_ptr() as usize))
            {
                lists.push(list.as_ptr() as usize);
                rows += list.len() as u128;
                largest_rows = largest_rows.max(list.len() as u128);
            }
            if n.id == TensorId::Weights && own > 0 {
                let scores = step.tensor(TensorId::ScoresMasked).unwrap();
                let last = scores.shape.last().size;
                for row in scores.data.as_slice().unwrap().chunks(last) {
                    let tail = row
                        .iter()
                        .rev()
                        .take_while(|v| **v == f32::NEG_INFINITY)
                        .count();
                    untouched += (tail as u128).saturating_sub(1024);
                }
            }
        }
    }
    let summary = std::mem::size_of::<RowSummary>() as u128;
    memory::Estimate {
        tensor_bytes: floats * 4,
        untouched_bytes: untouched * 4,
        summary_bytes: rows * summary,
        transient_bytes: largest_rows * summary,
        baseline_bytes: memory::BASELINE_BYTES,
    }
}

#[test]
fn every_slip_shares_buffers_as_the_probe_says() {
    // Slips change layouts (a view without its transpose, a tiled repeat_kv, a softmax over
    // transposed scores), so what a call shares; the probe must see it as the full run does.
    for bug in attnstep::bugs::Bug::ALL {
        for (heads, kv_heads, batch, mask) in [(4, 2, 1, false), (2, 2, 2, true), (1, 1, 1, true)] {
            let mut cfg = ConfigSpec {
                hidden_size: Some(8),
                num_attention_heads: Some(heads),
                num_key_value_heads: Some(kv_heads),
                head_dim: Some(4),
                batch: Some(batch),
                steps: Some(vec![3, 1, 1, 2, 2, 1]),
                attention_mask: mask.then(|| vec!["0111111111".into(); batch]),
                ..Default::default()
            }
            .resolve()
            .expect("valid");
            cfg.bug = Some(bug);
            if attnstep::bugs::shape_error(&cfg).is_some() {
                continue; // refused before any trace: values not repeated over 2 KV heads
            }
            assert_eq!(
                memory::estimate(&cfg),
                brute_force_estimate(&cfg),
                "{bug:?}, {heads} heads, {kv_heads} KV heads, batch {batch}, mask {mask}"
            );
        }
    }
}

fn many_steps_config() -> impl Strategy<Value = Config> {
    (
        small_config(),
        proptest::collection::vec((1usize..=5, 1usize..=12), 0..=4), // (seq_len, repeats)
        0usize..=40,                                                 // decode calls
        proptest::option::of(0usize..=80), // the one padded column, if any
    )
        .prop_map(|(cfg, chunks, decode, zero)| {
            let mut steps = cfg.steps.clone();
            for (seq_len, n) in chunks {
                steps.extend(std::iter::repeat_n(seq_len, n));
            }
            let total = steps.iter().sum::<usize>() + decode;
            // With a mask: ones, but for one column (maybe past the end, so none).
            let mask = cfg.attention_mask.as_ref().map(|rows| {
                let row: String = (0..total)
                    .map(|c| if Some(c) == zero { '0' } else { '1' })
                    .collect();
                vec![row; rows.len()]
            });
            ConfigSpec {
                hidden_size: Some(cfg.hidden_size),
                num_attention_heads: Some(cfg.num_attention_heads),
                num_key_value_heads: Some(cfg.num_key_value_heads),
                head_dim: Some(cfg.head_dim),
                batch: Some(cfg.batch),
                steps: Some(steps),
                decode: Some(decode),
                attention_mask: mask,
                qk_norm: Some(cfg.qk_norm),
                causal: Some(cfg.causal),
                ..Default::default()
            }
            .resolve()
            .expect("valid")
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// The guard's closed form (fed by a five-call probe of the engine) equals the brute-force
    /// count over every call of the full numeric trace, and its largest tensor is the
    /// brute-force one (the first recorded on a tie).
    #[test]
    fn closed_form_estimate_equals_the_brute_force_sum(cfg in many_steps_config()) {
        prop_assert_eq!(memory::estimate(&cfg), brute_force_estimate(&cfg));
        let trace = attnstep::forward::trace(&cfg, &mut Shapes);
        let brute = trace
            .steps
            .iter()
            .flat_map(|s| s.tensors())
            .min_by_key(|n| std::cmp::Reverse(n.value.numel()))
            .unwrap();
        let (name, shape, bytes) = memory::largest_tensor(&cfg);
        prop_assert_eq!(name, brute.name());
        prop_assert_eq!(&shape, &brute.value);
        prop_assert_eq!(bytes, brute.value.numel() * 4);
    }

    /// Grouping leaves out only calls inside a group, and every shown call and group agrees
    /// with the full trace and MiniMind's fused-path rule worked out call by call.
    #[test]
    fn grouped_report_agrees_with_every_call(cfg in many_steps_config()) {
        let trace = attnstep::forward::trace(&cfg, &mut Shapes);
        let r = report::report(&cfg, 1, Dtype::F32, None);
        prop_assert_eq!(r.step_count, trace.steps.len());
        let fused = |i: usize| {
            let s = &trace.steps[i];
            s.seq_len > 1
                && (!cfg.causal || i == 0)
                && cfg.attention_mask.as_ref().is_none_or(|rows| {
                    rows.iter().all(|row| row[..s.kv_len()].iter().all(|&b| b == 1))
                })
        };
        let mut covered = vec![false; trace.steps.len()];
        for row in &r.steps {
            let step = &trace.steps[row.index - 1];
            prop_assert_eq!((row.start_pos, row.seq_len), (step.start_pos, step.seq_len));
            prop_assert_eq!(row.fused_attention, fused(row.index - 1));
            let shapes: Vec<&Shape> = row.stages.iter().flat_map(|s| &s.tensors).map(|t| &t.shape).collect();
            let want: Vec<&Shape> = step.tensors().map(|n| &n.value).collect();
            prop_assert_eq!(shapes, want);
            covered[row.index - 1] = true;
        }
        for g in &r.groups {
            prop_assert!(g.count >= report::GROUP_MIN);
            prop_assert_eq!(g.count, g.last - g.first + 1);
            for (j, s) in trace.steps[g.first - 1..g.last].iter().enumerate() {
                prop_assert_eq!(s.seq_len, g.seq_len);
                prop_assert_eq!(fused(g.first - 1 + j), g.fused_attention);
                prop_assert_eq!(s.kv_len(), g.kv_len_first + j * g.seq_len);
            }
            covered[g.first - 1..g.last].fill(true);
            prop_assert_eq!(g.kv_len_last, trace.steps[g.last - 1].kv_len());
        }
        prop_assert!(covered.iter().all(|&c| c), "every call is shown or in a group");
        // The largest score matrix is that of the full trace.
        let scores = trace
            .steps
            .iter()
            .map(|s| s.stage(StageId::Scores).unwrap().tensors[0].value.numel())
            .max()
            .unwrap();
        prop_assert_eq!(r.scores.numel, scores);
    }
}

// ---- MiniMind's fused path, clause by clause ------------------------------------------------

fn fused_flags(args: &[&str]) -> Vec<bool> {
    let mut all = vec!["shapes"];
    all.extend_from_slice(args);
    json_of(&all)["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["fused_attention"].as_bool().unwrap())
        .collect()
}

#[test]
fn fused_without_the_causal_mask_even_with_a_cache() {
    // not is_causal: the cache no longer matters.
    assert_eq!(
        fused_flags(&["--no-causal", "--steps", "4,2"]),
        [true, true]
    );
}

#[test]
fn fused_with_a_cache_only_when_not_causal() {
    // is_causal and past_key_value is not None in the second call.
    assert_eq!(fused_flags(&["--steps", "4,2"]), [true, false]);
}

#[test]
fn fused_with_a_mask_of_all_ones() {
    // torch.all(attention_mask == 1): a mask of ones is as good as none.
    assert_eq!(
        fused_flags(&["--steps", "4", "--attention-mask", "1111"]),
        [true]
    );
}

#[test]
fn never_fused_for_one_token() {
    // seq_len > 1 fails for a decode call, causal or not.
    assert_eq!(
        fused_flags(&["--no-causal", "--steps", "4", "--decode", "1"]),
        [true, false]
    );
    assert_eq!(fused_flags(&["--no-causal", "--steps", "1"]), [false]);
}

#[test]
fn never_fused_with_a_padding_zero_in_view() {
    assert_eq!(
        fused_flags(&["--steps", "4", "--attention-mask", "0111"]),
        [false]
    );
    // The second call sees the 0 in column 5; the first call's four columns are all ones.
    assert_eq!(
        fused_flags(&[
            "--no-causal",
            "--steps",
            "4,2",
            "--attention-mask",
            "111101"
        ]),
        [true, false]
    );
}

// ---- shapes at any step count -------------------------------------------------------------

#[test]
fn a_million_decode_calls_print_as_a_group() {
    let args = [
        "shapes",
        "--preset",
        "minimind2",
        "--seq-len",
        "4",
        "--decode",
        "1000000",
    ];
    let out = attnstep().args(args).assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.lines().count() < 200, "{} lines", text.lines().count());
    // Prefill 4, then calls 2 to 1000001 with kv_len 5 to 1000004.
    assert!(text.contains(
        "steps 2 to 1000001: 1000000 decode calls with the same shapes but for \
         kv_len = past_len + 1,\n  from 5 to 1000004;"
    ));
    assert!(
        text.contains(
            "step 1000001/1000001 · decode · seq_len 1 · past_len 1000003 · kv_len 1000004"
        )
    );

    let json = attnstep().args(args).arg("--json").assert().success();
    let bytes = &json.get_output().stdout;
    assert!(bytes.len() < 1 << 20, "{} bytes of JSON", bytes.len());
    let r: Value = serde_json::from_slice(bytes).unwrap();
    assert_eq!(r["step_count"], 1_000_001);
    assert_eq!(
        r["config"]["steps"],
        serde_json::json!([{"seq_len": 4, "count": 1}, {"seq_len": 1, "count": 1_000_000}])
    );
    let shown: Vec<u64> = r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["index"].as_u64().unwrap())
        .collect();
    assert_eq!(shown, [1, 2, 1_000_001]);
    let g = &r["groups"][0];
    assert_eq!(
        (
            &g["first"],
            &g["last"],
            &g["count"],
            &g["kv_len_first"],
            &g["kv_len_last"]
        ),
        (
            &Value::from(2),
            &Value::from(1_000_001),
            &Value::from(1_000_000),
            &Value::from(5),
            &Value::from(1_000_004)
        )
    );
    // The largest score matrix is the last call's: [1, 8, 1, 1000004].
    assert_eq!(r["scores"]["step"], 1_000_001);
    assert_eq!(
        r["scores"]["shape"],
        serde_json::json!([1, 8, 1, 1_000_004])
    );
}

#[test]
fn any_call_inside_a_group_is_shown_exactly() {
    // Call 500000: past_len 4 + 499998 decode tokens = 500002, kv_len 500003.
    attnstep()
        .args([
            "shapes",
            "--preset",
            "minimind2",
            "--seq-len",
            "4",
            "--decode",
            "1000000",
            "--step",
            "500000",
            "--stage",
            "kv_cache",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "step 500000/1000001 · decode · seq_len 1 · past_len 500002 · kv_len 500003",
        ))
        .stdout(predicate::str::contains(
            "xk_cache  [bsz=1, kv_len=500003, n_kv_heads=2, head_dim=64]",
        ))
        .stdout(predicate::str::contains("steps 2 to").not());
}
