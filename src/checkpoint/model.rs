//! MiniMind's whole model at inference, around attnstep's own attention.
//!
//! `MiniMindForCausalLM.forward` feeds each layer the previous one's output; a layer's KV cache
//! depends only on that layer's inputs at earlier steps. So the run goes layer by layer, and each
//! layer's attention takes all steps at once through [`crate::forward::trace_with`], the same
//! code (and the same KV cache carried across calls) that every stage view shows. Around it, as
//! `MiniMindBlock.forward` does:
//!
//! ```text
//! h = h + attn(input_layernorm(h));  h = h + mlp(post_attention_layernorm(h))
//! ```
//!
//! with `mlp` the SwiGLU `down(silu(gate(x)) * up(x))` or MiniMind's `MOEFeedForward`; then the
//! final `norm` and `lm_head` for the last position.

use ndarray::{Array2, ArrayView2, Axis, s};

use crate::backend::Backend;
use crate::forward;
use crate::numeric::{Numeric, Tensor};
use crate::trace::StageId;

use super::error::CheckpointError;
use super::open::Checkpoint;

/// What running token ids through the model gives.
#[derive(Clone, Debug)]
pub struct ModelRun {
    /// The chosen layer's attention input `x` (its input_layernorm's output), one
    /// `[bsz=1, seq_len, hidden]` tensor per step.
    pub layer_inputs: Vec<Tensor>,
    /// The residual stream entering the chosen layer (before its input_layernorm), per step.
    pub layer_residuals: Vec<Tensor>,
    /// Every layer's output (`MiniMindBlock.forward`), `hidden_states[layer][step]`, each
    /// `[bsz=1, seq_len, hidden]`.
    pub hidden_states: Vec<Vec<Tensor>>,
    /// The five most likely next tokens after the last position, most likely first.
    pub top5: Vec<Prediction>,
}

/// One candidate next token.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    pub id: u32,
    /// Readable label ([`super::tokenizer`]).
    pub label: String,
    /// softmax over the whole vocabulary of the last position's logits.
    pub prob: f32,
}

impl Checkpoint {
    /// Runs `ids` through the model in the forward calls `steps` (prefill first, e.g.
    /// `[5, 1, 1]`), recording `layer`'s attention input, every layer's output, and the top-5
    /// next tokens.
    pub fn run(
        &self,
        ids: &[u32],
        steps: &[usize],
        layer: usize,
    ) -> Result<ModelRun, CheckpointError> {
        self.check_ids(ids)?;
        self.check_layer(layer)?;
        let cfg = self.attention_config(steps, None)?;
        self.check_steps(ids.len(), steps)?;
        let mut b = Numeric::new(cfg.seed);
        let mut h = self.embed(ids, steps);
        let mut layer_inputs = Vec::new();
        let mut layer_residuals = Vec::new();
        let mut hidden_states = Vec::with_capacity(self.config.num_hidden_layers);
        for l in 0..self.config.num_hidden_layers {
            let input_norm = self.norm_weight(&format!("model.layers.{l}.input_layernorm.weight"));
            let xs: Vec<Tensor> = h
                .iter()
                .map(|h| b.rms_norm(h, &input_norm, self.config.rms_norm_eps))
                .collect();
            if l == layer {
                layer_inputs = xs.clone();
                layer_residuals = h.clone();
            }
            let trace = forward::trace_with(&cfg, &mut b, self.layer_weights(l)?, xs);
            let post_norm =
                self.norm_weight(&format!("model.layers.{l}.post_attention_layernorm.weight"));
            let mlp = self.mlp(l);
            for (h, step) in h.iter_mut().zip(&trace.steps) {
                let out = step
                    .stage(StageId::OProj)
                    .and_then(|s| s.tensor(crate::stage::TensorId::Output))
                    .expect("every forward call ends with o_proj");
                *h = b.add(h, out); // hidden_states += residual
                let normed = b.rms_norm(h, &post_norm, self.config.rms_norm_eps);
                let delta = mlp.forward(matrix(&normed));
                h.data += &delta
                    .into_dyn()
                    .into_shape_with_order(h.data.raw_dim())
                    .expect("same size");
            }
            hidden_states.push(h.clone());
        }
        let top5 = self.top5(h.last().expect("at least one step"), &mut b);
        Ok(ModelRun {
            layer_inputs,
            layer_residuals,
            hidden_states,
            top5,
        })
    }

    /// `embed_tokens(input_ids)` for each step's ids, reading only the rows used.
    fn embed(&self, ids: &[u32], steps: &[usize]) -> Vec<Tensor> {
        let hidden = self.config.hidden_size;
        let mut start = 0;
        steps
            .iter()
            .map(|&n| {
                let mut data = Array2::<f32>::zeros((n, hidden));
                for (r, &id) in ids[start..start + n].iter().enumerate() {
                    let row = self.tensors.row("model.embed_tokens.weight", id as usize);
                    data.row_mut(r).assign(&ndarray::Array1::from(row));
                }
                start += n;
                hidden_tensor(data)
            })
            .collect()
    }

    /// `lm_head(norm(h))` at the last position, softmax, and the five largest.
    fn top5(&self, last_step: &Tensor, b: &mut Numeric) -> Vec<Prediction> {
        let norm = self.norm_weight("model.norm.weight");
        let normed = b.rms_norm(last_step, &norm, self.config.rms_norm_eps);
        let rows = matrix(&normed);
        let x = rows.row(rows.nrows() - 1);
        let head = if self.style.separate_head {
            "lm_head.weight"
        } else {
            "model.embed_tokens.weight"
        };
        // One vocabulary row at a time, so the head is never copied whole.
        let logits: Vec<f32> = (0..self.config.vocab_size)
            .map(|v| {
                let w = self.tensors.row(head, v);
                x.iter().zip(&w).map(|(a, b)| a * b).sum()
            })
            .collect();
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum: f32 = logits.iter().map(|l| (l - max).exp()).sum();
        let mut order: Vec<usize> = (0..logits.len()).collect();
        order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
        order
            .into_iter()
            .take(5)
            .map(|v| Prediction {
                id: v as u32,
                label: self.tokenizer.label(v as u32),
                prob: (logits[v] - max).exp() / sum,
            })
            .collect()
    }

    /// Layer `l`'s feed-forward, its weights converted to f32.
    fn mlp(&self, l: usize) -> Mlp {
        let p = format!("model.layers.{l}.mlp");
        let swiglu = |p: &str| SwiGlu {
            gate: self.tensors.matrix(&format!("{p}.gate_proj.weight")),
            up: self.tensors.matrix(&format!("{p}.up_proj.weight")),
            down: self.tensors.matrix(&format!("{p}.down_proj.weight")),
        };
        match &self.config.moe {
            None => Mlp::Dense(swiglu(&p)),
            Some(moe) => Mlp::Moe {
                gate: self.tensors.matrix(&format!("{p}.gate.weight")),
                experts: (0..moe.num_experts)
                    .map(|e| swiglu(&format!("{p}.experts.{e}")))
                    .collect(),
                top_k: moe.num_experts_per_tok,
                norm_topk_prob: moe.norm_topk_prob,
            },
        }
    }
}

/// `[tokens, hidden]` rows as `[bsz=1, seq_len, hidden]`.
fn hidden_tensor(data: Array2<f32>) -> Tensor {
    let (n, hidden) = data.dim();
    let shape = crate::shape![(Bsz, 1), (SeqLen, n), (Hidden, hidden)];
    Tensor::new(
        shape,
        data.into_dyn()
            .into_shape_with_order(ndarray::IxDyn(&[1, n, hidden]))
            .expect("same size"),
    )
}

/// `[bsz=1, seq_len, hidden]` as `[tokens, hidden]`.
fn matrix(t: &Tensor) -> Array2<f32> {
    let hidden = t.shape.last().size;
    let tokens = t.data.len() / hidden.max(1);
    t.data
        .as_standard_layout()
        .into_owned()
        .into_shape_with_order((tokens, hidden))
        .expect("contiguous")
}

/// MiniMind's `FeedForward`: `down_proj(silu(gate_proj(x)) * up_proj(x))`.
struct SwiGlu {
    gate: Array2<f32>,
    up: Array2<f32>,
    down: Array2<f32>,
}

impl SwiGlu {
    fn forward(&self, x: ArrayView2<f32>) -> Array2<f32> {
        let mut act = x.dot(&self.gate.t());
        act.mapv_inplace(|v| v / (1.0 + (-v).exp())); // silu(v) = v · sigmoid(v)
        act *= &x.dot(&self.up.t());
        act.dot(&self.down.t())
    }
}

/// A block's `mlp`: dense, or MiniMind's mixture of experts.
enum Mlp {
    Dense(SwiGlu),
    Moe {
        gate: Array2<f32>,
        experts: Vec<SwiGlu>,
        top_k: usize,
        norm_topk_prob: bool,
    },
}

impl Mlp {
    fn forward(&self, x: Array2<f32>) -> Array2<f32> {
        match self {
            Mlp::Dense(ffn) => ffn.forward(x.view()),
            Mlp::Moe {
                gate,
                experts,
                top_k,
                norm_topk_prob,
            } => moe_forward(x.view(), gate, experts, *top_k, *norm_topk_prob),
        }
    }
}

/// `MOEFeedForward.forward` at inference: softmax over the router's scores, each token's top-k
/// experts, their weights renormalised (`/ (sum + 1e-20)`) when `norm_topk_prob`, and the
/// experts' outputs added in expert order (`y.index_add_`).
fn moe_forward(
    x: ArrayView2<f32>,
    gate: &Array2<f32>,
    experts: &[SwiGlu],
    top_k: usize,
    norm_topk_prob: bool,
) -> Array2<f32> {
    let mut scores = x.dot(&gate.t()); // [tokens, num_experts]
    for mut row in scores.axis_iter_mut(Axis(0)) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        row.mapv_inplace(|v| (v - max).exp());
        let sum = row.sum();
        row.mapv_inplace(|v| v / sum);
    }
    // routes[t] = [(expert, weight)] for token t.
    let routes: Vec<Vec<(usize, f32)>> = scores
        .axis_iter(Axis(0))
        .map(|row| {
            let mut order: Vec<usize> = (0..row.len()).collect();
            order.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
            let mut chosen: Vec<(usize, f32)> =
                order[..top_k].iter().map(|&e| (e, row[e])).collect();
            if norm_topk_prob {
                let total: f32 = chosen.iter().map(|c| c.1).sum::<f32>() + 1e-20;
                chosen.iter_mut().for_each(|c| c.1 /= total);
            }
            chosen
        })
        .collect();
    let mut y = Array2::<f32>::zeros(x.raw_dim());
    for (e, expert) in experts.iter().enumerate() {
        let tokens: Vec<(usize, f32)> = routes
            .iter()
            .enumerate()
            .filter_map(|(t, r)| r.iter().find(|c| c.0 == e).map(|c| (t, c.1)))
            .collect();
        if tokens.is_empty() {
            continue;
        }
        let picked = x.select(Axis(0), &tokens.iter().map(|t| t.0).collect::<Vec<_>>());
        let out = expert.forward(picked.view());
        for (i, &(t, w)) in tokens.iter().enumerate() {
            let mut row = y.slice_mut(s![t, ..]);
            row.scaled_add(w, &out.row(i));
        }
    }
    y
}
