//! MiniMind's `Attention.forward`, stage by stage, in MiniMind's order.
//!
//! Hold this file beside `model/model_minimind.py`: each block below is one line (or a few) of
//! the Python, followed by one line recording what it produced as a stage of the trace (the
//! stage descriptor in [`crate::stage`] says which tensor each recorded value is and what it was
//! made from). The code is generic over the [`Backend`], so the same lines yield numbers
//! ([`crate::numeric::Numeric`]) or just shapes ([`crate::backend::Shapes`]).

use crate::backend::{Backend, HasShape, rules};
use crate::config::Config;
use crate::dims::{Dim, DimName, Shape};
use crate::shape;
use crate::stage::{StageId, TensorId, WeightId};
use crate::trace::{Named, Stage, Step, StepKind, Trace, Weight};

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

    /// The weights under their ids, in export order.
    pub fn list(&self) -> Vec<Weight<T>> {
        let w = |id, value: &T| Weight {
            id,
            value: value.clone(),
        };
        let mut out = vec![
            w(WeightId::QProj, &self.q_proj),
            w(WeightId::KProj, &self.k_proj),
            w(WeightId::VProj, &self.v_proj),
            w(WeightId::OProj, &self.o_proj),
        ];
        if let Some((q, k)) = &self.qk_norm {
            out.push(w(WeightId::QNorm, q));
            out.push(w(WeightId::KNorm, k));
        }
        out
    }
}

/// Whether MiniMind's forward takes its fused `F.scaled_dot_product_attention` branch for a
/// call: more than one new token, and (no causal mask or nothing cached), and no attention mask
/// or one of all ones. The fused branch gives the same output without materialising the scores.
pub fn takes_fused_path(
    seq_len: usize,
    causal: bool,
    has_cache: bool,
    mask_all_ones: bool,
) -> bool {
    seq_len > 1 && (!causal || !has_cache) && mask_all_ones
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
        weights: weights.list(),
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

impl<T: Clone> Recorder<T> {
    /// Records stage `id`: `values` are its outputs in the order its descriptor lists them.
    fn record<const N: usize>(&mut self, id: StageId, values: [&T; N]) {
        let outputs = id.spec().outputs;
        assert_eq!(
            outputs.len(),
            N,
            "stage {id} records {} tensors",
            outputs.len()
        );
        let mut tensors: Vec<Named<T>> = Vec::with_capacity(N);
        for (o, value) in outputs.iter().zip(values) {
            let written = |t: &TensorId| {
                tensors.iter().any(|n| n.id == *t)
                    || self
                        .stages
                        .iter()
                        .any(|s| s.tensors.iter().any(|n| n.id == *t))
            };
            let from = o.from.iter().copied().find(|t| written(t));
            tensors.push(Named {
                id: o.id,
                value: value.clone(),
                from,
            });
        }
        self.stages.push(Stage {
            id,
            tensors,
            via: Vec::new(),
        });
    }

    /// Notes an intermediate shape of the last stage that the Python does not keep.
    fn via(&mut self, label: &'static str, shape: Option<Shape>) {
        if let (Some(stage), Some(shape)) = (self.stages.last_mut(), shape) {
            stage.via.push((label, shape));
        }
    }
}

/// `repeat_kv(x, n_rep)`: `[bsz, kv_len, n_kv_heads, head_dim]` → `[bsz, kv_len, n_heads, head_dim]`,
/// each KV head repeated `n_rep` times in a row.
pub fn repeat_kv<B: Backend>(b: &B, x: B::T, n_rep: usize) -> B::T {
    if n_rep == 1 {
        return x;
    }
    // x[:, :, :, None, :].expand(bs, slen, num_key_value_heads, n_rep, head_dim)
    let expanded = b.expand_kv(&x, n_rep); // [bsz, kv_len, n_kv_heads, n_rep, head_dim]
    // .reshape(bs, slen, num_key_value_heads * n_rep, head_dim)
    b.view(&expanded, rules::repeat_kv(&x.shape(), n_rep))
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
    use StageId::*;
    let (n_heads, n_kv_heads, head_dim, n_rep) = (
        cfg.num_attention_heads,
        cfg.num_key_value_heads,
        cfg.head_dim,
        cfg.n_rep(),
    );

    // bsz, seq_len, _ = x.shape
    let (bsz, seq_len) = (x.shape().dim(0).size, x.shape().dim(1).size);
    rec.record(Input, [&x]);

    // xq, xk, xv = self.q_proj(x), self.k_proj(x), self.v_proj(x)
    let xq = b.linear(&x, &w.q_proj); // [bsz, seq_len, n_heads·head_dim]
    let xk = b.linear(&x, &w.k_proj); // [bsz, seq_len, n_kv_heads·head_dim]
    let xv = b.linear(&x, &w.v_proj); // [bsz, seq_len, n_kv_heads·head_dim]
    rec.record(Project, [&xq, &xk, &xv]);

    // xq = xq.view(bsz, seq_len, self.n_local_heads, self.head_dim)
    // xk = xk.view(bsz, seq_len, self.n_local_kv_heads, self.head_dim)   (xv the same)
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
    let xq = b.view(&xq, q_heads);
    let xk = b.view(&xk, kv_heads.clone());
    let xv = b.view(&xv, kv_heads);
    rec.record(SplitHeads, [&xq, &xk, &xv]);

    // xq, xk = self.q_norm(xq), self.k_norm(xk)   (MiniMind-3; MiniMind2 has no QK-norm)
    let (xq, xk) = match &w.qk_norm {
        Some((q_norm, k_norm)) => {
            let xq = b.rms_norm(&xq, q_norm, cfg.rms_norm_eps);
            let xk = b.rms_norm(&xk, k_norm, cfg.rms_norm_eps);
            rec.record(QkNorm, [&xq, &xk]);
            (xq, xk)
        }
        None => (xq, xk),
    };

    // cos, sin = position_embeddings
    // xq, xk = apply_rotary_pos_emb(xq, xk, cos, sin)
    let (cos, sin) = position_embeddings; // [seq_len, head_dim] each
    let xq = b.apply_rope(&xq, &cos, &sin);
    let xk = b.apply_rope(&xk, &cos, &sin);
    rec.record(Rope, [&cos, &sin, &xq, &xk]);

    // if past_key_value is not None:
    //     xk = torch.cat([past_key_value[0], xk], dim=1)
    //     xv = torch.cat([past_key_value[1], xv], dim=1)
    // (with no past, xk itself; attnstep names its axis 1 kv_len either way)
    let (past_k, past_v) = past_key_value.unzip();
    let past_len = past_k.as_ref().map_or(0, |k| k.shape().dim(1).size);
    let xk = b.cat_seq(past_k.as_ref(), &xk); // [bsz, kv_len, n_kv_heads, head_dim]
    let xv = b.cat_seq(past_v.as_ref(), &xv); // [bsz, kv_len, n_kv_heads, head_dim]
    // past_kv = (xk, xv) if use_cache else None
    let past_kv = (xk.clone(), xv.clone());
    rec.record(KvCache, [&xk, &xv]);

    // xq, xk, xv = (xq.transpose(1, 2),
    //               repeat_kv(xk, self.n_rep).transpose(1, 2), repeat_kv(xv, self.n_rep).transpose(1, 2))
    let expand = (n_rep > 1).then(|| rules::repeat_kv_expanded(&xk.shape(), n_rep));
    let xk = repeat_kv(b, xk, n_rep); // [bsz, kv_len, n_heads, head_dim]
    let xv = repeat_kv(b, xv, n_rep);
    rec.record(RepeatKv, [&xk, &xv]);
    rec.via("x[:, :, :, None, :].expand", expand);
    let xq = b.transpose(&xq, 1, 2); // [bsz, n_heads, seq_len, head_dim]
    let xk = b.transpose(&xk, 1, 2); // [bsz, n_heads, kv_len, head_dim]
    let xv = b.transpose(&xv, 1, 2); // [bsz, n_heads, kv_len, head_dim]
    rec.record(Transpose, [&xq, &xk, &xv]);

    // if self.flash and seq_len > 1 and (not self.is_causal or past_key_value is None)
    //         and (attention_mask is None or torch.all(attention_mask == 1)):
    //     output = F.scaled_dot_product_attention(xq, xk, xv, is_causal=self.is_causal)
    // MiniMind takes that fused branch when `takes_fused_path` says so; it computes the same
    // output without keeping the scores, so attnstep always runs the explicit branch below.
    // else:
    //     scores = (xq @ xk.transpose(-2, -1)) / math.sqrt(self.head_dim)
    let scores = b.div(
        b.matmul(&xq, &b.transpose(&xk, -2, -1)),
        (head_dim as f64).sqrt(),
    );
    rec.record(Scores, [&scores]); // [bsz, n_heads, seq_len, kv_len]

    //     if self.is_causal:
    //         scores[:, :, :, -seq_len:] += torch.full((seq_len, seq_len), float("-inf")).triu(1)
    let causal_mask = b.causal_mask(seq_len, past_len, cfg.causal); // [seq_len, kv_len]
    let scores = if cfg.causal {
        b.add(&scores, &causal_mask)
    } else {
        scores
    };
    rec.record(CausalMask, [&causal_mask]);

    //     if attention_mask is not None:
    //         scores += (1.0 - attention_mask.unsqueeze(1).unsqueeze(2)) * -1e9
    let scores = match attention_mask {
        Some(mask) => {
            let padding_mask = b.padding_bias(&mask); // [bsz, 1, 1, kv_len]
            let scores = b.add(&scores, &padding_mask);
            rec.record(PaddingMask, [&mask, &padding_mask]);
            scores
        }
        None => scores,
    };

    //     output = self.attn_dropout(F.softmax(scores.float(), dim=-1).type_as(xq)) @ xv
    // (attn_dropout is the identity at inference)
    let weights = b.softmax(&scores);
    rec.record(Softmax, [&scores, &weights]);
    let output = b.matmul(&weights, &xv); // [bsz, n_heads, seq_len, head_dim]
    rec.record(WeightedSum, [&output]);

    // output = output.transpose(1, 2).reshape(bsz, seq_len, -1)
    let merged = shape![
        (Bsz, bsz),
        (SeqLen, seq_len),
        (QFeatures, n_heads * head_dim)
    ];
    let output = b.view(&b.transpose(&output, 1, 2), merged);
    rec.record(MergeHeads, [&output]);

    // output = self.resid_dropout(self.o_proj(output))   (resid_dropout: identity at inference)
    let output = b.linear(&output, &w.o_proj); // [bsz, seq_len, hidden]
    rec.record(OProj, [&output]);

    (output, past_kv)
}
