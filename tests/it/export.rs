//! The attnstep-trace/1 export: every required name, the right shapes, non-finite values as
//! strings, and numbers that round-trip exactly.

use attnstep::config::ConfigSpec;
use attnstep::export::parse_value;
use attnstep::forward;
use attnstep::numeric::Numeric;
use serde_json::Value;

use crate::support::attnstep;

fn export(args: &[&str]) -> Value {
    let out = attnstep()
        .arg("export")
        .args(args)
        .args(["-o", "-"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).expect("valid JSON")
}

const ALWAYS: [&str; 25] = [
    "x",
    "xq_proj",
    "xk_proj",
    "xv_proj",
    "xq_heads",
    "xk_heads",
    "xv_heads",
    "cos",
    "sin",
    "xq_rope",
    "xk_rope",
    "xk_cache",
    "xv_cache",
    "xk_repeat",
    "xv_repeat",
    "xq_t",
    "xk_t",
    "xv_t",
    "scores",
    "causal_mask",
    "scores_masked",
    "weights",
    "attn_out",
    "merged",
    "output",
];

fn check_tensor(name: &str, t: &Value) {
    let shape: Vec<usize> = t["shape"]
        .as_array()
        .unwrap_or_else(|| panic!("{name}.shape"))
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let dims = t["dims"].as_array().unwrap();
    assert_eq!(dims.len(), shape.len(), "{name}: one dim name per axis");
    let data = t["data"].as_array().unwrap();
    assert_eq!(
        data.len(),
        shape.iter().product::<usize>(),
        "{name}: data is flat"
    );
    for v in data {
        assert!(!v.is_null(), "{name}: no nulls");
        assert!(
            parse_value(v).is_some(),
            "{name}: {v} is a number or inf/-inf/nan"
        );
    }
}

#[test]
fn minimind3_with_padding_has_every_name() {
    let j = export(&[
        "--preset",
        "minimind3",
        "--hidden-size",
        "48",
        "--steps",
        "3,1,1",
        "--batch",
        "2",
        "--attention-mask",
        "01111,11111",
    ]);
    assert_eq!(j["format"], "attnstep-trace/1");
    let c = &j["config"];
    assert_eq!(c["hidden_size"], 48);
    assert_eq!(c["num_attention_heads"], 8);
    assert_eq!(c["num_key_value_heads"], 4);
    assert_eq!(
        c["head_dim"], 6,
        "hidden 48 / 8 heads: the preset's head_dim 96 no longer applies"
    );
    assert_eq!(c["batch"], 2);
    assert_eq!(c["qk_norm"], true);
    assert_eq!(c["rms_norm_eps"], 1e-6);
    assert_eq!(c["rope_theta"], 1e6);
    assert_eq!(c["causal"], true);
    assert_eq!(c["seed"], 7);
    let w = j["weights"].as_object().unwrap();
    for name in ["q_proj", "k_proj", "v_proj", "o_proj", "q_norm", "k_norm"] {
        check_tensor(name, &w[name]);
    }
    assert_eq!(w["q_proj"]["shape"], serde_json::json!([48, 48]));
    assert_eq!(w["k_proj"]["shape"], serde_json::json!([24, 48]));
    assert!(
        w["q_norm"]["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v == 1.0)
    );

    let steps = j["steps"].as_array().unwrap();
    let kinds: Vec<_> = steps.iter().map(|s| s["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["prefill", "decode", "decode"]);
    let starts: Vec<_> = steps
        .iter()
        .map(|s| s["start_pos"].as_u64().unwrap())
        .collect();
    assert_eq!(starts, [0, 3, 4]);
    for s in steps {
        let t = s["tensors"].as_object().unwrap();
        for name in ALWAYS
            .iter()
            .chain(&["xq_norm", "xk_norm", "attention_mask", "padding_mask"])
        {
            check_tensor(name, &t[*name]);
        }
    }
    // -inf is written as a string; the padding bias as -1e9.
    let cm = steps[0]["tensors"]["causal_mask"]["data"]
        .as_array()
        .unwrap();
    assert_eq!(cm[1], "-inf");
    let pad = steps[2]["tensors"]["padding_mask"]["data"]
        .as_array()
        .unwrap();
    assert_eq!(pad[0].as_f64(), Some(-1e9));
    assert_eq!(
        steps[2]["tensors"]["padding_mask"]["dims"],
        serde_json::json!(["bsz", "1", "1", "kv_len"])
    );
}

#[test]
fn mha_without_norm_or_mask_has_only_the_required_names() {
    let j = export(&[
        "--hidden-size",
        "8",
        "--num-heads",
        "2",
        "--num-kv-heads",
        "2",
        "--steps",
        "4,2",
    ]);
    let w = j["weights"].as_object().unwrap();
    assert!(!w.contains_key("q_norm") && !w.contains_key("k_norm"));
    let steps = j["steps"].as_array().unwrap();
    assert_eq!(steps[1]["kind"], "chunk");
    for s in steps {
        let t = s["tensors"].as_object().unwrap();
        for name in ALWAYS {
            check_tensor(name, &t[name]);
        }
        for absent in ["xq_norm", "xk_norm", "attention_mask", "padding_mask"] {
            assert!(!t.contains_key(absent), "{absent} only when enabled");
        }
    }
    assert_eq!(
        steps[1]["tensors"]["scores"]["dims"],
        serde_json::json!(["bsz", "n_heads", "seq_len", "kv_len"])
    );
    assert_eq!(
        steps[1]["tensors"]["scores"]["shape"],
        serde_json::json!([1, 2, 2, 6])
    );
}

#[test]
fn exported_numbers_round_trip_exactly() {
    let j = export(&["--steps", "3,1", "--seed", "11"]);
    let cfg = ConfigSpec {
        steps: Some(vec![3, 1]),
        seed: Some(11),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    let trace = forward::trace(&cfg, &mut Numeric::new(11));
    for (s, step) in trace.steps.iter().enumerate() {
        for n in step.tensors() {
            let data = j["steps"][s]["tensors"][n.name()]["data"]
                .as_array()
                .unwrap();
            for (v, want) in data.iter().zip(n.value.data.iter()) {
                let got = parse_value(v).unwrap();
                assert!(
                    got == *want || (got.is_nan() && want.is_nan()),
                    "{}: {got} != {want}",
                    n.name()
                );
            }
        }
    }
}

#[test]
fn export_writes_a_file() {
    let dir = std::env::temp_dir().join(format!("attnstep-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.json");
    attnstep()
        .args(["export", "--seq-len", "2", "-o"])
        .arg(&path)
        .assert()
        .success()
        .stdout(predicates::str::is_empty());
    let j: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(j["format"], "attnstep-trace/1");
    attnstep()
        .args(["export", "--seq-len", "2", "-o"])
        .arg(dir.join("no/such/dir/t.json"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("does not exist"));
}

// ---------------------------------------------------------------------------------------------
// `-o FILE`: usage errors for bad paths, and the file replaced atomically (issue 10, items 7, 12).

fn scratch(tag: &str) -> std::path::PathBuf {
    let dir = crate::support::state_dir(tag);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_bad_output_path_is_a_usage_error_that_names_it() {
    let dir = scratch("export-bad-path");
    let missing = dir.join("no/such/dir/trace.json");
    let cases = [
        (missing.clone(), "the directory"),
        (dir.clone(), "it is a directory"),
    ];
    for (path, why) in cases {
        let out = attnstep()
            .args(["export", "-o", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", path.display());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with(&format!("attnstep: error: -o {}: {why}", path.display())),
            "{err}"
        );
    }
    #[cfg(unix)]
    {
        let fifo = dir.join("fifo.json");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        attnstep()
            .args(["export", "-o", fifo.to_str().unwrap()])
            .timeout(std::time::Duration::from_secs(30))
            .assert()
            .code(2)
            .stderr(predicates::str::contains("it is a FIFO (named pipe)"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_output_file_is_replaced_whole_or_not_at_all() {
    let dir = scratch("export-atomic");
    let file = dir.join("trace.json");
    std::fs::write(&file, "old contents").unwrap();
    // A refused run leaves the old file as it was.
    attnstep()
        .args(["export", "--head-dim", "7", "-o", file.to_str().unwrap()])
        .assert()
        .code(2);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "old contents");
    attnstep()
        .args(["export", "--seq-len", "2", "-o", file.to_str().unwrap()])
        .assert()
        .success();
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(v["format"], "attnstep-trace/1");
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(left.len(), 1, "no temporary file is left beside it");
    let _ = std::fs::remove_dir_all(&dir);
}
