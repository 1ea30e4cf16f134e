//! attnstep's numeric forward against golden traces computed by MiniMind's own PyTorch code.
//!
//! Each file in `tests/fixtures/golden/` (format `attnstep-golden/1`, written by
//! `scripts/check_against_minimind.py --write-golden`) holds a configuration, the layer's
//! weights, every step's input `x`, and the tensors MiniMind's `Attention` produced under
//! attnstep's trace names. These tests feed the weights and inputs to
//! [`forward::trace_with`] and compare every tensor the golden has, and check that the files
//! still exercise what they were written for (RoPE θ and head_dim > 2, QK-norm with non-unit
//! weights and an eps that matters, padding, the cache, `is_causal` False, MHA and MQA).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use attnstep::config::{Config, ConfigSpec};
use attnstep::dims::Shape;
use attnstep::export::parse_value;
use attnstep::forward::{self, Weights};
use attnstep::numeric::{Numeric, Tensor};
use attnstep::trace::{TensorId, Trace};
use ndarray::{ArrayD, IxDyn};
use serde_json::Value;

const FORMAT: &str = "attnstep-golden/1";

/// Largest allowed |attnstep − MiniMind| / max(1, |MiniMind|).
const TOLERANCE: f64 = 1e-4;

/// The files the golden set must hold: a rename or a deletion fails the test instead of
/// silently dropping its checks.
const FILES: [&str; 7] = [
    "a_theta_gqa",
    "b_qk_norm",
    "c_padding",
    "d_cache_steps",
    "e_non_causal",
    "f_mha",
    "g_mqa",
];

/// Tensors that only rearrange others (view, transpose, repeat_kv). The generator writes them
/// for a few files only, to keep the fixtures small; every other tensor of the trace must be
/// in every file.
const LAYOUT: [&str; 9] = [
    "xq_heads",
    "xk_heads",
    "xv_heads",
    "xk_repeat",
    "xv_repeat",
    "xq_t",
    "xk_t",
    "xv_t",
    "merged",
];

/// A flat float32 tensor as the golden stores it.
struct Flat {
    shape: Vec<usize>,
    data: Vec<f32>,
}

struct GoldenStep {
    start_pos: usize,
    seq_len: usize,
    tensors: BTreeMap<String, Flat>,
}

struct Golden {
    name: String,
    path: PathBuf,
    config: Config,
    weights: BTreeMap<String, Flat>,
    steps: Vec<GoldenStep>,
}

impl Golden {
    fn weight(&self, name: &str) -> &Flat {
        self.weights
            .get(name)
            .unwrap_or_else(|| panic!("{}: no weight {name}", self.path.display()))
    }

    fn tensor(&self, step: usize, name: &str) -> &Flat {
        self.steps[step]
            .tensors
            .get(name)
            .unwrap_or_else(|| panic!("{}: step {step} has no {name}", self.path.display()))
    }
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden")
}

fn flat(v: &Value, what: &str) -> Flat {
    let shape = v["shape"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: shape is a list"))
        .iter()
        .map(|d| d.as_u64().expect("sizes are whole numbers") as usize)
        .collect::<Vec<_>>();
    let data = v["data"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: data is a list"))
        .iter()
        .map(|x| parse_value(x).unwrap_or_else(|| panic!("{what}: {x} is not a value")))
        .collect::<Vec<_>>();
    assert_eq!(
        data.len(),
        shape.iter().product::<usize>(),
        "{what}: data length"
    );
    Flat { shape, data }
}

fn named_map(v: &Value, what: &str) -> BTreeMap<String, Flat> {
    v.as_object()
        .unwrap_or_else(|| panic!("{what} is an object"))
        .iter()
        .map(|(k, t)| (k.clone(), flat(t, &format!("{what}.{k}"))))
        .collect()
}

fn load(name: &str) -> Golden {
    let path = dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let j: Value = serde_json::from_str(&text).expect("golden is JSON");
    let p = path.display();
    assert_eq!(j["format"], FORMAT, "{p}: format");
    assert_eq!(j["name"], name, "{p}: name");
    // The configuration is written in ConfigSpec's field names; unknown fields are refused, so
    // a renamed field fails here rather than falling back to a default.
    let spec: ConfigSpec =
        serde_json::from_value(j["config"].clone()).unwrap_or_else(|e| panic!("{p}: config: {e}"));
    let config = spec
        .resolve()
        .unwrap_or_else(|e| panic!("{p}: config: {e}"));
    let steps: Vec<GoldenStep> = j["steps"]
        .as_array()
        .expect("steps is a list")
        .iter()
        .enumerate()
        .map(|(i, s)| GoldenStep {
            start_pos: s["start_pos"].as_u64().expect("start_pos") as usize,
            seq_len: s["seq_len"].as_u64().expect("seq_len") as usize,
            tensors: named_map(&s["tensors"], &format!("{p} step {i}")),
        })
        .collect();
    assert_eq!(
        steps.iter().map(|s| s.seq_len).collect::<Vec<_>>(),
        config.steps,
        "{p}: steps"
    );
    Golden {
        name: name.to_owned(),
        weights: named_map(&j["weights"], &format!("{p} weights")),
        path,
        config,
        steps,
    }
}

fn goldens() -> Vec<Golden> {
    FILES.iter().map(|n| load(n)).collect()
}

fn tensor(shape: Shape, f: &Flat, what: &str) -> Tensor {
    assert_eq!(shape.sizes(), f.shape, "{what}: shape");
    let data = ArrayD::from_shape_vec(IxDyn(&f.shape), f.data.clone()).expect("sizes agree");
    Tensor::new(shape, data)
}

/// attnstep's own forward with the golden's weights and inputs.
fn run(g: &Golden) -> Trace<Tensor> {
    let c = &g.config;
    let (hidden, q, kv) = (
        c.hidden_size,
        c.num_attention_heads * c.head_dim,
        c.num_key_value_heads * c.head_dim,
    );
    let w = |n| g.weight(n);
    let weights = Weights {
        q_proj: tensor(
            attnstep::shape![(QFeatures, q), (Hidden, hidden)],
            w("q_proj"),
            "q_proj",
        ),
        k_proj: tensor(
            attnstep::shape![(KvFeatures, kv), (Hidden, hidden)],
            w("k_proj"),
            "k_proj",
        ),
        v_proj: tensor(
            attnstep::shape![(KvFeatures, kv), (Hidden, hidden)],
            w("v_proj"),
            "v_proj",
        ),
        o_proj: tensor(
            attnstep::shape![(Hidden, hidden), (QFeatures, q)],
            w("o_proj"),
            "o_proj",
        ),
        qk_norm: c.qk_norm.then(|| {
            let d = || attnstep::shape![(HeadDim, c.head_dim)];
            (
                tensor(d(), w("q_norm"), "q_norm"),
                tensor(d(), w("k_norm"), "k_norm"),
            )
        }),
    };
    let inputs = g
        .steps
        .iter()
        .map(|s| {
            let shape = attnstep::shape![(Bsz, c.batch), (SeqLen, s.seq_len), (Hidden, hidden)];
            let x = s
                .tensors
                .get("x")
                .unwrap_or_else(|| panic!("{}: no x", g.path.display()));
            tensor(shape, x, "x")
        })
        .collect();
    forward::trace_with(c, &mut Numeric::new(0), weights, inputs)
}

/// The row-major index of flat position `i` in `shape`.
fn index_of(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for (axis, &n) in shape.iter().enumerate().rev() {
        idx[axis] = i % n;
        i /= n;
    }
    idx
}

/// |a − b| / max(1, |b|), 0 for equal infinities, infinite when only one side is finite or
/// either is NaN.
fn rel_diff(a: f32, b: f32) -> f64 {
    if a.is_infinite() || b.is_infinite() {
        return if a == b { 0.0 } else { f64::INFINITY };
    }
    let d = (f64::from(a) - f64::from(b)).abs() / f64::from(b).abs().max(1.0);
    if d.is_nan() { f64::INFINITY } else { d }
}

/// Compares every tensor of the golden with attnstep's; returns the failures (file, step,
/// tensor, index, both values) and the largest difference.
fn compare(g: &Golden, trace: &Trace<Tensor>) -> (Vec<String>, f64) {
    let p = g.path.display();
    let mut failures = Vec::new();
    let mut worst = 0.0f64;
    assert_eq!(trace.steps.len(), g.steps.len(), "{p}: step count");
    for (si, (gs, ts)) in g.steps.iter().zip(&trace.steps).enumerate() {
        assert_eq!(ts.start_pos, gs.start_pos, "{p}: step {si} start_pos");
        for name in gs
            .tensors
            .keys()
            .filter(|n| TensorId::parse(n).and_then(|id| ts.tensor(id)).is_none())
        {
            failures.push(format!(
                "{p}: step {si}: attnstep records no tensor named {name}"
            ));
        }
        // In the trace's stage order, so the first difference listed is the earliest.
        for named in ts.tensors() {
            let (name, got) = (named.name(), &named.value);
            let Some(want) = gs.tensors.get(name) else {
                continue;
            };
            if got.shape.sizes() != want.shape {
                failures.push(format!(
                    "{p}: step {si}: {name} has shape {:?}, MiniMind {:?}",
                    got.shape.sizes(),
                    want.shape
                ));
                continue;
            }
            let mut bad = 0;
            for (i, (&a, &b)) in got.to_flat().iter().zip(&want.data).enumerate() {
                let d = rel_diff(a, b);
                worst = worst.max(d);
                if d > TOLERANCE {
                    bad += 1;
                    if bad <= 3 {
                        failures.push(format!(
                            "{p}: step {si}: {name}{:?}: attnstep {a}, MiniMind {b} (relative difference {d:.3e})",
                            index_of(i, &want.shape)
                        ));
                    }
                }
            }
            if bad > 3 {
                failures.push(format!(
                    "{p}: step {si}: {name}: {} more entries differ",
                    bad - 3
                ));
            }
        }
    }
    (failures, worst)
}

#[test]
fn attnstep_matches_minimind_on_every_golden() {
    let mut failures = Vec::new();
    for g in goldens() {
        let trace = run(&g);
        // The weights come out under the golden's names (q_norm, k_norm only with QK-norm).
        let names: BTreeSet<&str> = trace.weights.iter().map(|w| w.id.name()).collect();
        let golden_names: BTreeSet<&str> = g.weights.keys().map(String::as_str).collect();
        assert_eq!(names, golden_names, "{}: weight names", g.path.display());
        let (f, worst) = compare(&g, &trace);
        println!("{}: largest relative difference {worst:.3e}", g.name);
        let shown = f.len().min(20);
        failures.extend_from_slice(&f[..shown]);
        if f.len() > shown {
            failures.push(format!("{}: … {} more lines", g.name, f.len() - shown));
        }
    }
    assert!(
        failures.is_empty(),
        "attnstep differs from MiniMind:\n{}",
        failures.join("\n")
    );
}

/// Every name in a golden is one attnstep records, every tensor attnstep records is in the
/// golden unless it only rearranges others, and over all goldens every name attnstep records
/// is checked somewhere.
#[test]
fn goldens_and_traces_name_the_same_tensors() {
    let mut traced = BTreeSet::new();
    let mut covered = BTreeSet::new();
    for g in goldens() {
        let trace = run(&g);
        for (si, (gs, ts)) in g.steps.iter().zip(&trace.steps).enumerate() {
            let mine: BTreeSet<&str> = ts.tensors().map(|n| n.name()).collect();
            let theirs: BTreeSet<&str> = gs.tensors.keys().map(String::as_str).collect();
            let unknown: Vec<_> = theirs.difference(&mine).collect();
            assert!(
                unknown.is_empty(),
                "{} step {si}: golden tensors {unknown:?} are not in attnstep's trace",
                g.path.display()
            );
            let missing: Vec<_> = mine
                .difference(&theirs)
                .filter(|n| !LAYOUT.contains(n))
                .collect();
            assert!(
                missing.is_empty(),
                "{} step {si}: attnstep's {missing:?} have no golden values",
                g.path.display()
            );
            traced.extend(mine.iter().map(|s| s.to_string()));
            covered.extend(theirs.iter().map(|s| s.to_string()));
        }
    }
    let unchecked: Vec<_> = traced.difference(&covered).collect();
    assert!(
        unchecked.is_empty(),
        "no golden checks {unchecked:?}; regenerate with scripts/check_against_minimind.py --write-golden"
    );
}

/// The golden directory holds exactly the expected files.
#[test]
fn the_golden_set_is_complete() {
    let mut found: Vec<String> = std::fs::read_dir(dir())
        .expect("tests/fixtures/golden exists")
        .map(|e| {
            e.expect("readable entry")
                .file_name()
                .into_string()
                .unwrap()
        })
        .collect();
    found.sort();
    let want: Vec<String> = FILES.iter().map(|n| format!("{n}.json")).collect();
    assert_eq!(found, want);
}

/// Whether some entry lies more than 0.1 from `v`.
fn some_far_from(f: &Flat, v: f32) -> bool {
    f.data.iter().any(|&x| (x - v).abs() > 0.1)
}

/// The RoPE angle of the second frequency (pair 1) at the last position:
/// pos · θ^(−2/head_dim). Above 0.5 rad a wrong θ is far outside the tolerance.
fn second_angle(c: &Config) -> f64 {
    (c.total_len() - 1) as f64 * c.rope_theta.powf(-2.0 / c.head_dim as f64)
}

/// Each file still exercises what it was written for, judged from its own numbers.
#[test]
fn goldens_cover_their_features() {
    let gs: BTreeMap<String, Golden> = goldens().into_iter().map(|g| (g.name.clone(), g)).collect();
    for g in gs.values() {
        let c = &g.config;
        let p = g.path.display();
        assert!(
            c.head_dim > 2,
            "{p}: head_dim > 2 tells rotate_half from interleaved pairs"
        );
        assert!(
            c.total_len() > 4,
            "{p}: positions stay below 4 rad on the first pair"
        );
        if c.qk_norm {
            let (q, k) = (g.weight("q_norm"), g.weight("k_norm"));
            assert!(
                some_far_from(q, 1.0) && some_far_from(k, 1.0),
                "{p}: unit norm weights"
            );
            assert_ne!(q.data, k.data, "{p}: q_norm and k_norm are the same");
        }
    }

    let a = &gs["a_theta_gqa"].config;
    assert_eq!((a.head_dim, a.rope_theta), (8, 5e4));
    assert!(a.num_key_value_heads > 1 && a.n_rep() > 1, "a: GQA");
    assert!(!a.qk_norm);
    assert!(second_angle(a) > 0.5, "a: θ hardly matters");

    let b = &gs["b_qk_norm"];
    let bc = &b.config;
    assert_eq!(
        (bc.head_dim, bc.rope_theta, bc.rms_norm_eps),
        (16, 1e6, 1e-6)
    );
    assert!(bc.qk_norm);
    assert!(second_angle(bc) > 0.5, "b: θ hardly matters");
    // Some head vector entering q_norm has a mean square below 10·eps, so eps changes the
    // result by far more than the tolerance.
    let d = bc.head_dim;
    let tiny = b.steps.iter().any(|s| {
        s.tensors["xq_proj"].data.chunks(d).any(|v| {
            v.iter().map(|x| x * x).sum::<f32>() / (d as f32) < 10.0 * bc.rms_norm_eps as f32
        })
    });
    assert!(tiny, "b: eps never matters");

    let c = &gs["c_padding"].config;
    assert!(c.batch == 2 && c.qk_norm && c.causal);
    let rows = c.attention_mask.as_ref().expect("c: a mask");
    assert!(rows.iter().any(|r| r[0] == 0), "c: a left-padded row");
    assert!(
        rows.iter().any(|r| r.windows(2).any(|w| w == [1, 0])),
        "c: a right-padded row"
    );
    assert!(c.steps.len() > 1, "c: a step through the cache");

    let d = &gs["d_cache_steps"].config;
    assert_eq!(d.steps, vec![5, 3, 1, 1]);
    assert_eq!(d.n_rep(), 2);
    assert!(second_angle(d) > 0.5, "d: θ hardly matters");

    let e = &gs["e_non_causal"];
    assert!(!e.config.causal && e.config.qk_norm);
    assert!(e.config.steps.len() == 2 && e.config.steps[0] > 1 && e.config.steps[1] == 1);
    // The prefill's first query gives weight to later keys.
    let w = e.tensor(0, "weights");
    let kv = w.shape[3];
    assert!(
        w.data[1..kv].iter().all(|&x| x > 0.0),
        "e: weights look causal"
    );

    let f = &gs["f_mha"].config;
    assert!(f.num_attention_heads > 1 && f.n_rep() == 1);
    let g = &gs["g_mqa"].config;
    assert!(g.num_attention_heads > 1 && g.num_key_value_heads == 1);
}
