//! MiniMind's `Attention.forward`, stage by stage, in MiniMind's order.
//!
//! Hold this file beside `model/model_minimind.py`: each block below is one line (or a few) of
//! the Python, and records what it produced as a [`Stage`] of the trace. The code is generic
//! over the [`Backend`], so the same lines yield numbers ([`crate::numeric::Numeric`]) or just
//! shapes ([`crate::backend::Shapes`]).

use crate::backend::{Backend, HasShape, rules};
use crate::config::Config;
use crate::dims::{Dim, DimName, Shape};
use crate::trace::{Named, Stage, StageId, Step, StepKind, Trace};

/// The attention layer's parameters, PyTorch-style `[out_features, in_features]`.
pub struct Weights<T> {
    pub q_proj: T, // [n_heads·head_dim, hidden]
    pub k_proj: T, // [n_kv_heads·head_dim, hidden]
    pub v_proj: T, // [n_kv_heads·head_dim, hidden]
    pub o_proj: T, // [hidden, n_heads·head_dim]
    /// `q_norm`/`k_norm` RMSNorm weights `[head_dim]`, only with QK-norm (MiniMind-3).
    pub qk_norm: Option<(T, T)>,
}

impl<T: Clone> Weights<T> {
    /// Initialises like `nn.Linear` (U(-1/√in, 1/√in)), drawn in the order q, k, v, o from the
    /// seeded stream; RMSNorm weights start at 1 as in `RMSNorm.__init__`.
    pub fn init<B: Backend<T = T>>(cfg: &Config, b: &mut B) -> Self {
        let hidden = Dim::new(DimName::Hidden, cfg.hidden_size);
        let q_features = Dim::new(DimName::QFeatures, cfg.num_attention_heads * cfg.head_dim);
        let kv_features = Dim::new(DimName::KvFeatures, cfg.num_key_value_heads * cfg.head_dim);
        let bound = |fan_in: usize| 1.0 / (fan_in as f32).sqrt();
        let q_proj = b.uniform(Shape::new([q_features, hidden]), bound(hidden.size));
        let k_proj = b.uniform(Shape::new([kv_features, hidden]), bound(hidden.size));
        let v_proj = b.uniform(Shape::new([kv_features, hidden]), bound(hidden.size));
        let o_proj = b.uniform(Shape::new([hidden, q_features]), bound(q_features.size));
        let qk_norm = cfg.qk_norm.then(|| {
            let head_dim = Shape::new([Dim::new(DimName::HeadDim, cfg.head_dim)]);
            (b.ones(head_dim.clone()), b.ones(head_dim))
        });
        Weights {
            q_proj,
            k_proj,
            v_proj,
            o_proj,
            qk_norm,
        }
    }

    /// The weights under their export names.
    pub fn named(&self) -> Vec<Named<T>> {
        let mut out = vec![
            named("q_proj", &self.q_proj, None),
            named("k_proj", &self.k_proj, None),
            named("v_proj", &self.v_proj, None),
            named("o_proj", &self.o_proj, None),
        ];
        if let Some((q, k)) = &self.qk_norm {
            out.push(named("q_norm", q, None));
            out.push(named("k_norm", k, None));
        }
        out
    }
}

fn named<T: Clone>(name: &'static str, value: &T, from: Option<&'static str>) -> Named<T> {
    Named {
        name,
        value: value.clone(),
        from,
    }
}

/// Runs every forward call of `cfg.steps` through one attention layer with weights and inputs
/// drawn from the seeded stream (weights first, then each step's `x` in order), and records
/// everything.
pub fn trace<B: Backend>(cfg: &Config, b: &mut B) -> Trace<B::T> {
    let weights = Weights::init(cfg, b);
    let inputs: Vec<B::T> = cfg
        .steps
        .iter()
        .map(|&seq_len| {
            // Hidden states for the new tokens: [bsz, seq_len, hidden], standard normal.
            b.normal(crate::shape![
                (Bsz, cfg.batch),
                (SeqLen, seq_len),
                (Hidden, cfg.hidden_size)
            ])
        })
        .collect();
    trace_with(cfg, b, weights, inputs)
}

/// Runs the forward calls with the given weights and one input `x` per step
/// (`[bsz, steps[i], hidden]`), the KV cache carried from call to call, as `generate` does.
pub fn trace_with<B: Backend>(
    cfg: &Config,
    b: &mut B,
    weights: Weights<B::T>,
    inputs: Vec<B::T>,
) -> Trace<B::T> {
    assert_eq!(inputs.len(), cfg.steps.len(), "one input per step");
    let mut past_key_value: Option<(B::T, B::T)> = None;
    let mut steps = Vec::with_capacity(cfg.steps.len());
    for (index, x) in inputs.into_iter().enumerate() {
        let seq_len = cfg.steps[index];
        let start_pos = cfg.start_pos(index);
        // MiniMindModel.forward: freqs_cos[start_pos:start_pos + seq_length] (same for sin).
        let position_embeddings = b.rope_tables(start_pos, seq_len, cfg.head_dim, cfg.rope_theta);
        // The caller's mask covers every token so far: [bsz, kv_len].
        let attention_mask = cfg
            .attention_mask
            .as_ref()
            .map(|rows| b.attention_mask(rows, start_pos + seq_len));
        let mut rec = Recorder::default();
        let (_output, present) = attention_forward(
            b,
            cfg,
            &weights,
            x,
            position_embeddings,
            past_key_value.take(),
            attention_mask,
            &mut rec,
        );
        past_key_value = Some(present);
        steps.push(Step {
            kind: StepKind::of(index, seq_len),
            start_pos,
            seq_len,
            stages: rec.stages,
        });
    }
    Trace {
        config: cfg.clone(),
        weights: weights.named(),
        steps,
    }
}

/// Collects the stages of one forward call as they happen.
struct Recorder<T> {
    stages: Vec<Stage<T>>,
}

impl<T> Default for Recorder<T> {
    fn default() -> Self {
        Recorder { stages: Vec::new() }
    }
}

impl<T> Recorder<T> {
    fn stage(&mut self, id: StageId, tensors: Vec<Named<T>>) {
        self.stages.push(Stage {
            id,
            tensors,
            via: Vec::new(),
        });
    }
}

/// `Attention.forward(x, position_embeddings, past_key_value, use_cache=True, attention_mask)`.
/// Returns the output `[bsz, seq_len, hidden]` and the new cache `(xk, xv)`.
#[allow(clippy::too_many_arguments)]
fn attention_forward<B: Backend>(
    b: &mut B,
    cfg: &Config,
    w: &Weights<B::T>,
    x: B::T,
    position_embeddings: (B::T, B::T),
    past_key_value: Option<(B::T, B::T)>,
    attention_mask: Option<B::T>,
    rec: &mut Recorder<B::T>,
) -> (B::T, (B::T, B::T)) {
    use crate::shape;
    let n_heads = cfg.num_attention_heads;
    let n_kv_heads = cfg.num_key_value_heads;
    let head_dim = cfg.head_dim;
    let n_rep = cfg.n_rep();

    // bsz, seq_len, _ = x.shape
    let xs = x.shape();
    let (bsz, seq_len) = (xs.dim(0).size, xs.dim(1).size);
    rec.stage(StageId::Input, vec![named("x", &x, None)]);

    // xq, xk, xv = self.q_proj(x), self.k_proj(x), self.v_proj(x)
    let xq = b.linear(&x, &w.q_proj); // [bsz, seq_len, n_heads·head_dim]
    let xk = b.linear(&x, &w.k_proj); // [bsz, seq_len, n_kv_heads·head_dim]
    let xv = b.linear(&x, &w.v_proj); // [bsz, seq_len, n_kv_heads·head_dim]
    rec.stage(
        StageId::Project,
        vec![
            named("xq_proj", &xq, Some("x")),
            named("xk_proj", &xk, Some("x")),
            named("xv_proj", &xv, Some("x")),
        ],
    );

    // xq = xq.view(bsz, seq_len, self.n_local_heads, self.head_dim)  (same for xk, xv)
    let q_heads = shape![
        (Bsz, bsz),
        (SeqLen, seq_len),
        (NHeads, n_heads),
        (HeadDim, head_dim)
    ];
    let kv_heads = shape![
        (Bsz, bsz),
        (SeqLen, seq_len),
        (NKvHeads, n_kv_heads),
        (HeadDim, head_dim)
    ];
    let xq = b.view(&xq, q_heads); // [bsz, seq_len, n_heads, head_dim]
    let xk = b.view(&xk, kv_heads.clone()); // [bsz, seq_len, n_kv_heads, head_dim]
    let xv = b.view(&xv, kv_heads); // [bsz, seq_len, n_kv_heads, head_dim]
    rec.stage(
        StageId::SplitHeads,
        vec![
            named("xq_heads", &xq, Some("xq_proj")),
            named("xk_heads", &xk, Some("xk_proj")),
            named("xv_heads", &xv, Some("xv_proj")),
        ],
    );

    // xq, xk = self.q_norm(xq), self.k_norm(xk)   (MiniMind-3 only)
    let (xq, xk, q_src, k_src) = match &w.qk_norm {
        Some((q_norm, k_norm)) => {
            let xq = b.rms_norm(&xq, q_norm, cfg.rms_norm_eps);
            let xk = b.rms_norm(&xk, k_norm, cfg.rms_norm_eps);
            rec.stage(
                StageId::QkNorm,
                vec![
                    named("xq_norm", &xq, Some("xq_heads")),
                    named("xk_norm", &xk, Some("xk_heads")),
                ],
            );
            (xq, xk, "xq_norm", "xk_norm")
        }
        None => (xq, xk, "xq_heads", "xk_heads"),
    };

    // cos, sin = position_embeddings
    // xq, xk = apply_rotary_pos_emb(xq, xk, cos, sin)
    let (cos, sin) = position_embeddings; // [seq_len, head_dim] each
    let xq = b.apply_rope(&xq, &cos, &sin); // [bsz, seq_len, n_heads, head_dim]
    let xk = b.apply_rope(&xk, &cos, &sin); // [bsz, seq_len, n_kv_heads, head_dim]
    rec.stage(
        StageId::Rope,
        vec![
            named("cos", &cos, None),
            named("sin", &sin, None),
            named("xq_rope", &xq, Some(q_src)),
            named("xk_rope", &xk, Some(k_src)),
        ],
    );

    // if past_key_value is not None: xk = torch.cat([past_key_value[0], xk], dim=1)  (same for xv)
    // past_kv = (xk, xv) if use_cache else None
    let past_len = past_key_value
        .as_ref()
        .map_or(0, |(k, _)| k.shape().dim(1).size);
    let xk = b.cat_seq(past_key_value.as_ref().map(|(k, _)| k), &xk); // [bsz, kv_len, n_kv_heads, head_dim]
    let xv = b.cat_seq(past_key_value.as_ref().map(|(_, v)| v), &xv); // [bsz, kv_len, n_kv_heads, head_dim]
    let present = (xk.clone(), xv.clone());
    rec.stage(
        StageId::KvCache,
        vec![
            named("xk_cache", &xk, Some("xk_rope")),
            named("xv_cache", &xv, Some("xv_heads")),
        ],
    );

    // repeat_kv(xk, self.n_rep), repeat_kv(xv, self.n_rep)
    let expanded = rules::repeat_kv_expanded(&xk.shape(), n_rep);
    let xk = b.repeat_kv(&xk, n_rep); // [bsz, kv_len, n_heads, head_dim]
    let xv = b.repeat_kv(&xv, n_rep); // [bsz, kv_len, n_heads, head_dim]
    rec.stage(
        StageId::RepeatKv,
        vec![
            named("xk_repeat", &xk, Some("xk_cache")),
            named("xv_repeat", &xv, Some("xv_cache")),
        ],
    );
    rec.stages.last_mut().expect("just pushed").via =
        vec![("x[:, :, :, None, :].expand", expanded)];

    // xq, xk, xv = xq.transpose(1, 2), xk.transpose(1, 2), xv.transpose(1, 2)
    let xq = b.transpose12(&xq); // [bsz, n_heads, seq_len, head_dim]
    let xk = b.transpose12(&xk); // [bsz, n_heads, kv_len, head_dim]
    let xv = b.transpose12(&xv); // [bsz, n_heads, kv_len, head_dim]
    rec.stage(
        StageId::Transpose,
        vec![
            named("xq_t", &xq, Some("xq_rope")),
            named("xk_t", &xk, Some("xk_repeat")),
            named("xv_t", &xv, Some("xv_repeat")),
        ],
    );

    // scores = (xq @ xk.transpose(-2, -1)) / math.sqrt(self.head_dim)
    let scores = b.scores(&xq, &xk); // [bsz, n_heads, seq_len, kv_len]
    rec.stage(
        StageId::Scores,
        vec![named("scores", &scores, Some("xq_t"))],
    );

    // if self.is_causal: scores[:, :, :, -seq_len:] += torch.full((seq_len, seq_len), -inf).triu(1)
    let causal_mask = b.causal_mask(seq_len, past_len, cfg.causal); // [seq_len, kv_len]
    let mut scores_masked = if cfg.causal {
        b.add(&scores, &causal_mask)
    } else {
        scores.clone()
    };
    rec.stage(
        StageId::CausalMask,
        vec![named("causal_mask", &causal_mask, None)],
    );

    // if attention_mask is not None: scores += (1.0 - attention_mask.unsqueeze(1).unsqueeze(2)) * -1e9
    if let Some(mask) = attention_mask {
        let padding_mask = b.padding_bias(&mask); // [bsz, 1, 1, kv_len]
        scores_masked = b.add(&scores_masked, &padding_mask);
        rec.stage(
            StageId::PaddingMask,
            vec![
                named("attention_mask", &mask, None),
                named("padding_mask", &padding_mask, Some("attention_mask")),
            ],
        );
    }

    // F.softmax(scores.float(), dim=-1)
    let weights = b.softmax(&scores_masked); // [bsz, n_heads, seq_len, kv_len]
    rec.stage(
        StageId::Softmax,
        vec![
            named("scores_masked", &scores_masked, Some("scores")),
            named("weights", &weights, Some("scores_masked")),
        ],
    );

    // output = ... @ xv
    let output = b.matmul(&weights, &xv); // [bsz, n_heads, seq_len, head_dim]
    rec.stage(
        StageId::WeightedSum,
        vec![named("attn_out", &output, Some("weights"))],
    );

    // output = output.transpose(1, 2).reshape(bsz, seq_len, -1)
    let merged_shape = shape![
        (Bsz, bsz),
        (SeqLen, seq_len),
        (QFeatures, n_heads * head_dim)
    ];
    let output = b.transpose12(&output); // [bsz, seq_len, n_heads, head_dim]
    let output = b.view(&output, merged_shape); // [bsz, seq_len, n_heads·head_dim]
    rec.stage(
        StageId::MergeHeads,
        vec![named("merged", &output, Some("attn_out"))],
    );

    // output = self.resid_dropout(self.o_proj(output))   (dropout is 0 at inference)
    let output = b.linear(&output, &w.o_proj); // [bsz, seq_len, hidden]
    rec.stage(
        StageId::OProj,
        vec![named("output", &output, Some("merged"))],
    );

    (output, present)
}
