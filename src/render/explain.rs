//! What each stage does and why, in plain words, with this run's own numbers. Lessons can add
//! notes after it (see [`super::note`]).

use super::View;
use crate::numeric::Tensor;
use crate::trace::{StageId, StepKind, Trace};

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The explanation of stage `stage` of step `step`, one paragraph (wrapped by the caller).
pub fn explain(trace: &Trace<Tensor>, step: usize, stage: usize, view: &View) -> String {
    let cfg = &trace.config;
    let st = &trace.steps[step];
    let (bsz, seq, past, kv) = (cfg.batch, st.seq_len, st.start_pos, st.kv_len());
    let (hidden, nh, nkv, hd, rep) = (
        cfg.hidden_size,
        cfg.num_attention_heads,
        cfg.num_key_value_heads,
        cfg.head_dim,
        cfg.n_rep(),
    );
    let h = view.head.min(nh - 1);
    let kvh = h / rep;
    let span = if seq == 1 {
        format!("position {past}")
    } else {
        format!("positions {past}…{}", kv - 1)
    };
    let sharing = if nkv == nh {
        "every query head has its own KV head (multi-head attention)".to_string()
    } else if nkv == 1 {
        format!("all {nh} query heads share one KV head (multi-query attention)")
    } else {
        format!("each KV head serves {rep} query heads (grouped-query attention)")
    };
    match st.stages[stage].id {
        StageId::Input => {
            let call = match st.kind {
                StepKind::Prefill => format!(
                    "This is the prefill: the whole prompt of {} goes through the layer at once.",
                    plural(seq, "token", "tokens")
                ),
                StepKind::Decode => format!(
                    "This is a decode call: {} already sit in the KV cache, so only the one new \
                     token at position {past} goes through the layer.",
                    plural(past, "earlier token", "earlier tokens")
                ),
                StepKind::Chunk => format!(
                    "This call adds a chunk of {seq} tokens at {span}; the {past} before them are \
                     already in the KV cache."
                ),
            };
            let rows = if bsz == 1 {
                "the one sequence in the batch".to_string()
            } else {
                format!("each of the {bsz} sequences in the batch")
            };
            format!(
                "x holds {} for {rows}; every token is a vector of {hidden} numbers (random \
                 here, seed {}; in the model they come from the layer before). {call}",
                plural(seq, "token", "tokens"),
                cfg.seed
            )
        }
        StageId::Project => format!(
            "Three learned matrices turn each token's {hidden} numbers into a query (what the token \
             looks for), a key (what it can be found by) and a value (what it hands on when it is \
             picked). Each is x·Wᵀ with W stored [out, in] and no bias. Queries get {nh}×{hd} = {} \
             features; keys and values get {nkv}×{hd} = {}, because {sharing}.",
            nh * hd,
            nkv * hd
        ),
        StageId::SplitHeads => format!(
            "No number changes here: .view only regroups them. The {} query features become {nh} \
             heads of {hd}, the {} key and value features {nkv} heads of {hd}. Head {h} owns \
             features {}…{} of xq_proj, which is the table above.",
            nh * hd,
            nkv * hd,
            h * hd,
            (h + 1) * hd - 1
        ),
        StageId::QkNorm => format!(
            "RMSNorm over head_dim divides every query row and key row by its root-mean-square \
             (then multiplies by a learned weight per feature, which starts at 1). Whatever length \
             a row had before, afterwards it is about √{hd} = {:.3}, so the dot products in the \
             scores stage cannot grow huge. Values are not normalised.",
            (hd as f64).sqrt()
        ),
        StageId::Rope => format!(
            "RoPE turns feature pairs (d, d+{}) of every query and key by an angle that grows with \
             the token's position: position p turns pair i by p·θ^(−2i/{hd}), θ = {}. These tokens \
             sit at {span}, so the cos/sin rows are those positions' rows{}. Only queries and keys \
             turn, values do not; afterwards q·k depends on how far apart two tokens are, not on \
             where they are.",
            hd / 2,
            cfg.rope_theta,
            if past > 0 {
                ": a later call keeps counting from the cache, it does not restart at 0"
            } else {
                ""
            }
        ),
        StageId::KvCache => {
            if past == 0 {
                format!(
                    "The cache starts empty, so the {} new keys and values simply become it: {kv} \
                     rows along dim 1. Keys are stored after RoPE, values as projected, in the \
                     [bsz, len, n_kv_heads, head_dim] layout — before repeat_kv, so the cache holds \
                     {nkv} KV heads, not {nh}.",
                    seq
                )
            } else {
                format!(
                    "torch.cat along dim 1 appends the {} to the {past} cached rows: the length \
                     grows {past} → {kv}. The old rows are reused as they are, which is why a later \
                     call only computes keys and values for its new tokens. Because the cache is \
                     stored before repeat_kv it holds {nkv} KV heads instead of {nh}: {rep}× less \
                     memory.",
                    plural(seq, "new row", "new rows")
                )
            }
        }
        StageId::RepeatKv => {
            if rep == 1 {
                format!(
                    "n_rep is 1 ({sharing}), so repeat_kv hands its input back unchanged: \
                     query head {h} reads KV head {kvh}."
                )
            } else {
                format!(
                    "The {nkv} KV heads are stretched to match the {nh} query heads: each KV head \
                     is repeated {rep} times in a row (expand to the 5-D shape, then reshape), so \
                     query heads 0…{} read KV head 0, the next {rep} read KV head 1{}. \
                     Query head {h} reads KV head {kvh}. The copies are the same numbers, as the \
                     equal rows show; only the cache before this stage saves memory.",
                    rep - 1,
                    if nkv > 2 { ", and so on" } else { "" }
                )
            }
        }
        StageId::Transpose => format!(
            "Another pure re-layout: swapping axes 1 and 2 puts the head axis before the token \
             axis, so each (batch row, head) pair becomes one matrix — {} × {hd} for the queries, \
             {} × {hd} for keys and values — and the next stage is one matrix product per head.",
            plural(seq, "query row", "query rows"),
            plural(kv, "key row", "key rows")
        ),
        StageId::Scores => format!(
            "Each of the {nh} query heads scores its {} against {}: a dot product of two \
             {hd}-number rows, divided by √{hd} = {:.3} so the size does not grow with head_dim. \
             Row = the query's position, column = the key's; higher means more relevant. \
             Nothing is hidden yet: a query still scores keys that come after it.",
            plural(seq, "query", "queries"),
            plural(kv, "key", "keys"),
            (hd as f64).sqrt()
        ),
        StageId::CausalMask => {
            if !cfg.causal {
                "Causal masking is off (--no-causal): the mask is all 0 and every query may look \
                 at every key, as in an encoder."
                    .to_string()
            } else {
                let tail = if past == 0 {
                    String::new()
                } else {
                    format!(
                        " MiniMind builds a {seq}×{seq} triangle and adds it to the last {seq} of \
                         the {kv} columns only: the {past} cached keys are all in the past, so \
                         their columns stay 0."
                    )
                };
                let one = if seq == 1 {
                    " With a single query nothing is blocked: the newest token may look at \
                     everything before it."
                } else {
                    ""
                };
                format!(
                    "A token may use itself and earlier tokens, never later ones. The query at \
                     position p may see key j when j ≤ p; the mask adds -∞ everywhere else, so \
                     those keys get exactly 0 weight after softmax.{tail}{one}"
                )
            }
        }
        StageId::PaddingMask => {
            let padded: Vec<String> = cfg
                .attention_mask
                .as_ref()
                .map(|rows| {
                    rows.iter()
                        .enumerate()
                        .map(|(r, row)| {
                            let n = row[..kv.min(row.len())].iter().filter(|&&m| m == 0).count();
                            format!("row {r}: {n}")
                        })
                        .collect()
                })
                .unwrap_or_default();
            format!(
                "attention_mask marks real tokens 1 and padding 0 over all {kv} tokens so far \
                 (padded keys per batch row — {}). (1 − mask)·−1e9 turns every 0 into −1e9 and, \
                 shaped [bsz, 1, 1, kv_len], it is added to every head's and every query's scores. \
                 It is a large finite number rather than −∞, so a query whose keys are all padding \
                 still gets a softmax instead of NaN.",
                padded.join(", ")
            )
        }
        StageId::Softmax => format!(
            "Softmax runs along each row (in float32): e^(s − max) / Σ e^(s − max). Entries blocked \
             with −∞ become exactly 0{}; every row sums to 1, as the Σ column shows. Row i is how \
             query i divides its attention among the {}.",
            if cfg.attention_mask.is_some() {
                ", padded ones (−1e9) about 0"
            } else {
                ""
            },
            plural(kv, "key", "keys")
        ),
        StageId::WeightedSum => format!(
            "Each query's output is a weighted average of the value rows: weights \
             [{seq} × {kv}] @ values [{kv} × {hd}] = [{seq} × {hd}] per head. A row with one big \
             weight mostly copies that token's value; an even row blends many."
        ),
        StageId::MergeHeads => format!(
            "Transpose back to [bsz, seq_len, n_heads, head_dim], then reshape so every token has \
             its {nh} head outputs side by side: {} features. Column hN/d above is head N's \
             feature d.",
            nh * hd
        ),
        StageId::OProj => {
            let next = if step + 1 < trace.steps.len() {
                format!(" The cache now holds {kv} tokens for the next call.")
            } else {
                String::new()
            };
            format!(
                "o_proj, a [{hidden} × {}] matrix, mixes what the heads found and maps it back to \
                 the model width {hidden}. The decoder block adds this output to its input (the \
                 residual stream), outside this layer.{next}",
                nh * hd
            )
        }
    }
}
