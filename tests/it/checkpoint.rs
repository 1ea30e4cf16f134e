//! Real MiniMind checkpoints: tiny random models made and run by MiniMind's own PyTorch code
//! (scripts/minimind_checkpoint.py writes tests/fixtures/checkpoints/*), loaded and run by
//! attnstep, compared number by number; and every way a checkpoint directory can be wrong.

use std::path::{Path, PathBuf};

use attnstep::checkpoint::{Checkpoint, CheckpointError, label_text};
use attnstep::forward;
use attnstep::numeric::{Numeric, Tensor};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use serde::Deserialize;

/// Relative tolerance against max(1, |expected|).
const TOL: f64 = 1e-4;

#[derive(Deserialize)]
struct Expected {
    text: String,
    ids: Vec<u32>,
    pieces: Vec<String>,
    steps: Vec<usize>,
    layer: usize,
    qk_norm: bool,
    hidden_states: Vec<Vec<Json>>,
    layer_inputs: Vec<Json>,
    attn_outputs: Vec<Json>,
    attn_residuals: Vec<Json>,
    top5: Vec<Top>,
}

#[derive(Deserialize)]
struct Json {
    shape: Vec<usize>,
    data: Vec<f64>,
}

#[derive(Deserialize)]
struct Top {
    id: u32,
    prob: f64,
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/checkpoints")
        .join(name)
}

fn expected(name: &str) -> Expected {
    let text = std::fs::read_to_string(fixture(name).join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Largest |got - want| / max(1, |want|); the shapes must agree.
fn diff(got: &Tensor, want: &Json) -> f64 {
    assert_eq!(got.shape.sizes(), want.shape, "shape");
    got.data
        .iter()
        .zip(&want.data)
        .map(|(&g, &w)| (g as f64 - w).abs() / w.abs().max(1.0))
        .fold(0.0, f64::max)
}

/// Loads a fixture, runs it, and checks everything against MiniMind's numbers; returns the
/// largest difference seen.
fn check_against_minimind(name: &str, separate_head: bool) -> f64 {
    let want = expected(name);
    let ckpt = Checkpoint::open(&fixture(name)).unwrap();
    assert_eq!(
        ckpt.style.qk_norm, want.qk_norm,
        "QK-norm read from the tensors"
    );
    assert_eq!(ckpt.style.separate_head, separate_head);

    let tokens = ckpt.tokenize(&want.text).unwrap();
    assert_eq!(tokens.ids, want.ids, "the Python tokenizers library's ids");
    let pieces: Vec<String> = want.pieces.iter().map(|p| label_text(p)).collect();
    assert_eq!(tokens.labels, pieces);

    let run = ckpt.run(&tokens.ids, &want.steps, want.layer).unwrap();
    let mut worst: f64 = 0.0;
    assert_eq!(
        run.hidden_states.len(),
        want.hidden_states.len(),
        "one entry per layer"
    );
    for (layer, (got, exp)) in run
        .hidden_states
        .iter()
        .zip(&want.hidden_states)
        .enumerate()
    {
        assert_eq!(got.len(), exp.len(), "layer {layer}: one tensor per step");
        for (step, (g, e)) in got.iter().zip(exp).enumerate() {
            let d = diff(g, e);
            assert!(
                d <= TOL,
                "{name} layer {layer} step {step}: hidden state differs by {d}"
            );
            worst = worst.max(d);
        }
    }
    for (step, (g, e)) in run.layer_inputs.iter().zip(&want.layer_inputs).enumerate() {
        let d = diff(g, e);
        assert!(d <= TOL, "{name} step {step}: layer input x differs by {d}");
        worst = worst.max(d);
    }
    assert_eq!(run.layer_inputs.len(), want.steps.len());
    let ids: Vec<u32> = run.top5.iter().map(|p| p.id).collect();
    let want_ids: Vec<u32> = want.top5.iter().map(|t| t.id).collect();
    assert_eq!(ids, want_ids, "{name}: top-5 next tokens");
    for (p, t) in run.top5.iter().zip(&want.top5) {
        assert!(
            (p.prob as f64 - t.prob).abs() <= TOL,
            "{name}: p({}) {} vs {}",
            t.id,
            p.prob,
            t.prob
        );
        assert_eq!(p.label, ckpt.label(p.id));
    }
    worst.max(check_layer_trace(
        &ckpt,
        &want,
        &run.layer_inputs,
        &run.hidden_states,
    ))
}

/// The chosen layer's attention, run through the stage engine the views use, ends in
/// MiniMind's attention output, and that output plus the residual (the previous layer's output)
/// is the sum MiniMind's block feeds its post_attention_layernorm.
fn check_layer_trace(
    ckpt: &Checkpoint,
    want: &Expected,
    inputs: &[Tensor],
    hidden: &[Vec<Tensor>],
) -> f64 {
    let labels = ckpt.tokenize(&want.text).unwrap().labels;
    let cfg = ckpt.attention_config(&want.steps, Some(labels)).unwrap();
    let weights = ckpt.layer_weights(want.layer).unwrap();
    let trace = forward::trace_with(&cfg, &mut Numeric::new(0), weights, inputs.to_vec());
    let mut worst: f64 = 0.0;
    for (s, step) in trace.steps.iter().enumerate() {
        let out = step.tensor(attnstep::trace::TensorId::Output).unwrap();
        let d = diff(out, &want.attn_outputs[s]);
        assert!(d <= TOL, "step {s}: attention output differs by {d}");
        let residual = &hidden[want.layer - 1][s];
        let sum = Tensor::new(out.shape.clone(), &out.data + &residual.data);
        let d2 = diff(&sum, &want.attn_residuals[s]);
        assert!(d2 <= TOL, "step {s}: output + residual differs by {d2}");
        worst = worst.max(d).max(d2);
    }
    worst
}

#[test]
fn minimind3_gqa_tied_matches_minimind() {
    let worst = check_against_minimind("mm3_gqa", false);
    eprintln!("mm3_gqa: worst relative difference {worst:e}");
}

#[test]
fn minimind2_untied_f16_matches_minimind() {
    let worst = check_against_minimind("mm2_untied", true);
    eprintln!("mm2_untied: worst relative difference {worst:e}");
}

#[test]
fn minimind3_moe_bf16_matches_minimind() {
    // This fixture stores the tied head a second time (equal to the embedding).
    let worst = check_against_minimind("mm3_moe", true);
    eprintln!("mm3_moe: worst relative difference {worst:e}");
}

#[test]
fn labels_mark_leading_spaces_and_unknown_ids() {
    let ckpt = Checkpoint::open(&fixture("mm2_untied")).unwrap();
    let tokens = ckpt.tokenize("the dog sat").unwrap();
    assert_eq!(tokens.labels, ["the", "␣dog", "␣sat"]);
    // The tokenizer knows 96 tokens; vocab_size is 128, so id 120 has a row but no text.
    assert_eq!(ckpt.label(120), "<id 120>");
}

#[test]
fn activation_estimate_grows_with_the_text() {
    let ckpt = Checkpoint::open(&fixture("mm3_gqa")).unwrap();
    let short = ckpt.attention_config(&[4], None).unwrap();
    let long = ckpt.attention_config(&[16, 1, 1], None).unwrap();
    let (a, b) = (ckpt.activation_bytes(&short), ckpt.activation_bytes(&long));
    // At least the hidden states of 3 layers for 18 tokens of 32 f32s each.
    assert!(b >= 3 * 18 * 32 * 4 && b > a, "{a} {b}");
}

// ---- bad input ----

/// A writable copy of a fixture.
fn copy_of(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture(name)).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    dir
}

fn open_err(dir: &Path) -> String {
    match Checkpoint::open(dir) {
        Ok(_) => panic!("{} opened", dir.display()),
        Err(e) => e.to_string(),
    }
}

/// One tensor of a safetensors file, owned so a test can change it.
struct Stored {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

/// Rewrites model.safetensors after `edit` has changed its tensors.
fn rewrite_tensors(dir: &Path, edit: impl FnOnce(&mut Vec<Stored>)) {
    let path = dir.join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let mut tensors: Vec<Stored> = SafeTensors::deserialize(&bytes)
        .unwrap()
        .tensors()
        .into_iter()
        .map(|(name, v)| Stored {
            name,
            dtype: v.dtype(),
            shape: v.shape().to_vec(),
            data: v.data().to_vec(),
        })
        .collect();
    edit(&mut tensors);
    let views = tensors.iter().map(|t| {
        (
            t.name.clone(),
            TensorView::new(t.dtype, t.shape.clone(), &t.data).unwrap(),
        )
    });
    std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
}

fn find<'a>(tensors: &'a mut [Stored], name: &str) -> &'a mut Stored {
    tensors.iter_mut().find(|t| t.name == name).unwrap()
}

fn edit_json(path: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(path, v.to_string()).unwrap();
}

#[test]
fn a_missing_tensor_is_named() {
    let dir = copy_of("mm3_gqa");
    rewrite_tensors(dir.path(), |t| {
        t.retain(|t| t.name != "model.layers.1.self_attn.k_norm.weight")
    });
    let e = open_err(dir.path());
    assert!(
        e.contains("lacks 1 tensor(s)") && e.contains("model.layers.1.self_attn.k_norm.weight"),
        "{e}"
    );
}

#[test]
fn an_extra_tensor_is_named() {
    let dir = copy_of("mm2_untied");
    rewrite_tensors(dir.path(), |t| {
        let norm = find(t, "model.norm.weight");
        let bias = Stored {
            name: "model.layers.0.mlp.bias".into(),
            dtype: norm.dtype,
            shape: norm.shape.clone(),
            data: norm.data.clone(),
        };
        t.push(bias);
    });
    let e = open_err(dir.path());
    assert!(
        e.contains("has 1 tensor(s)") && e.contains("model.layers.0.mlp.bias"),
        "{e}"
    );
}

#[test]
fn a_wrong_shape_names_tensor_expected_and_found() {
    let dir = copy_of("mm3_gqa");
    // [48, 32] stored as [32, 48]: the same bytes under a transposed shape.
    rewrite_tensors(dir.path(), |t| {
        find(t, "model.layers.0.self_attn.q_proj.weight").shape = vec![32, 48]
    });
    let e = open_err(dir.path());
    assert!(
        e.contains("model.layers.0.self_attn.q_proj.weight has shape [32, 48]")
            && e.contains("implies [48, 32]")
            && e.contains("num_attention_heads·head_dim"),
        "{e}"
    );
}

#[test]
fn layers_must_agree_on_qk_norm() {
    let dir = copy_of("mm3_gqa");
    rewrite_tensors(dir.path(), |t| {
        t.retain(|t| !(t.name.starts_with("model.layers.2.self_attn.") && t.name.contains("_norm")))
    });
    let e = open_err(dir.path());
    assert!(e.contains("in layers 0, 1 but not in layers 2"), "{e}");
}

#[test]
fn a_tied_head_must_equal_the_embedding() {
    let dir = copy_of("mm3_moe");
    // Flip the sign of the first element (bf16, little-endian: bit 7 of byte 1).
    rewrite_tensors(dir.path(), |t| find(t, "lm_head.weight").data[1] ^= 0x80);
    let e = open_err(dir.path());
    assert!(
        e.contains("lm_head.weight differs") && e.contains("\"tie_word_embeddings\": false"),
        "{e}"
    );
}

#[test]
fn yarn_rope_scaling_is_refused_with_how_to_turn_it_off() {
    let dir = copy_of("mm3_gqa");
    edit_json(&dir.path().join("config.json"), |v| {
        v["inference_rope_scaling"] = true.into()
    });
    let e = open_err(dir.path());
    assert!(
        e.contains("YaRN")
            && e.contains("plain RoPE")
            && e.contains("\"inference_rope_scaling\": false"),
        "{e}"
    );
}

#[test]
fn an_activation_other_than_silu_is_refused() {
    let dir = copy_of("mm2_untied");
    edit_json(&dir.path().join("config.json"), |v| {
        v["hidden_act"] = "gelu".into()
    });
    let e = open_err(dir.path());
    assert!(e.contains("hidden_act is \"gelu\""), "{e}");
}

#[test]
fn a_pytorch_file_points_to_minimind_converter() {
    let dir = tempfile::tempdir().unwrap();
    let pth = dir.path().join("full_sft_768.pth");
    std::fs::write(&pth, b"PK\x03\x04 not really a pickle").unwrap();
    let e = open_err(&pth);
    assert!(
        e.contains("full_sft_768.pth is a PyTorch file") && e.contains("scripts/convert_model.py"),
        "{e}"
    );
    let other = dir.path().join("weights.txt");
    std::fs::write(&other, b"?").unwrap();
    assert!(open_err(&other).contains("is not a directory"));
    assert!(open_err(&dir.path().join("nowhere")).contains("no such file or directory"));
}

#[test]
fn missing_files_are_named_with_a_hint() {
    let dir = copy_of("mm3_gqa");
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    std::fs::write(dir.path().join("pytorch_model.bin"), b"x").unwrap();
    let e = open_err(dir.path());
    assert!(
        e.contains("has no model.safetensors") && e.contains("pytorch_model.bin"),
        "{e}"
    );
    let dir = copy_of("mm3_gqa");
    std::fs::remove_file(dir.path().join("tokenizer.json")).unwrap();
    assert!(open_err(dir.path()).contains("has no tokenizer.json"));
}

#[test]
fn config_json_must_be_a_small_regular_file() {
    let dir = copy_of("mm3_gqa");
    let config = dir.path().join("config.json");
    std::fs::remove_file(&config).unwrap();
    std::fs::create_dir(&config).unwrap();
    let e = open_err(dir.path());
    assert!(e.contains("config.json is not a regular file"), "{e}");
    std::fs::remove_dir(&config).unwrap();
    std::fs::write(&config, vec![b' '; (1 << 20) + 1]).unwrap();
    let e = open_err(dir.path());
    assert!(
        e.contains("1048577 bytes") && e.contains("config.json"),
        "{e}"
    );
}

#[test]
fn a_tokenizer_bigger_than_the_vocabulary_is_refused() {
    let dir = copy_of("mm3_gqa");
    edit_json(&dir.path().join("tokenizer.json"), |v| {
        let vocab = v["model"]["vocab"].as_object_mut().unwrap();
        for i in 0..10 {
            vocab.insert(format!("extra{i}"), (96 + i).into());
        }
    });
    let e = open_err(dir.path());
    assert!(
        e.contains("knows 106 tokens (highest id 105)") && e.contains("vocab_size 100"),
        "{e}"
    );
}

#[test]
fn text_longer_than_the_positions_is_refused() {
    let ckpt = Checkpoint::open(&fixture("mm3_gqa")).unwrap();
    let text = "the cat sat on the mat and ".repeat(5); // 35 words; max_position_embeddings 32
    let e = ckpt.tokenize(&text).unwrap_err();
    assert!(
        matches!(
            e,
            CheckpointError::TextTooLong {
                tokens: 35,
                max: 32
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("max_position_embeddings is 32"));
    assert!(
        ckpt.tokenize("   ")
            .unwrap_err()
            .to_string()
            .contains("no tokens")
    );
}

#[test]
fn a_layer_out_of_range_is_refused() {
    let ckpt = Checkpoint::open(&fixture("mm3_gqa")).unwrap();
    let ids = ckpt.tokenize("the cat sat").unwrap().ids;
    let e = ckpt.run(&ids, &[3], 3).unwrap_err().to_string();
    assert!(
        e.contains("layer 3 does not exist") && e.contains("0 to 2"),
        "{e}"
    );
    assert!(ckpt.layer_weights(7).is_err());
    let e = ckpt.run(&ids, &[2, 2], 0).unwrap_err().to_string();
    assert!(
        e.contains("the steps (2+2) cover 4 tokens but the text is 3 tokens"),
        "{e}"
    );
}

#[test]
fn an_unsupported_dtype_is_named() {
    let dir = copy_of("mm3_gqa");
    // F32 → I32 keeps the byte count, so only the dtype is wrong.
    rewrite_tensors(dir.path(), |t| {
        find(t, "model.norm.weight").dtype = Dtype::I32
    });
    let e = open_err(dir.path());
    assert!(
        e.contains("model.norm.weight is stored as I32") && e.contains("BF16"),
        "{e}"
    );
}

#[test]
fn ids_outside_the_vocabulary_are_refused() {
    let ckpt = Checkpoint::open(&fixture("mm3_gqa")).unwrap();
    let e = ckpt.run(&[4, 100], &[2], 0).unwrap_err().to_string();
    assert!(
        e.contains("token id 100") && e.contains("vocab_size 100"),
        "{e}"
    );
}
