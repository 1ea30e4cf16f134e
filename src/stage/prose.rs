//! What each stage does and why, in plain words, written from the [`Facts`] of the step shown.
//! Every sentence handles the edges (one token or many, MHA, MQA, decode steps, no causal
//! mask, no padding), so it stays true under any configuration.

use super::facts::Facts;
use crate::trace::StepKind;

fn count(n: usize, one: &str, many: &str) -> String {
    Facts::count(n, one, many)
}

/// `position 4` or `positions 2…6`.
/// `citation` (", as the Σ column shows"), or nothing under a planted slip, whose tables may
/// not show what MiniMind's code does: the text then states the rule only.
fn as_shown(f: &Facts, citation: &'static str) -> &'static str {
    if f.cfg.bug.is_none() { citation } else { "" }
}

fn span(f: &Facts) -> String {
    if f.seq_len == 1 {
        format!("position {}", f.past_len)
    } else {
        format!("positions {}…{}", f.past_len, f.kv_len - 1)
    }
}

/// How query heads share KV heads, in one clause.
fn sharing(f: &Facts) -> String {
    if f.n_heads == 1 {
        "the single query head has the single KV head to itself".to_string()
    } else if f.n_kv_heads == f.n_heads {
        "every query head has its own KV head (multi-head attention)".to_string()
    } else if f.n_kv_heads == 1 {
        format!(
            "all {} query heads share one KV head (multi-query attention)",
            f.n_heads
        )
    } else {
        format!(
            "each KV head serves {} query heads (grouped-query attention)",
            f.n_rep
        )
    }
}

pub fn input(f: &Facts) -> String {
    let call = match f.kind {
        StepKind::Prefill => format!(
            "This is the prefill: the whole prompt of {} goes through the layer at once.",
            count(f.seq_len, "token", "tokens")
        ),
        StepKind::Decode => format!(
            "This is a decode call: {} already {} in the KV cache, so only the one new token at \
             position {} goes through the layer.",
            count(f.past_len, "earlier token", "earlier tokens"),
            if f.past_len == 1 { "sits" } else { "sit" },
            f.past_len
        ),
        StepKind::Chunk => format!(
            "This call adds a chunk of {} tokens at {}; the {} before them {} already in the KV \
             cache.",
            f.seq_len,
            span(f),
            count(f.past_len, "token", "tokens"),
            if f.past_len == 1 { "is" } else { "are" }
        ),
    };
    let rows = if f.bsz == 1 {
        "the one sequence in the batch".to_string()
    } else {
        format!("each of the {} sequences in the batch", f.bsz)
    };
    let origin = match f.model {
        Some(m) => format!(
            "the real hidden state of layer {} of {}, normalised by its input_layernorm",
            m.layer, m.name
        ),
        None => format!(
            "random here, seed {}; in the model they come from the layer before",
            f.cfg.seed
        ),
    };
    format!(
        "x holds {} for {rows}; every token is a vector of {} numbers ({origin}). {call}",
        count(f.seq_len, "token", "tokens"),
        f.hidden
    )
}

pub fn project(f: &Facts) -> String {
    format!(
        "Three learned matrices turn each token's {} numbers into a query (what the token looks \
         for), a key (what it can be found by) and a value (what it hands on when it is picked). \
         Each is x·Wᵀ with W stored [out, in] and no bias. Queries get {}×{} = {} features; keys \
         and values get {}×{} = {}, because {}.",
        f.hidden,
        f.n_heads,
        f.head_dim,
        f.n_heads * f.head_dim,
        f.n_kv_heads,
        f.head_dim,
        f.n_kv_heads * f.head_dim,
        sharing(f)
    )
}

pub fn split_heads(f: &Facts) -> String {
    let hd = f.head_dim;
    format!(
        "No number changes here: .view only regroups them. The {} query features become {} of \
         {hd}, the {} key and value features {} of {hd}. Head {} owns features {}…{} of xq_proj.",
        f.n_heads * hd,
        count(f.n_heads, "head", "heads"),
        f.n_kv_heads * hd,
        count(f.n_kv_heads, "head", "heads"),
        f.head,
        f.head * hd,
        (f.head + 1) * hd - 1
    )
}

pub fn qk_norm(f: &Facts) -> String {
    let (hd, root) = (f.head_dim, (f.head_dim as f64).sqrt());
    let lengths = if f.norm_weights_one() {
        format!(
            "In this run every one of those weights is 1 (their starting value), so whatever \
             length a row had before, afterwards it is about √{hd} = {root:.3}, and the dot products in \
             the scores stage cannot grow huge."
        )
    } else {
        let range = match f.norm_weights {
            Some((lo, hi)) => format!(
                ": from about √{hd}·{lo:.3} = {:.3} to √{hd}·{hi:.3} = {:.3}, set by the \
                 smallest and largest |weight| here",
                root * f64::from(lo),
                root * f64::from(hi)
            ),
            None => String::new(),
        };
        format!(
            "Dividing alone would leave every row with length √{hd} = {root:.3}; these weights \
             are trained and not all 1, so they rescale each feature and a row's length after the \
             norm is no longer fixed at √{hd}: it depends on which features the row uses. \
             Whatever the length before, it still ends up in a fixed range{range}, so the dot products in the scores stage cannot grow huge."
        )
    };
    format!(
        "RMSNorm over head_dim divides every query row and key row by its root-mean-square, so \
         its RMS becomes 1, then multiplies each feature by a learned weight (q_norm for \
         queries, k_norm for keys; they start at 1). {lengths} Values are not normalised."
    )
}

pub fn rope(f: &Facts) -> String {
    format!(
        "RoPE turns feature pairs (d, d+{}) of every query and key by an angle that grows with \
         the token's position: position p turns pair i by p·θ^(−2i/{}), θ = {}. {} at {}, so the \
         cos/sin rows are those positions' rows{}. Only queries and keys turn, values do not; \
         afterwards q·k depends on how far apart two tokens are, not on where they are.",
        f.head_dim / 2,
        f.head_dim,
        f.cfg.rope_theta,
        if f.seq_len == 1 {
            "This token sits"
        } else {
            "These tokens sit"
        },
        span(f),
        if f.past_len > 0 {
            ": a later call keeps counting from the cache, it does not restart at 0"
        } else {
            ""
        }
    )
}

pub fn kv_cache(f: &Facts) -> String {
    let saving = if f.n_heads == 1 {
        "With a single head, the cache holds its one KV head.".to_string()
    } else if f.n_kv_heads == f.n_heads {
        format!(
            "With multi-head attention the cache holds all {} KV heads, one per query head.",
            f.n_kv_heads
        )
    } else {
        format!(
            "Because the cache is stored before repeat_kv it holds {} instead of {}: {}× less \
             memory than one KV head per query head.",
            count(f.n_kv_heads, "KV head", "KV heads"),
            f.n_heads,
            f.n_rep
        )
    };
    if f.past_len == 0 {
        format!(
            "The cache starts empty, so the {} simply become it: {} along dim 1. Keys are stored \
             after RoPE, values as projected, in the [bsz, len, n_kv_heads, head_dim] layout. \
             {saving}",
            count(f.seq_len, "new key and value", "new keys and values"),
            count(f.kv_len, "row", "rows")
        )
    } else {
        format!(
            "torch.cat along dim 1 appends the {} to the {}: the length grows {} → {}. \
             The old rows are reused as they are, which is why a later call only computes keys \
             and values for its new tokens. {saving}",
            count(f.seq_len, "new row", "new rows"),
            count(f.past_len, "cached row", "cached rows"),
            f.past_len,
            f.kv_len
        )
    }
}

pub fn repeat_kv(f: &Facts) -> String {
    let (h, kvh, rep) = (f.head, f.kv_head, f.n_rep);
    if rep == 1 {
        return format!(
            "n_rep is 1 ({}), so repeat_kv returns its input unchanged (`if n_rep == 1: return \
             x`): query head {h} reads KV head {kvh}.",
            sharing(f)
        );
    }
    let groups = if f.n_kv_heads == 1 {
        format!("all {} query heads read KV head 0", f.n_heads)
    } else {
        let mut g = format!("query heads 0…{} read KV head 0", rep - 1);
        g.push_str(&format!(", heads {}…{} read KV head 1", rep, 2 * rep - 1));
        if f.n_kv_heads > 2 {
            g.push_str(", and so on");
        }
        g
    };
    let stretched = if f.n_kv_heads == 1 {
        "The one KV head is stretched".to_string()
    } else {
        format!("The {} KV heads are stretched", f.n_kv_heads)
    };
    let shown = as_shown(f, ", as the equal rows show");
    format!(
        "{stretched} to match the {} query heads: each KV head is repeated {rep} times in a row \
         (expand to the 5-D shape, then reshape), so {groups}. Query head {h} reads KV head \
         {kvh}. The copies are the same numbers{shown}; only the cache before this stage saves \
         memory.",
        f.n_heads
    )
}

pub fn transpose(f: &Facts) -> String {
    format!(
        "A pure re-layout: swapping axes 1 and 2 puts the head axis before the token axis, so \
         each (batch row, head) pair becomes one matrix ({} × {} for the queries, {} × {} for \
         keys and values) and the next stage is one matrix product per head.",
        count(f.seq_len, "query row", "query rows"),
        f.head_dim,
        count(f.kv_len, "key row", "key rows"),
        f.head_dim
    )
}

pub fn scores(f: &Facts) -> String {
    let later = if !f.cfg.causal {
        "Causal masking is off, so nothing will be hidden."
    } else if f.seq_len == 1 {
        "With one new query, every key is already at or before it: nothing will need hiding."
    } else {
        "Nothing is hidden yet: a query still scores the keys that come after it."
    };
    let who = if f.n_heads == 1 {
        "The one query head".to_string()
    } else {
        format!("Each of the {} query heads", f.n_heads)
    };
    format!(
        "{who} scores {} against {}: a dot product of two {}-number rows, divided by √{} = \
         {:.3} so the size does not grow with head_dim. Row = the query's position, column = \
         the key's; higher means more relevant. {later}",
        if f.seq_len == 1 {
            "its one query".to_string()
        } else {
            format!("its {} queries", f.seq_len)
        },
        count(f.kv_len, "key", "keys"),
        f.head_dim,
        f.head_dim,
        (f.head_dim as f64).sqrt()
    )
}

pub fn causal_mask(f: &Facts) -> String {
    if !f.cfg.causal {
        return "Causal masking is off (--no-causal): the mask is all 0 and every query may look \
                at every key, as in an encoder."
            .to_string();
    }
    let cached = count(f.past_len, "cached key", "cached keys");
    let are = if f.past_len == 1 { "is" } else { "are" };
    if f.seq_len == 1 {
        let past = if f.past_len == 0 {
            String::new()
        } else {
            format!(
                " The {cached} {are} in the past, so {} 0 as well.",
                if f.past_len == 1 {
                    "its column stays"
                } else {
                    "their columns stay"
                }
            )
        };
        return format!(
            "A token may use itself and earlier tokens, never later ones. With a single new \
             query, the newest token, no key comes after it: MiniMind's triangle is 1×1, a \
             single 0, and nothing is blocked.{past}"
        );
    }
    let tail = if f.past_len == 0 {
        String::new()
    } else {
        format!(
            " MiniMind builds a {s}×{s} triangle and adds it to the last {s} of the {} columns \
             only: the {cached} {are} all in the past, so {} 0.",
            f.kv_len,
            if f.past_len == 1 {
                "its column stays"
            } else {
                "their columns stay"
            },
            s = f.seq_len
        )
    };
    format!(
        "A token may use itself and earlier tokens, never later ones. The query at position p \
         may see key j when j ≤ p; the mask adds -∞ everywhere else, so those keys get exactly 0 \
         weight after softmax.{tail}"
    )
}

pub fn padding_mask(f: &Facts) -> String {
    let padded: Vec<String> = f
        .cfg
        .attention_mask
        .as_ref()
        .map(|rows| {
            rows.iter()
                .enumerate()
                .map(|(r, row)| {
                    let n = row[..f.kv_len.min(row.len())]
                        .iter()
                        .filter(|&&m| m == 0)
                        .count();
                    format!("row {r}: {n}")
                })
                .collect()
        })
        .unwrap_or_default();
    format!(
        "attention_mask marks real tokens 1 and padding 0 over {} so far (padded keys per \
         batch row: {}). (1 − mask)·−1e9 turns every 0 into −1e9 and, shaped [bsz, 1, 1, \
         kv_len], it is added to every head's and every query's scores. It is a large finite \
         number rather than −∞, so a query whose visible keys are all padding still gets a \
         softmax over them instead of NaN (0/0).",
        if f.kv_len == 1 {
            "the one token".to_string()
        } else {
            format!("all {} tokens", f.kv_len)
        },
        padded.join(", ")
    )
}

pub fn softmax(f: &Facts) -> String {
    let causal = if f.cfg.causal && f.seq_len > 1 {
        " Entries blocked with −∞ become exactly 0."
    } else {
        ""
    };
    let padded = if f.cfg.attention_mask.is_some() {
        padded_weights(f)
    } else {
        String::new()
    };
    let blocked = format!("{causal}{padded}");
    let split = if f.kv_len == 1 {
        "With a single key, all of the weight goes to it.".to_string()
    } else {
        format!(
            "Row i is how query i divides its attention among the {} keys.",
            f.kv_len
        )
    };
    let shown = as_shown(f, ", as the Σ column shows");
    format!(
        "Softmax runs along each row (in float32): e^(s − max) / Σ e^(s − max).{blocked} Every \
         row sums to 1{shown}. {split}"
    )
}

/// What the padding mask does to the weights of the selected batch row in this call: about 0
/// on a padded key when the query also sees a real one; a query that sees only padding keeps
/// all its weight on its padded keys.
fn padded_weights(f: &Facts) -> String {
    let b = f.batch;
    let mut out = String::new();
    if f.pad_mixed > 0 {
        out.push_str(&format!(
            " In batch row {b}, a padded key (−1e9) gets about 0 from every query that also \
             sees a real token: e^(−1e9 − max) underflows to 0 in float32."
        ));
    }
    let Some((q, n)) = f.pad_only_first else {
        if f.pad_mixed == 0 {
            out.push_str(&format!(
                " No query of batch row {b} sees a padded key in this call, so the padding \
                 mask changes no weight here."
            ));
        }
        return out;
    };
    let who = if f.pad_only == 1 {
        format!("the query at position {q} sees")
    } else {
        format!("{} queries (the first at position {q}) see", f.pad_only)
    };
    let each = if f.pad_only == 1 {
        format!("1/{n} each")
    } else {
        "1/n each for a query with n of them".to_string()
    };
    let spread = if f.pad_only == 1 && n == 1 {
        "so its single padded key gets all of the weight, 1".to_string()
    } else if f.pad_only_even == Some(true) {
        format!("so the weight spreads evenly over the padded keys, {each}")
    } else {
        format!(
            "so the weight spreads evenly over the padded keys ({each}) as long as the scores \
             are smaller than 32 in size"
        )
    };
    let lead = if f.pad_mixed > 0 {
        "But".to_string()
    } else {
        format!("In batch row {b},")
    };
    out.push_str(&format!(
        " {lead} {who} nothing but padding, and there the padded keys keep the weight: −1e9 is \
         added to every score the query may use, a shift softmax ignores, and in float32 −1e9 + \
         s even rounds back to −1e9 when |s| < 32, {spread}."
    ));
    out
}

pub fn weighted_sum(f: &Facts) -> String {
    format!(
        "Each query's output is a weighted average of the value rows: weights [{s} × {kv}] @ \
         values [{kv} × {hd}] = [{s} × {hd}] per head. A row with one big weight mostly copies \
         that token's value; an even row blends many. attn_dropout is the identity at inference.",
        s = f.seq_len,
        kv = f.kv_len,
        hd = f.head_dim
    )
}

pub fn merge_heads(f: &Facts) -> String {
    let side = if f.n_heads == 1 {
        "its one head's output as a row".to_string()
    } else {
        format!("its {} head outputs side by side", f.n_heads)
    };
    format!(
        "Transpose back to [bsz, seq_len, n_heads, head_dim], then reshape so every token has \
         {side}: {} features. Column hN/d above is head N's feature d.",
        f.n_heads * f.head_dim
    )
}

pub fn o_proj(f: &Facts) -> String {
    let next = if f.is_last() {
        String::new()
    } else {
        format!(
            " The cache now holds {} for the next call.",
            count(f.kv_len, "token", "tokens")
        )
    };
    format!(
        "o_proj, a [{} × {}] matrix, mixes what the heads found and maps it back to the model \
         width {}; resid_dropout is the identity at inference. The decoder block adds this \
         output to its input (the residual stream), outside this layer.{next}",
        f.hidden,
        f.n_heads * f.head_dim,
        f.hidden
    )
}

pub fn source(f: &Facts) -> String {
    let Some(m) = f.model else {
        return String::new();
    };
    let path = if m.layer == 0 {
        "Layer 0 reads the token embeddings themselves (embed_tokens, one row per token id)"
            .to_string()
    } else {
        let before = match m.layer {
            1 => "layer 0".to_string(),
            n => format!("layers 0…{}", n - 1),
        };
        format!(
            "Each token's embedding has already passed through {before} in full (attention \
             with its own KV cache, a residual add, RMSNorm and the MLP, another residual add)"
        )
    };
    format!(
        "{path}. This residual stream, {} numbers per token, enters layer {} of {}; its \
         input_layernorm (RMSNorm) turns it into the x the attention layer reads next.",
        f.hidden, m.layer, m.layers
    )
}

pub fn predict(f: &Facts) -> String {
    let Some(m) = f.model else {
        return String::new();
    };
    format!(
        "After all {} layers, the final RMSNorm and lm_head turn the last position's hidden \
         state into one score per vocabulary entry; softmax makes them probabilities. Real \
         weights give a real guess: the list above is the model's own prediction for the token \
         after the text.",
        m.layers
    )
}
