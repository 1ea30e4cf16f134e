//! The forward pass against independent expectations: a case worked out by hand, and
//! properties over many random configurations (design.md, "Semantics to match").

use attnstep::config::{Config, ConfigSpec};
use attnstep::dims::Shape;
use attnstep::forward::{self, Weights};
use attnstep::numeric::{Data, Numeric, Tensor};
use attnstep::trace::{Step, TensorId, Trace};
use ndarray::{Array2, ArrayD, Axis, IxDyn, s};
use proptest::prelude::*;

fn tensor(shape: Shape, data: Vec<f32>) -> Tensor {
    let sizes = shape.sizes();
    Tensor::new(shape, ArrayD::from_shape_vec(IxDyn(&sizes), data).unwrap())
}

fn identity(shape: Shape) -> Tensor {
    let n = shape.dim(0).size;
    let eye = Array2::<f32>::eye(n).into_dyn();
    Tensor::new(shape, eye)
}

fn at<'a>(step: &'a Step<Tensor>, name: &str) -> &'a Data {
    &step
        .tensor(TensorId::parse(name).expect("a tensor name"))
        .unwrap_or_else(|| panic!("{name} recorded"))
        .data
}

fn close(a: f32, b: f64, tol: f64) -> bool {
    ((a as f64) - b).abs() <= tol
}

/// hidden 4, 2 heads of head_dim 2 (MHA), 3 tokens, identity projections, so q = k = v = x
/// per head. With head_dim 2, RoPE has one frequency (theta^0 = 1): position p rotates each
/// head's 2-vector by p radians. Worked out by hand:
///
/// head 0 vectors u0 = (1,0), u1 = (0,1), u2 = (1,1); the score of query i and key j is
/// u_i · R(j - i) u_j / √2:
///   s00 = 1/√2, s10 = -sin 1/√2, s11 = 1/√2,
///   s20 = (cos 2 - sin 2)/√2, s21 = (sin 1 + cos 1)/√2, s22 = 2/√2.
/// head 1 vectors (0,1), (1,0), (0,0): query 2 is zero, so its scores are 0 and its weights
/// uniform over the three keys it may see.
#[test]
fn hand_worked_tiny_case() {
    let cfg = ConfigSpec {
        hidden_size: Some(4),
        num_attention_heads: Some(2),
        num_key_value_heads: Some(2),
        seq_len: Some(3),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    let sq = |n| attnstep::shape![(QFeatures, n), (Hidden, n)];
    let weights = Weights {
        q_proj: identity(sq(4)),
        k_proj: identity(attnstep::shape![(KvFeatures, 4), (Hidden, 4)]),
        v_proj: identity(attnstep::shape![(KvFeatures, 4), (Hidden, 4)]),
        o_proj: identity(attnstep::shape![(Hidden, 4), (QFeatures, 4)]),
        qk_norm: None,
    };
    let x = tensor(
        attnstep::shape![(Bsz, 1), (SeqLen, 3), (Hidden, 4)],
        vec![1., 0., 0., 1., 0., 1., 1., 0., 1., 1., 0., 0.],
    );
    let trace = forward::trace_with(&cfg, &mut Numeric::new(0), weights, vec![x]);
    let step = &trace.steps[0];

    let r2 = std::f64::consts::SQRT_2;
    let (s1, c1, s2, c2) = (1f64.sin(), 1f64.cos(), 2f64.sin(), 2f64.cos());
    let scores = at(step, "scores");
    let expect_h0 = [
        (0, 0, 1.0 / r2),
        (1, 0, -s1 / r2),
        (1, 1, 1.0 / r2),
        (2, 0, (c2 - s2) / r2),
        (2, 1, (s1 + c1) / r2),
        (2, 2, 2.0 / r2),
    ];
    for (i, j, v) in expect_h0 {
        assert!(close(scores[[0, 0, i, j]], v, 1e-6), "scores[0,0,{i},{j}]");
    }
    assert!(close(scores[[0, 1, 1, 0]], s1 / r2, 1e-6));
    for j in 0..3 {
        assert!(close(scores[[0, 1, 2, j]], 0.0, 1e-7));
    }

    // softmax by hand: row 1 of head 0 = softmax(-sin1/√2, 1/√2) = (0.213809, 0.786191)
    // row 2 of head 0 = (0.054696, 0.370956, 0.574348)
    let w = at(step, "weights");
    let expect_w = [
        (0, 0, [1.0, 0.0, 0.0]),
        (0, 1, [0.213_809_01, 0.786_190_99, 0.0]),
        (0, 2, [0.054_696_04, 0.370_955_92, 0.574_348_04]),
        (1, 1, [0.472_005_07, 0.527_994_93, 0.0]),
        (1, 2, [1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0]),
    ];
    for (h, i, row) in expect_w {
        for (j, v) in row.iter().enumerate() {
            assert!(close(w[[0, h, i, j]], *v, 1e-6), "weights[0,{h},{i},{j}]");
        }
    }
    // The blocked entries are exactly zero, not merely small.
    assert_eq!(w[[0, 0, 0, 1]], 0.0);
    assert_eq!(w[[0, 1, 1, 2]], 0.0);

    // output = weights · v per head, merged, through the identity o_proj:
    // row 1 = (w10, w11 | w11', w10'), row 2 = (w20 + w22, w21 + w22 | 1/3, 1/3)
    let out = at(step, "output");
    let expect_out = [
        [1.0, 0.0, 0.0, 1.0],
        [0.213_809_01, 0.786_190_99, 0.527_994_93, 0.472_005_07],
        [0.629_044_08, 0.945_303_96, 1.0 / 3.0, 1.0 / 3.0],
    ];
    for (i, row) in expect_out.iter().enumerate() {
        for (d, v) in row.iter().enumerate() {
            assert!(close(out[[0, i, d]], *v, 1e-6), "output[0,{i},{d}]");
        }
    }
    // The causal mask of a prefill: -inf strictly above the diagonal.
    let cm = at(step, "causal_mask");
    assert_eq!(cm[[0, 1]], f32::NEG_INFINITY);
    assert_eq!(cm[[1, 2]], f32::NEG_INFINITY);
    assert_eq!(cm[[2, 0]], 0.0);
}

/// RoPE with a cache: the rotation uses absolute positions. A decode step at position 3 with
/// head_dim 2 rotates by 3 radians.
#[test]
fn rope_uses_absolute_positions_after_the_cache() {
    let cfg = ConfigSpec {
        hidden_size: Some(2),
        num_attention_heads: Some(1),
        num_key_value_heads: Some(1),
        steps: Some(vec![3, 1]),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    let trace = forward::trace(&cfg, &mut Numeric::new(cfg.seed));
    let step = &trace.steps[1];
    assert_eq!(step.start_pos, 3);
    let cos = at(step, "cos");
    let sin = at(step, "sin");
    assert!(close(cos[[0, 0]], 3f64.cos(), 1e-6));
    assert!(close(sin[[0, 1]], 3f64.sin(), 1e-6));
    let before = at(step, "xk_heads");
    let after = at(step, "xk_rope");
    let (a, b) = (before[[0, 0, 0, 0]] as f64, before[[0, 0, 0, 1]] as f64);
    assert!(close(
        after[[0, 0, 0, 0]],
        a * 3f64.cos() - b * 3f64.sin(),
        1e-5
    ));
    assert!(close(
        after[[0, 0, 0, 1]],
        b * 3f64.cos() + a * 3f64.sin(),
        1e-5
    ));
}

/// QK-norm by hand: each head row scaled to unit RMS (weight 1, eps as configured).
#[test]
fn qk_norm_makes_rows_unit_rms() {
    let cfg = ConfigSpec {
        hidden_size: Some(16),
        num_attention_heads: Some(2),
        num_key_value_heads: Some(1),
        qk_norm: Some(true),
        rms_norm_eps: Some(0.0),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    let trace = forward::trace(&cfg, &mut Numeric::new(3));
    let step = &trace.steps[0];
    let (before, after) = (at(step, "xq_heads"), at(step, "xq_norm"));
    for lane in after.lanes(Axis(3)) {
        let ms: f32 = lane.iter().map(|v| v * v).sum::<f32>() / lane.len() as f32;
        assert!((ms - 1.0).abs() < 1e-5);
    }
    // direction unchanged: after = before / rms(before)
    let b0 = before.slice(s![0, 0, 0, ..]);
    let rms = (b0.iter().map(|v| v * v).sum::<f32>() / b0.len() as f32).sqrt();
    assert!((after[[0, 0, 0, 3]] - before[[0, 0, 0, 3]] / rms).abs() < 1e-5);
}

// ---------------------------------------------------------------- properties over configs

#[derive(Debug, Clone)]
struct Case {
    cfg: Config,
}

fn configs() -> impl Strategy<Value = Case> {
    (
        1usize..=3,                               // n_kv_heads
        1usize..=3,                               // n_rep
        prop::sample::select(vec![2usize, 4, 6]), // head_dim
        1usize..=2,                               // batch
        prop::collection::vec(1usize..=4, 1..=4), // steps
        any::<bool>(),                            // qk_norm
        any::<bool>(),                            // mask?
        any::<u64>(),                             // seed
        1usize..=24,                              // hidden
    )
        .prop_flat_map(|(kv, rep, hd, batch, steps, qk, masked, seed, hidden)| {
            let total: usize = steps.iter().sum();
            let mask = prop::collection::vec(
                prop::collection::vec(prop::bool::weighted(0.75), total),
                batch,
            );
            (
                Just((kv, rep, hd, batch, steps, qk, masked, seed, hidden)),
                mask,
            )
        })
        .prop_map(
            |((kv, rep, hd, batch, steps, qk, masked, seed, hidden), mask)| {
                let rows: Vec<String> = mask
                    .iter()
                    .map(|r| r.iter().map(|&b| if b { '1' } else { '0' }).collect())
                    .collect();
                let cfg = ConfigSpec {
                    hidden_size: Some(hidden),
                    num_attention_heads: Some(kv * rep),
                    num_key_value_heads: Some(kv),
                    head_dim: Some(hd),
                    batch: Some(batch),
                    steps: Some(steps),
                    qk_norm: Some(qk),
                    attention_mask: masked.then_some(rows),
                    seed: Some(seed),
                    ..Default::default()
                }
                .resolve()
                .expect("generated configs are valid");
                Case { cfg }
            },
        )
}

fn run(cfg: &Config) -> Trace<Tensor> {
    forward::trace(cfg, &mut Numeric::new(cfg.seed))
}

/// design.md's stage table, written out: the export names and shapes of one step.
fn expected_shapes(cfg: &Config, step: usize) -> Vec<(&'static str, Vec<usize>)> {
    let (b, s, p) = (cfg.batch, cfg.steps[step], cfg.start_pos(step));
    let kv = p + s;
    let (h, k, d, hid) = (
        cfg.num_attention_heads,
        cfg.num_key_value_heads,
        cfg.head_dim,
        cfg.hidden_size,
    );
    let mut v = vec![
        ("x", vec![b, s, hid]),
        ("xq_proj", vec![b, s, h * d]),
        ("xk_proj", vec![b, s, k * d]),
        ("xv_proj", vec![b, s, k * d]),
        ("xq_heads", vec![b, s, h, d]),
        ("xk_heads", vec![b, s, k, d]),
        ("xv_heads", vec![b, s, k, d]),
        ("cos", vec![s, d]),
        ("sin", vec![s, d]),
        ("xq_rope", vec![b, s, h, d]),
        ("xk_rope", vec![b, s, k, d]),
        ("xk_cache", vec![b, kv, k, d]),
        ("xv_cache", vec![b, kv, k, d]),
        ("xk_repeat", vec![b, kv, h, d]),
        ("xv_repeat", vec![b, kv, h, d]),
        ("xq_t", vec![b, h, s, d]),
        ("xk_t", vec![b, h, kv, d]),
        ("xv_t", vec![b, h, kv, d]),
        ("scores", vec![b, h, s, kv]),
        ("causal_mask", vec![s, kv]),
        ("scores_masked", vec![b, h, s, kv]),
        ("weights", vec![b, h, s, kv]),
        ("attn_out", vec![b, h, s, d]),
        ("merged", vec![b, s, h * d]),
        ("output", vec![b, s, hid]),
    ];
    if cfg.qk_norm {
        v.push(("xq_norm", vec![b, s, h, d]));
        v.push(("xk_norm", vec![b, s, k, d]));
    }
    if cfg.attention_mask.is_some() {
        v.push(("attention_mask", vec![b, kv]));
        v.push(("padding_mask", vec![b, 1, 1, kv]));
    }
    v
}

/// The same layer with n_kv_heads = n_heads, whose K/V weights repeat each GQA KV head's rows
/// for its n_rep query heads: GQA must equal this MHA.
fn as_mha(cfg: &Config, w: &Weights<Tensor>) -> (Config, Weights<Tensor>) {
    let mut mha = cfg.clone();
    mha.num_key_value_heads = cfg.num_attention_heads;
    let d = cfg.head_dim;
    let widen = |t: &Tensor| {
        let rows: Vec<_> = (0..cfg.num_attention_heads)
            .flat_map(|q| {
                let kv = q / cfg.n_rep();
                (kv * d..(kv + 1) * d).map(|r| t.data.index_axis(Axis(0), r).to_owned())
            })
            .collect();
        let views: Vec<_> = rows.iter().map(|r| r.view().insert_axis(Axis(0))).collect();
        let data = ndarray::concatenate(Axis(0), &views).unwrap();
        let shape = attnstep::shape![
            (KvFeatures, cfg.num_attention_heads * d),
            (Hidden, cfg.hidden_size)
        ];
        Tensor::new(shape, data)
    };
    let weights = Weights {
        q_proj: w.q_proj.clone(),
        k_proj: widen(&w.k_proj),
        v_proj: widen(&w.v_proj),
        o_proj: w.o_proj.clone(),
        qk_norm: w.qk_norm.clone(),
    };
    (mha, weights)
}

fn inputs_for(cfg: &Config, seed: u64) -> (Weights<Tensor>, Vec<Tensor>) {
    let mut b = Numeric::new(seed);
    let w = Weights::init(cfg, &mut b);
    let xs = cfg
        .steps
        .iter()
        .map(|&n| {
            use attnstep::backend::Backend;
            b.normal(attnstep::shape![
                (Bsz, cfg.batch),
                (SeqLen, n),
                (Hidden, cfg.hidden_size)
            ])
        })
        .collect();
    (w, xs)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn every_tensor_has_the_stage_table_shape(case in configs()) {
        let trace = run(&case.cfg);
        for (i, step) in trace.steps.iter().enumerate() {
            let want = expected_shapes(&case.cfg, i);
            let got: Vec<_> = step.tensors().map(|n| n.name()).collect();
            prop_assert_eq!(got.len(), want.len(), "tensor names of step {}: {:?}", i, got);
            for (name, shape) in want {
                let t = step.tensor(TensorId::parse(name).expect("a tensor name"));
                prop_assert!(t.is_some(), "{} missing", name);
                prop_assert_eq!(t.unwrap().shape.sizes(), shape, "{}", name);
            }
        }
    }

    #[test]
    fn softmax_rows_sum_to_one_and_blocked_entries_get_zero(case in configs()) {
        let cfg = &case.cfg;
        let trace = run(cfg);
        for step in &trace.steps {
            let w = at(step, "weights");
            for lane in w.lanes(Axis(3)) {
                let sum: f32 = lane.sum();
                prop_assert!((sum - 1.0).abs() < 1e-5, "row sums to {}", sum);
            }
            let p = step.start_pos;
            for ((b, h, i, j), &v) in w.clone().into_dimensionality::<ndarray::Ix4>().unwrap().indexed_iter() {
                if j > p + i {
                    prop_assert_eq!(v, 0.0, "causally blocked w[{},{},{},{}]", b, h, i, j);
                }
                if let Some(mask) = &cfg.attention_mask {
                    let sees_real = (0..=p + i).any(|k| mask[b][k] == 1);
                    if mask[b][j] == 0 && sees_real {
                        prop_assert_eq!(v, 0.0, "padding key w[{},{},{},{}]", b, h, i, j);
                    }
                }
            }
        }
    }

    #[test]
    fn the_cache_grows_by_seq_len_and_keeps_what_it_had(case in configs()) {
        let trace = run(&case.cfg);
        for (i, step) in trace.steps.iter().enumerate() {
            let k = at(step, "xk_cache");
            prop_assert_eq!(k.shape()[1], step.start_pos + step.seq_len);
            if i > 0 {
                let prev = at(&trace.steps[i - 1], "xk_cache");
                prop_assert_eq!(k.slice(s![.., ..step.start_pos, .., ..]).into_dyn(), prev.view());
                let prev_v = at(&trace.steps[i - 1], "xv_cache");
                let v = at(step, "xv_cache");
                prop_assert_eq!(v.slice(s![.., ..step.start_pos, .., ..]).into_dyn(), prev_v.view());
            }
            // the newest rows are this call's keys after RoPE
            let new = at(step, "xk_rope");
            prop_assert_eq!(k.slice(s![.., step.start_pos.., .., ..]).into_dyn(), new.view());
        }
    }

    #[test]
    fn decoding_through_the_cache_equals_one_prefill(case in configs()) {
        let mut stepped = case.cfg.clone();
        stepped.causal = true;
        let total = stepped.total_len();
        let mut whole = stepped.clone();
        whole.steps = vec![total];
        let (w_step, _) = inputs_for(&stepped, stepped.seed);
        let (w_whole, x) = inputs_for(&whole, stepped.seed);
        let x = &x[0];
        let chunks: Vec<Tensor> = (0..stepped.steps.len())
            .map(|i| {
                let (a, n) = (stepped.start_pos(i), stepped.steps[i]);
                let shape = attnstep::shape![(Bsz, stepped.batch), (SeqLen, n), (Hidden, stepped.hidden_size)];
                Tensor::new(shape, x.data.slice(s![.., a..a + n, ..]).to_owned().into_dyn())
            })
            .collect();
        let a = forward::trace_with(&stepped, &mut Numeric::new(0), w_step, chunks);
        let b = forward::trace_with(&whole, &mut Numeric::new(0), w_whole, vec![x.clone()]);
        let full = at(&b.steps[0], "output");
        for step in &a.steps {
            let part = at(step, "output");
            let rows = full.slice(s![.., step.start_pos..step.kv_len(), ..]);
            for (p, f) in part.iter().zip(rows.iter()) {
                prop_assert!((p - f).abs() <= 1e-5 * f.abs().max(1.0), "{} vs {}", p, f);
            }
        }
    }

    #[test]
    fn gqa_equals_mha_with_shared_kv_weights(case in configs()) {
        let cfg = &case.cfg;
        let (w, xs) = inputs_for(cfg, cfg.seed);
        let (mha_cfg, mha_w) = as_mha(cfg, &w);
        let gqa = forward::trace_with(cfg, &mut Numeric::new(0), w, xs.clone());
        let mha = forward::trace_with(&mha_cfg, &mut Numeric::new(0), mha_w, xs);
        for (g, m) in gqa.steps.iter().zip(&mha.steps) {
            for name in ["xk_repeat", "weights", "output"] {
                let (a, b) = (at(g, name), at(m, name));
                prop_assert_eq!(a.shape(), b.shape());
                for (x, y) in a.iter().zip(b.iter()) {
                    prop_assert!((x - y).abs() <= 1e-5 * y.abs().max(1.0), "{}: {} vs {}", name, x, y);
                }
            }
        }
    }
}

/// repeat_kv's head order: KV head h serves query heads h·n_rep … h·n_rep + n_rep - 1.
#[test]
fn repeat_kv_repeats_each_kv_head_in_a_row() {
    let cfg = ConfigSpec {
        hidden_size: Some(16),
        num_attention_heads: Some(4),
        num_key_value_heads: Some(2),
        head_dim: Some(2),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    let trace = run(&cfg);
    let step = &trace.steps[0];
    let (cache, rep) = (at(step, "xk_cache"), at(step, "xk_repeat"));
    for q in 0..4 {
        let kv = q / 2;
        assert_eq!(
            rep.slice(s![.., .., q, ..]),
            cache.slice(s![.., .., kv, ..]),
            "query head {q} uses KV head {kv}"
        );
    }
    assert_ne!(
        rep.slice(s![.., .., 1, ..]),
        rep.slice(s![.., .., 2, ..]),
        "heads 1 and 2 belong to different KV heads (not tiled)"
    );
}

/// A query that can see only padding still gets a softmax (uniform over what it may see),
/// because padding is -1e9, not -inf.
#[test]
fn a_query_seeing_only_padding_gets_uniform_weights_not_nan() {
    let cfg = ConfigSpec {
        steps: Some(vec![3]),
        attention_mask: Some(vec!["001".into()]),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    let trace = run(&cfg);
    let w = at(&trace.steps[0], "weights");
    // query 0 sees key 0 (pad) only: weight 1; query 1 sees keys 0, 1 (both pad): 1/2 each.
    assert_eq!(w[[0, 0, 0, 0]], 1.0);
    assert!((w[[0, 0, 1, 0]] - 0.5).abs() < 1e-6 && (w[[0, 0, 1, 1]] - 0.5).abs() < 1e-6);
    // query 2 sees a real key: the padded ones get exactly 0.
    assert_eq!(w[[0, 0, 2, 0]], 0.0);
    assert_eq!(w[[0, 0, 2, 2]], 1.0);
    assert!(w.iter().all(|v| v.is_finite()));
}

/// The same seed gives the same numbers (a portable generator), a different seed different ones.
#[test]
fn seeds_are_reproducible() {
    let cfg = ConfigSpec::default().resolve().unwrap();
    let a = run(&cfg);
    let b = run(&cfg);
    assert_eq!(a, b);
    let mut other = cfg.clone();
    other.seed = 8;
    assert_ne!(a.weights[0].value, run(&other).weights[0].value);
    // Weights are nn.Linear-like: U(-1/√in, 1/√in) with in = hidden 32.
    let first = a.weights[0].value.data.iter().next().copied().unwrap();
    assert!(first.abs() <= 1.0 / 32f32.sqrt());
}
