//! `--weights`, `--text`, `--layer` on the command line: a checkpoint written by MiniMind's own
//! code runs through `export` and matches MiniMind's hidden states; bad combinations are refused
//! with a message and exit 2.

use serde_json::Value;

use crate::support;

const DIR: &str = "tests/fixtures/checkpoints/mm3_gqa";

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(format!("{DIR}/expected.json")).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().expect("finite"))
        .collect()
}

#[test]
fn export_of_a_checkpoint_layer_matches_minimind() {
    let want = expected();
    let text = want["text"].as_str().unwrap();
    let layer = want["layer"].as_u64().unwrap().to_string();
    let steps: Vec<String> = want["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let out = support::command()
        .args([
            "export",
            "--weights",
            DIR,
            "--text",
            text,
            "--layer",
            &layer,
        ])
        .args(["--steps", &steps.join(","), "-o", "-"])
        .output()
        .unwrap();
    support::assert_success(&out);
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["model"]["layer"], want["layer"]);
    assert_eq!(got["model"]["token_ids"], want["ids"]);
    let top: Vec<&Value> = got["model"]["top5"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t[0])
        .collect();
    let want_top: Vec<&Value> = want["top5"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["id"])
        .collect();
    assert_eq!(top, want_top);
    // The layer's input x of every call is MiniMind's input_layernorm output.
    for (i, step) in got["steps"].as_array().unwrap().iter().enumerate() {
        let x = floats(&step["tensors"]["x"]["data"]);
        let e = floats(&want["layer_inputs"][i]["data"]);
        assert_eq!(x.len(), e.len());
        let worst = x
            .iter()
            .zip(&e)
            .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
            .fold(0.0, f64::max);
        assert!(worst <= 1e-4, "call {i}: x off by {worst}");
        assert!(
            step["tensors"]["hidden_in"].is_object(),
            "call {i} records hidden_in"
        );
    }
}

#[test]
fn the_prediction_stage_shows_the_models_top_token() {
    let want = expected();
    let out = support::command()
        .args([
            "run",
            "--weights",
            DIR,
            "--text",
            want["text"].as_str().unwrap(),
        ])
        .args(["--layer", "1", "--stage", "predict", "--color", "never"])
        .output()
        .unwrap();
    support::assert_success(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    let top_id = want["top5"][0]["id"].to_string();
    let row = text
        .lines()
        .find(|l| l.trim_start().starts_with("1 "))
        .unwrap_or_else(|| panic!("no rank-1 row in\n{text}"));
    assert!(row.contains(&format!(" {top_id} ")), "{row}");
}

fn refused(args: &[&str], needle: &str) {
    let out = support::command().args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: {err}");
}

#[test]
fn bad_checkpoint_requests_are_refused_with_what_to_do() {
    refused(&["run", "--text", "the cat"], "--text needs a checkpoint");
    refused(&["run", "--weights", DIR], "--weights needs --text");
    refused(
        &[
            "run",
            "--weights",
            DIR,
            "--text",
            "the cat",
            "--hidden-size",
            "64",
        ],
        "--hidden-size cannot be used with --weights",
    );
    refused(
        &["run", "--weights", DIR, "--text", "the cat", "--layer", "9"],
        "--layer 9 is out of range: the checkpoint has 3 layer(s)",
    );
    refused(
        &[
            "run",
            "--weights",
            DIR,
            "--text",
            "the cat sat",
            "--steps",
            "1,1",
        ],
        "must cover the text's 3 tokens exactly",
    );
    refused(
        &["run", "--weights", DIR, "--text", "the cat", "--no-causal"],
        "--no-causal cannot be used with --weights",
    );
    refused(
        &[
            "run",
            "--weights",
            "tests/fixtures/no-such-checkpoint",
            "--text",
            "x",
        ],
        "no-such-checkpoint",
    );
    refused(
        &["lesson", "tour", "--weights", DIR, "--text", "the cat"],
        "a lesson sets its own configuration",
    );
}
