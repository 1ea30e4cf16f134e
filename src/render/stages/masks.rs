//! The mask views (causal triangle, padding mask and bias), the ÷√head_dim comparison and
//! which branch of MiniMind's forward this call takes.

use ndarray::Array2;

use crate::bugs::Bug;
use crate::forward::takes_fused_path;
use crate::render::demos;
use crate::render::matrix::{self, Bands, Grid, Kind, fmt_num};
use crate::render::palette::Role;
use crate::stage::TensorId;

use super::ctx::*;

pub(super) fn causal(c: &Ctx) -> Vec<String> {
    let Some(t) = c.t(TensorId::CausalMask) else {
        return Vec::new();
    };
    let st = c.st;
    let data = slice2(t, &[None, None]);
    let blocked = data.iter().any(|v| *v == f32::NEG_INFINITY);
    // Captions say where MiniMind puts the -inf; with a slip planted they may not match the
    // table, so they say only what the table holds.
    let what = if !c.cfg.causal {
        "all 0: causal masking is off (--no-causal)".to_string()
    } else if c.cfg.bug.is_some() {
        "-∞ where a query may not look".to_string()
    } else if st.seq_len == 1 {
        "one query, the newest token: no key comes after it, so nothing is blocked".to_string()
    } else if st.start_pos == 0 {
        "-∞ above the diagonal".to_string()
    } else {
        format!(
            "the triangle covers the last {} of {} columns",
            st.seq_len,
            st.kv_len()
        )
    };
    let mut keys = Vec::new();
    if blocked {
        let why = if c.cfg.bug.is_some() {
            "blocked"
        } else {
            "blocked: the key comes after the query"
        };
        keys.push((Role::Blocked, "-∞", why));
    }
    keys.push((Role::Muted, "0", "allowed"));
    vec![
        c.attention(
            format!("causal_mask  rows: queries · columns: keys ({what})"),
            data,
            Kind::CausalMask,
            false,
        ),
        legend(c.pal, c.view.width, &keys),
    ]
}

pub(super) fn padding(c: &Ctx) -> Vec<String> {
    let mut out = Vec::new();
    let row = |r: usize| {
        let l = format!("b{r}");
        if r == c.b && c.cfg.batch > 1 {
            if c.pal.enabled {
                c.pal.paint(&l, Role::Selected)
            } else {
                format!("{l} ◀")
            }
        } else {
            l
        }
    };
    let col = |j: usize| key_header(c.tokens, c.st, j, c.pal);
    if let Some(t) = c.t(TensorId::AttentionMask) {
        out.push(c.grid(Grid::new(
            "attention_mask[bsz, kv_len]  1 = real token, 0 = padding".into(),
            slice2(t, &[None, None]),
            "row╲key",
            &row,
            &col,
            Kind::AttentionMask,
        )));
    }
    if let Some(t) = c.t(TensorId::PaddingMask) {
        let data = slice2(t, &[None, Some(0), Some(0), None]);
        let padded = data.iter().any(|v| *v <= matrix::PAD_THRESHOLD);
        out.push(c.grid(Grid::new(
            "padding_mask[bsz, 1, 1, kv_len]  added to every head's and query's scores".into(),
            data,
            "row╲key",
            &row,
            &col,
            Kind::PaddingBias,
        )));
        let mut keys = Vec::new();
        if padded {
            keys.push((Role::Pad, "-1e9", "padding: pushed to ~0 weight"));
        }
        keys.push((Role::Muted, "0", "kept"));
        out.push(legend(c.pal, c.view.width, &keys));
    }
    out
}

/// Why the scores are divided by √head_dim: the selected head's last query row, as softmax
/// receives it, softmaxed as MiniMind does and without the division.
///
/// The rows are worked out from the recorded scores on the premise that they were divided by
/// √head_dim. A planted scale slip breaks that premise (the recorded scores are divided by
/// √hidden, or not at all), and no honest version of the table fits a hunt: labelling the rows
/// by the run's real divisor names the slip, and recomputing MiniMind's weights from q·k sets
/// the right answer beside the planted table. So under those slips the comparison is left out.
pub(super) fn scale_view(c: &Ctx) -> Option<String> {
    if matches!(c.cfg.bug, Some(Bug::ScaleByHidden | Bug::NoScale)) {
        return None;
    }
    let t = c.t(TensorId::ScoresMasked)?;
    let last = c.st.seq_len - 1;
    let row: Vec<f32> = slice2(t, &[Some(c.b), Some(c.h), None, None])
        .row(last)
        .to_vec();
    // With fewer than two keys to choose between, both rows are the same.
    if row
        .iter()
        .filter(|v| v.is_finite() && **v > matrix::PAD_THRESHOLD)
        .count()
        < 2
    {
        return None;
    }
    let hd = c.cfg.head_dim;
    let (with, without) = demos::scale_effect(&row, hd);
    let mut data = Array2::<f32>::zeros((2, row.len()));
    data.row_mut(0).assign(&ndarray::ArrayView1::from(&with));
    data.row_mut(1).assign(&ndarray::ArrayView1::from(&without));
    let root = (hd as f64).sqrt();
    let labels = [format!("÷√{hd} (MiniMind)"), format!("without ÷√{hd}")];
    let label = |i: usize| labels[i].clone();
    let col = |j: usize| key_header(c.tokens, c.st, j, c.pal);
    // Keep the key MiniMind weights most visible however few columns fit.
    let top_key = (0..with.len()).max_by(|&a, &b| with[a].total_cmp(&with[b]));
    let table = c.grid(
        Grid::new(
            format!(
                "why ÷√head_dim: query {}'s row of head {}, softmaxed with and without the \
                 division",
                c.st.start_pos + last,
                c.h
            ),
            data.view(),
            "",
            &label,
            &col,
            Kind::Weights,
        )
        .sums()
        .cols_in(Bands {
            size: row.len(),
            keep: None,
            pin: top_key,
            label: None,
        }),
    );
    let top = |w: &[f32]| w.iter().copied().fold(0f32, f32::max);
    let p = c.view.precision;
    let say = format!(
        "The largest weight is {} with the division and {} without it. A dot product of two \
         {hd}-number rows grows with head_dim; dividing by √{hd} = {} keeps the scores in a \
         range where softmax still spreads attention instead of picking one key.",
        fmt_num(top(&with), p),
        fmt_num(top(&without), p),
        fmt_num(root as f32, p)
    );
    Some(format!(
        "{table}\n{}",
        crate::render::wrap::wrap_words(&say, c.view.width, "")
    ))
}

/// Which branch MiniMind's forward takes for this step, and what that means for the scores.
pub(super) fn fused_path(c: &Ctx) -> String {
    let (cfg, st) = (c.cfg, c.st);
    let kv_len = st.kv_len();
    let mask_all_ones = cfg
        .attention_mask
        .as_ref()
        .is_none_or(|rows| rows.iter().all(|r| r.iter().take(kv_len).all(|&m| m == 1)));
    let cached = st.start_pos > 0;
    let fused = takes_fused_path(st.seq_len, cfg.causal, cached, mask_all_ones);
    let text = if fused {
        format!(
            "for this step MiniMind calls its fused F.scaled_dot_product_attention (more than \
             one new token, {}, {}), which gives the same output without materialising these \
             scores and weights; attnstep runs the explicit branch so you can see them.",
            if cfg.causal {
                "nothing cached yet"
            } else {
                "no causal mask"
            },
            if cfg.attention_mask.is_some() {
                "an attention mask of all ones"
            } else {
                "no attention mask"
            }
        )
    } else {
        let mut why = Vec::new();
        if st.seq_len == 1 {
            why.push("there is one new token");
        }
        if cfg.causal && cached && st.seq_len > 1 {
            why.push("a causal mask meets cached keys");
        }
        if !mask_all_ones {
            why.push("the attention mask has padding");
        }
        format!(
            "for this step MiniMind runs this explicit branch too, because {}, so it materialises \
             the scores and weights shown here. Its fused F.scaled_dot_product_attention, which \
             gives the same output without them, is taken only for more than one new token with \
             no padding and no causal mask over cached keys.",
            why.join(" and ")
        )
    };
    crate::render::wrap::wrap_words(
        &format!("{} {text}", c.pal.paint("MiniMind's path:", Role::Heading)),
        c.view.width,
        "",
    )
}
