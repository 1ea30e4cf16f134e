//! The table of stage descriptors: one [`StageSpec`] per [`StageId`], in MiniMind's order.

use super::descriptor::{HeadOf, Heat, Output, Show, StageSpec};
use super::id::{StageId, TensorId, WeightId};
use super::prose;

const fn out(id: TensorId, from: &'static [TensorId], op: &'static str) -> Output {
    Output {
        id,
        from,
        op,
        given: false,
    }
}

const fn given(id: TensorId) -> Output {
    Output {
        id,
        from: &[],
        op: "",
        given: true,
    }
}

use TensorId as T;

/// The descriptor of every stage, in [`StageId`] order.
pub static SPECS: [StageSpec; 17] = [
    StageSpec {
        id: StageId::Source,
        name: "source",
        title: "Where x comes from: the real hidden state",
        code: "hidden_states = self.embed_tokens(input_ids)\n\
               for layer in self.layers[:N]: hidden_states, _ = layer(hidden_states, …)\n\
               x = self.layers[N].input_layernorm(hidden_states)",
        outputs: &[given(T::HiddenIn)],
        reads: &[],
        weights: &[],
        changes_shape: false,
        optional: true,
        show: &[Show::Tokens(
            T::HiddenIn,
            "the residual stream entering this layer (input_layernorm makes it x)",
        )],
        about: prose::source,
    },
    StageSpec {
        id: StageId::Input,
        name: "input",
        title: "Input hidden states",
        code: "bsz, seq_len, _ = x.shape",
        outputs: &[given(T::X)],
        reads: &[],
        weights: &[],
        changes_shape: false,
        optional: false,
        show: &[Show::Tokens(
            T::X,
            "rows: tokens · columns: hidden features",
        )],
        about: prose::input,
    },
    StageSpec {
        id: StageId::Project,
        name: "project",
        title: "Project x into queries, keys and values",
        code: "xq, xk, xv = self.q_proj(x), self.k_proj(x), self.v_proj(x)",
        outputs: &[
            out(T::XqProj, &[T::X], "q_proj(x)"),
            out(T::XkProj, &[T::X], "k_proj(x)"),
            out(T::XvProj, &[T::X], "v_proj(x)"),
        ],
        reads: &[],
        weights: &[WeightId::QProj, WeightId::KProj, WeightId::VProj],
        changes_shape: true,
        optional: false,
        show: &[
            Show::Features(
                T::XqProj,
                HeadOf::Query,
                "queries: rows: tokens · columns: features, by query head",
            ),
            Show::Features(
                T::XkProj,
                HeadOf::Kv,
                "keys: rows: tokens · columns: features, by KV head",
            ),
            Show::Features(
                T::XvProj,
                HeadOf::Kv,
                "values: rows: tokens · columns: features, by KV head",
            ),
        ],
        about: prose::project,
    },
    StageSpec {
        id: StageId::SplitHeads,
        name: "split_heads",
        title: "Split the features into heads",
        code: "xq = xq.view(bsz, seq_len, self.n_local_heads, self.head_dim)\n\
               xk = xk.view(bsz, seq_len, self.n_local_kv_heads, self.head_dim)\n\
               xv = xv.view(bsz, seq_len, self.n_local_kv_heads, self.head_dim)",
        outputs: &[
            out(
                T::XqHeads,
                &[T::XqProj],
                "xq.view(bsz, seq_len, n_heads, head_dim)",
            ),
            out(
                T::XkHeads,
                &[T::XkProj],
                "xk.view(bsz, seq_len, n_kv_heads, head_dim)",
            ),
            out(
                T::XvHeads,
                &[T::XvProj],
                "xv.view(bsz, seq_len, n_kv_heads, head_dim)",
            ),
        ],
        reads: &[],
        weights: &[],
        changes_shape: true,
        optional: false,
        show: &[
            Show::Head(T::XqHeads, HeadOf::Query),
            Show::Head(T::XkHeads, HeadOf::Kv),
        ],
        about: prose::split_heads,
    },
    StageSpec {
        id: StageId::QkNorm,
        name: "qk_norm",
        title: "Normalise queries and keys (QK-norm)",
        code: "xq, xk = self.q_norm(xq), self.k_norm(xk)",
        outputs: &[
            out(T::XqNorm, &[T::XqHeads], "q_norm(xq)"),
            out(T::XkNorm, &[T::XkHeads], "k_norm(xk)"),
        ],
        reads: &[],
        weights: &[WeightId::QNorm, WeightId::KNorm],
        changes_shape: false,
        optional: true,
        show: &[Show::QkNorms],
        about: prose::qk_norm,
    },
    StageSpec {
        id: StageId::Rope,
        name: "rope",
        title: "Rotate queries and keys by position (RoPE)",
        code: "cos, sin = position_embeddings\n\
               xq, xk = apply_rotary_pos_emb(xq, xk, cos, sin)",
        outputs: &[
            given(T::Cos),
            given(T::Sin),
            out(
                T::XqRope,
                &[T::XqNorm, T::XqHeads],
                "apply_rotary_pos_emb(xq, …)",
            ),
            out(
                T::XkRope,
                &[T::XkNorm, T::XkHeads],
                "apply_rotary_pos_emb(…, xk)",
            ),
        ],
        reads: &[],
        weights: &[],
        changes_shape: false,
        optional: false,
        show: &[Show::Rope, Show::RopeRows, Show::RopeRelative],
        about: prose::rope,
    },
    StageSpec {
        id: StageId::KvCache,
        name: "kv_cache",
        title: "Append the new keys and values to the cache",
        code: "if past_key_value is not None:\n    \
               xk = torch.cat([past_key_value[0], xk], dim=1)\n    \
               xv = torch.cat([past_key_value[1], xv], dim=1)\n\
               past_kv = (xk, xv) if use_cache else None",
        outputs: &[
            out(T::XkCache, &[T::XkRope], "torch.cat([past_k, xk], dim=1)"),
            out(T::XvCache, &[T::XvHeads], "torch.cat([past_v, xv], dim=1)"),
        ],
        reads: &[],
        weights: &[],
        changes_shape: true,
        optional: false,
        show: &[Show::KvCache],
        about: prose::kv_cache,
    },
    StageSpec {
        id: StageId::RepeatKv,
        name: "repeat_kv",
        title: "Share each KV head with its group of query heads",
        code: "repeat_kv(xk, self.n_rep), repeat_kv(xv, self.n_rep)",
        outputs: &[
            out(T::XkRepeat, &[T::XkCache], "repeat_kv(xk, n_rep)"),
            out(T::XvRepeat, &[T::XvCache], "repeat_kv(xv, n_rep)"),
        ],
        reads: &[],
        weights: &[],
        changes_shape: true,
        optional: false,
        show: &[Show::RepeatKv],
        about: prose::repeat_kv,
    },
    StageSpec {
        id: StageId::Transpose,
        name: "transpose",
        title: "Move the head axis before the sequence axis",
        code: "xq, xk, xv = (xq.transpose(1, 2), repeat_kv(xk, self.n_rep).transpose(1, 2), \
               repeat_kv(xv, self.n_rep).transpose(1, 2))",
        outputs: &[
            out(T::XqT, &[T::XqRope], "xq.transpose(1, 2)"),
            out(T::XkT, &[T::XkRepeat], "xk.transpose(1, 2)"),
            out(T::XvT, &[T::XvRepeat], "xv.transpose(1, 2)"),
        ],
        reads: &[],
        weights: &[],
        changes_shape: true,
        optional: false,
        show: &[],
        about: prose::transpose,
    },
    StageSpec {
        id: StageId::Scores,
        name: "scores",
        title: "Score every query against every key",
        code: "scores = (xq @ xk.transpose(-2, -1)) / math.sqrt(self.head_dim)",
        outputs: &[out(
            T::Scores,
            &[T::XqT],
            "xq @ xk.transpose(-2, -1) / sqrt(head_dim)",
        )],
        reads: &[T::XkT],
        weights: &[],
        changes_shape: true,
        optional: false,
        show: &[Show::Attention(
            T::Scores,
            Heat::Signed,
            "rows: queries · columns: keys",
        )],
        about: prose::scores,
    },
    StageSpec {
        id: StageId::CausalMask,
        name: "causal_mask",
        title: "Causal mask: no looking ahead",
        code: "if self.is_causal: scores[:, :, :, -seq_len:] += \
               torch.full((seq_len, seq_len), float(\"-inf\"), device=scores.device).triu(1)",
        outputs: &[out(T::CausalMask, &[], "")],
        reads: &[T::Scores],
        weights: &[],
        changes_shape: false,
        optional: false,
        show: &[Show::CausalMask],
        about: prose::causal_mask,
    },
    StageSpec {
        id: StageId::PaddingMask,
        name: "padding_mask",
        title: "Padding mask: ignore pad tokens",
        code: "if attention_mask is not None: \
               scores += (1.0 - attention_mask.unsqueeze(1).unsqueeze(2)) * -1e9",
        outputs: &[
            given(T::AttentionMask),
            out(
                T::PaddingMask,
                &[T::AttentionMask],
                "(1.0 - attention_mask.unsqueeze(1).unsqueeze(2)) * -1e9",
            ),
        ],
        reads: &[],
        weights: &[],
        changes_shape: false,
        optional: true,
        show: &[Show::Padding],
        about: prose::padding_mask,
    },
    StageSpec {
        id: StageId::Softmax,
        name: "softmax",
        title: "Softmax: scores become attention weights",
        code: "F.softmax(scores.float(), dim=-1).type_as(xq)",
        outputs: &[
            out(T::ScoresMasked, &[T::Scores], "scores + masks"),
            out(T::Weights, &[T::ScoresMasked], "F.softmax(scores, dim=-1)"),
        ],
        reads: &[],
        weights: &[],
        changes_shape: false,
        optional: false,
        show: &[
            Show::Attention(T::ScoresMasked, Heat::Masked, "what softmax receives"),
            Show::Attention(T::Weights, Heat::Weights, "each row sums to 1 (Σ row)"),
            Show::ScaleView,
            Show::FusedPath,
        ],
        about: prose::softmax,
    },
    StageSpec {
        id: StageId::WeightedSum,
        name: "weighted_sum",
        title: "Mix the values with the weights",
        code: "output = self.attn_dropout(F.softmax(...)) @ xv",
        outputs: &[out(T::AttnOut, &[T::Weights], "weights @ xv")],
        reads: &[T::XvT],
        weights: &[],
        changes_shape: true,
        optional: false,
        show: &[Show::HeadRows(T::AttnOut)],
        about: prose::weighted_sum,
    },
    StageSpec {
        id: StageId::MergeHeads,
        name: "merge_heads",
        title: "Merge the heads back together",
        code: "output = output.transpose(1, 2).reshape(bsz, seq_len, -1)",
        outputs: &[out(
            T::Merged,
            &[T::AttnOut],
            "output.transpose(1, 2).reshape(bsz, seq_len, -1)",
        )],
        reads: &[],
        weights: &[],
        changes_shape: true,
        optional: false,
        show: &[Show::HeadColumns(T::Merged)],
        about: prose::merge_heads,
    },
    StageSpec {
        id: StageId::OProj,
        name: "o_proj",
        title: "Output projection",
        code: "output = self.resid_dropout(self.o_proj(output))",
        outputs: &[out(T::Output, &[T::Merged], "o_proj(output)")],
        reads: &[],
        weights: &[WeightId::OProj],
        changes_shape: true,
        optional: false,
        show: &[Show::Tokens(
            T::Output,
            "rows: tokens · columns: hidden features",
        )],
        about: prose::o_proj,
    },
    StageSpec {
        id: StageId::Predict,
        name: "predict",
        title: "What the model predicts next",
        code: "logits = self.lm_head(self.model.norm(hidden_states))[:, -1]\n\
               probs = F.softmax(logits, dim=-1)",
        outputs: &[],
        reads: &[],
        weights: &[],
        changes_shape: false,
        optional: true,
        show: &[Show::Predictions],
        about: prose::predict,
    },
];
