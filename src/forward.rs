//! MiniMind's `Attention.forward`, stage by stage, in MiniMind's order.
//!
//! Hold this file beside `model/model_minimind.py`: each block below is one line (or a few) of
//! the Python, followed by one line recording what it produced as a stage of the trace (the
//! stage descriptor in [`crate::stage`] says which tensor each recorded value is and what it was
//! made from). The code is generic over the [`Backend`], so the same lines yield numbers
//! ([`crate::numeric::Numeric`]) or just shapes ([`crate::backend::Shapes`]).

use crate::backend::{Backend, HasShape, rules};
use crate::bugs::Bug;
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
        // Slip: every call starts its positions at 0.
        let rope_start = if cfg.bug == Some(Bug::RopeRestarts) {
            0
        } else {
            start_pos
        };
        let position_embeddings = b.rope_tables(rope_start, seq_len, cfg.head_dim, cfg.rope_theta);
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
        model: None,
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
pub fn repeat_kv<B: Backend>(b: &B, x: B::T, n_rep: usize, bug: Option<Bug>) -> B::T {
    if n_rep == 1 {
        return x;
    }
    // x[:, :, :, None, :].expand(bs, slen, num_key_value_heads, n_rep, head_dim)
    let expanded = b.expand_kv(&x, n_rep); // [bsz, kv_len, n_kv_heads, n_rep, head_dim]
    // Slip: x.repeat(1, 1, n_rep, 1) tiles the heads: the n_rep axis before the KV-head axis.
    let expanded = match bug {
        Some(Bug::RepeatKvTiles) => b.transpose(&expanded, 2, 3),
        _ => expanded,
    };
    // .reshape(bs, slen, num_key_value_heads * n_rep, head_dim)
    b.view(&expanded, rules::repeat_kv(&x.shape(), n_rep))
}

/// `Attention.forward(x, position_embeddings, past_key_value, use_cache=True, attention_mask)`.
/// Returns the output `[bsz, seq_len, hidden]` and the new cache `(xk, xv)`. The body is the
/// Python's three paragraphs, one function each: queries, keys and values up to RoPE; the cache
/// and the sharing of KV heads; attention itself up to `o_proj`.
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
    let (xq, xk, xv, xk_unrotated) = queries_keys_values(b, cfg, w, x, position_embeddings, rec);
    let (xq, xk, xv, past_kv) =
        cache_and_share(b, cfg, (xq, xk, xv), xk_unrotated, past_key_value, rec);
    let output = attend(b, cfg, w, (xq, xk, xv), attention_mask, rec);
    (output, past_kv)
}

/// `x` → queries, keys and values per head, normalised (QK-norm) and rotated (RoPE). Also
/// returns the keys before RoPE when the cache-before-RoPE slip needs them.
#[allow(clippy::type_complexity)]
fn queries_keys_values<B: Backend>(
    b: &mut B,
    cfg: &Config,
    w: &Weights<B::T>,
    x: B::T,
    position_embeddings: (B::T, B::T),
    rec: &mut Recorder<B::T>,
) -> (B::T, B::T, B::T, Option<B::T>) {
    use StageId::*;
    let (n_heads, n_kv_heads, head_dim, bug) = (
        cfg.num_attention_heads,
        cfg.num_key_value_heads,
        cfg.head_dim,
        cfg.bug,
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
    let (xq, xk, xv) = if bug == Some(Bug::ViewWithoutTranspose) {
        // Slip: .view(bsz, n_heads, seq_len, head_dim) straight away (shown in the layout the
        // correct code has here, so every later line runs unchanged on scrambled numbers).
        let scrambled =
            |t: &B::T, heads: &Shape| b.transpose(&b.view(t, heads.swapped(1, 2)), 1, 2);
        (
            scrambled(&xq, &q_heads),
            scrambled(&xk, &kv_heads),
            scrambled(&xv, &kv_heads),
        )
    } else {
        (
            b.view(&xq, q_heads),
            b.view(&xk, kv_heads.clone()),
            b.view(&xv, kv_heads),
        )
    };
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
    let xk_unrotated = (bug == Some(Bug::CacheBeforeRope)).then(|| xk.clone());
    let xq = b.apply_rope(&xq, &cos, &sin);
    let xk = b.apply_rope(&xk, &cos, &sin);
    rec.record(Rope, [&cos, &sin, &xq, &xk]);

    (xq, xk, xv, xk_unrotated)
}

/// The KV cache and `repeat_kv`, then the transpose that puts heads before tokens. Returns the
/// queries, keys and values `[bsz, n_heads, len, head_dim]` and the new cache.
#[allow(clippy::type_complexity)]
fn cache_and_share<B: Backend>(
    b: &mut B,
    cfg: &Config,
    (xq, xk, xv): (B::T, B::T, B::T),
    xk_unrotated: Option<B::T>,
    past_key_value: Option<(B::T, B::T)>,
    rec: &mut Recorder<B::T>,
) -> (B::T, B::T, B::T, (B::T, B::T)) {
    use StageId::*;
    let (n_rep, bug) = (cfg.n_rep(), cfg.bug);

    // if past_key_value is not None:
    //     xk = torch.cat([past_key_value[0], xk], dim=1)
    //     xv = torch.cat([past_key_value[1], xv], dim=1)
    // (with no past, xk itself; attnstep names its axis 1 kv_len either way)
    let (past_k, past_v) = past_key_value.unzip();
    let xk = b.cat_seq(past_k.as_ref(), &xk); // [bsz, kv_len, n_kv_heads, head_dim]
    let xv = b.cat_seq(past_v.as_ref(), &xv); // [bsz, kv_len, n_kv_heads, head_dim]
    // past_kv = (xk, xv) if use_cache else None
    let past_kv = match xk_unrotated {
        // Slip: the cache keeps the keys from before RoPE.
        Some(k) => (b.cat_seq(past_k.as_ref(), &k), xv.clone()),
        None => (xk.clone(), xv.clone()),
    };
    rec.record(KvCache, [&xk, &xv]);

    // xq, xk, xv = (xq.transpose(1, 2),
    //               repeat_kv(xk, self.n_rep).transpose(1, 2), repeat_kv(xv, self.n_rep).transpose(1, 2))
    let expand = (n_rep > 1).then(|| rules::repeat_kv_expanded(&xk.shape(), n_rep));
    let xk = repeat_kv(b, xk, n_rep, bug); // [bsz, kv_len, n_heads, head_dim]
    let xv = match bug {
        Some(Bug::ValuesNotRepeated) => xv, // Slip: repeat_kv on the keys only.
        _ => repeat_kv(b, xv, n_rep, bug),
    };
    rec.record(RepeatKv, [&xk, &xv]);
    rec.via("x[:, :, :, None, :].expand", expand);
    let xq = b.transpose(&xq, 1, 2); // [bsz, n_heads, seq_len, head_dim]
    let xk = b.transpose(&xk, 1, 2); // [bsz, n_heads, kv_len, head_dim]
    let xv = b.transpose(&xv, 1, 2); // [bsz, n_heads, kv_len, head_dim]
    rec.record(Transpose, [&xq, &xk, &xv]);

    (xq, xk, xv, past_kv)
}

/// Scores, masks, softmax, the weighted sum of the values, the merge of the heads and `o_proj`.
fn attend<B: Backend>(
    b: &mut B,
    cfg: &Config,
    w: &Weights<B::T>,
    (xq, xk, xv): (B::T, B::T, B::T),
    attention_mask: Option<B::T>,
    rec: &mut Recorder<B::T>,
) -> B::T {
    use StageId::*;
    let (n_heads, head_dim, bug) = (cfg.num_attention_heads, cfg.head_dim, cfg.bug);
    let q = xq.shape(); // [bsz, n_heads, seq_len, head_dim]
    let (bsz, seq_len) = (q.dim(0).size, q.dim(2).size);
    let past_len = xk.shape().dim(2).size - seq_len;

    // if self.flash and seq_len > 1 and (not self.is_causal or past_key_value is None)
    //         and (attention_mask is None or torch.all(attention_mask == 1)):
    //     output = F.scaled_dot_product_attention(xq, xk, xv, is_causal=self.is_causal)
    // MiniMind takes that fused branch when `takes_fused_path` says so; it computes the same
    // output without keeping the scores, so attnstep always runs the explicit branch below.
    // else:
    //     scores = (xq @ xk.transpose(-2, -1)) / math.sqrt(self.head_dim)
    let scores = b.matmul(&xq, &b.transpose(&xk, -2, -1)); // [bsz, n_heads, seq_len, kv_len]
    let scores = match bug {
        Some(Bug::ScaleByHidden) => b.div(scores, (cfg.hidden_size as f64).sqrt()), // Slip.
        Some(Bug::NoScale) => scores, // Slip: no scale at all.
        _ => b.div(scores, (head_dim as f64).sqrt()),
    };
    rec.record(Scores, [&scores]);

    //     if self.is_causal:
    //         scores[:, :, :, -seq_len:] += torch.full((seq_len, seq_len), float("-inf")).triu(1)
    let kv_len = past_len + seq_len;
    // Slip: the triangle over the first seq_len columns (scores[..., :seq_len]).
    let from = if bug == Some(Bug::CausalNotOffset) {
        0
    } else {
        kv_len - seq_len
    };
    let causal_mask = b.causal_mask(seq_len, kv_len, from, cfg.causal); // [seq_len, kv_len]
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
            // Slip: masked_fill(mask == 0, -inf) instead of -1e9.
            let fill = if bug == Some(Bug::PaddingNegInf) {
                f32::NEG_INFINITY
            } else {
                -1e9
            };
            let padding_mask = b.padding_bias(&mask, fill); // [bsz, 1, 1, kv_len]
            let scores = b.add(&scores, &padding_mask);
            rec.record(PaddingMask, [&mask, &padding_mask]);
            scores
        }
        None => scores,
    };

    //     output = self.attn_dropout(F.softmax(scores.float(), dim=-1).type_as(xq)) @ xv
    // (attn_dropout is the identity at inference)
    let weights = match bug {
        // Slip: F.softmax(scores, dim=-2), over the queries.
        Some(Bug::SoftmaxOverQueries) => {
            b.transpose(&b.softmax(&b.transpose(&scores, -2, -1)), -2, -1)
        }
        _ => b.softmax(&scores),
    };
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

    output
}
