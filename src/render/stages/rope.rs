//! The QK-norm and RoPE views: row norms before and after, the positions used, cos/sin, the
//! rotated rows beside the originals and the relative-position table.

use comfy_table::{CellAlignment, ContentArrangement, Table};
use ndarray::{Array2, ArrayView2};

use crate::render::demos;
use crate::render::matrix::{Bands, Grid, Kind, fmt_num, matrix_style, plan};
use crate::render::palette::Role;
use crate::stage::TensorId;

use super::ctx::*;

pub(super) fn qk_norms(c: &Ctx) -> String {
    let (b, h, kvh) = (c.b, c.h, c.kvh);
    let pairs = [
        (TensorId::XqHeads, h),
        (TensorId::XqNorm, h),
        (TensorId::XkHeads, kvh),
        (TensorId::XkNorm, kvh),
    ];
    let views: Vec<Option<ArrayView2<f32>>> = pairs
        .iter()
        .map(|(n, head)| {
            c.t(*n)
                .map(|t| slice2(t, &[Some(b), None, Some(*head), None]))
        })
        .collect();
    let mut norms = Array2::<f32>::zeros((c.st.seq_len, pairs.len()));
    for (k, v) in views.iter().enumerate() {
        if let Some(v) = v {
            for (i, row) in v.rows().into_iter().enumerate() {
                norms[[i, k]] = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            }
        }
    }
    let heads = [
        format!("‖q{h}‖\nbefore"),
        format!("‖q{h}‖\nafter"),
        format!("‖k{kvh}‖\nbefore"),
        format!("‖k{kvh}‖\nafter"),
    ];
    let col = |j: usize| heads[j].clone();
    let row = |i: usize| c.query_row(i);
    c.grid(Grid::new(
        format!("row lengths (L2 norm over head_dim) of query head {h} and key head {kvh}, b={b}"),
        norms.view(),
        "pos",
        &row,
        &col,
        Kind::Plain,
    ))
}

/// Bands that keep RoPE's pairs (d, d + head_dim/2) visible together.
pub(super) fn halves(hd: usize) -> Bands<'static> {
    Bands {
        size: (hd / 2).max(1),
        keep: None,
        pin: None,
        label: None,
    }
}

pub(super) fn rope(c: &Ctx) -> Vec<String> {
    let st = c.st;
    let positions: Vec<String> = plan(st.seq_len, c.view.max_rows)
        .into_iter()
        .map(|p| p.map_or("…".into(), |i| (st.start_pos + i).to_string()))
        .collect();
    let mut out = vec![crate::render::wrap::wrap_words(
        &format!(
            "{} {}  (absolute: this call starts at position {})",
            c.pal.paint(
                if st.seq_len == 1 {
                    "position used:"
                } else {
                    "positions used:"
                },
                Role::Heading
            ),
            positions.join(", "),
            st.start_pos
        ),
        c.view.width,
        "  ",
    )];
    let half = c.cfg.head_dim / 2;
    let col = move |j: usize| {
        // Features d and d + head_dim/2 rotate together with frequency index d mod half.
        format!("{j}\ni={}", j % half)
    };
    for id in [TensorId::Cos, TensorId::Sin] {
        if let Some(t) = c.t(id) {
            let row = |i: usize| format!("pos {}", st.start_pos + i);
            out.push(
                c.grid(
                    Grid::new(
                        format!(
                            "{id}[positions, head_dim]  feature d uses frequency i = d mod {half}"
                        ),
                        slice2(t, &[None, None]),
                        "",
                        &row,
                        &col,
                        Kind::Values { scale: Some(1.0) },
                    )
                    .cols_in(halves(c.cfg.head_dim)),
                ),
            );
        }
    }
    out
}

/// The query rows of the selected head and the key rows of its KV head, each row before RoPE
/// directly above the same row rotated.
pub(super) fn rope_rows(c: &Ctx) -> Vec<String> {
    let (b, st, hd) = (c.b, c.st, c.cfg.head_dim);
    let mut out = Vec::new();
    let sets = [
        (
            TensorId::XqRope,
            [TensorId::XqNorm, TensorId::XqHeads],
            c.h,
            "query head",
        ),
        (
            TensorId::XkRope,
            [TensorId::XkNorm, TensorId::XkHeads],
            c.kvh,
            "key head",
        ),
    ];
    for (after_id, before_ids, head, what) in sets {
        let Some(after) = c.t(after_id) else { continue };
        let Some((before_id, before)) = before_ids
            .into_iter()
            .find_map(|id| c.t(id).map(|t| (id, t)))
        else {
            continue;
        };
        let before = slice2(before, &[Some(b), None, Some(head), None]);
        let after = slice2(after, &[Some(b), None, Some(head), None]);
        let mut both = Array2::<f32>::zeros((2 * st.seq_len, hd));
        for i in 0..st.seq_len {
            both.row_mut(2 * i).assign(&before.row(i));
            both.row_mut(2 * i + 1).assign(&after.row(i));
        }
        let row = |r: usize| {
            if r.is_multiple_of(2) {
                c.query_row(r / 2)
            } else {
                "  rotated".to_string()
            }
        };
        out.push(
            c.grid(
                Grid::new(
                    format!(
                        "{after_id}[b={b}, :, {head}, :]  {what} {head}: each row before RoPE \
                         ({before_id}), then rotated; pairs (d, d+{}) turn together",
                        hd / 2
                    ),
                    both.view(),
                    "pos",
                    &row,
                    &index,
                    Kind::Values { scale: None },
                )
                .rows_in(Bands {
                    size: 2,
                    keep: None,
                    pin: None,
                    label: None,
                })
                .cols_in(halves(hd)),
            ),
        );
    }
    out
}

/// The relative-position property with numbers: the selected head's query (at the step's
/// last new token) and its KV head's key (at the first new token), before RoPE, rotated to
/// several position pairs and scored.
pub(super) fn rope_relative(c: &Ctx) -> Option<String> {
    let st = c.st;
    let pre = |ids: [TensorId; 2], i: usize, head: usize| {
        ids.into_iter().find_map(|id| c.head_row(id, i, head))
    };
    let last = st.seq_len - 1;
    let q = pre([TensorId::XqNorm, TensorId::XqHeads], last, c.h)?;
    let k = pre([TensorId::XkNorm, TensorId::XkHeads], 0, c.kvh)?;
    let (m0, n0) = (st.start_pos + last, st.start_pos);
    let pairs = demos::rope_pairs(m0, n0);
    let scores = demos::rope_scores(&q, &k, &pairs, c.cfg.rope_theta);
    let mut table = Table::new();
    table
        .load_style(matrix_style())
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(u16::try_from(c.view.width).unwrap_or(u16::MAX))
        .set_header(vec!["q at m", "k at n", "m − n", "q·k/√head_dim"]);
    for (&(m, n), s) in pairs.iter().zip(&scores) {
        table.add_row(vec![
            m.to_string(),
            n.to_string(),
            (m - n).to_string(),
            fmt_num(*s as f32, c.view.precision),
        ]);
    }
    for col in table.column_iter_mut() {
        col.set_cell_alignment(CellAlignment::Right);
    }
    let title = format!(
        "relative positions: query head {}'s query from position {m0} and key head {}'s key \
         from position {n0}, rotated as if they sat at positions m and n",
        c.h, c.kvh
    );
    let mut after = "Rows with the same m − n give the same score, wherever the pair sits: after \
                     RoPE, q·k depends on the distance only."
        .to_string();
    // The table redoes MiniMind's score from the rows before RoPE. A planted slip (the scale,
    // RoPE's positions, which KV head a query head reads, …) can make the run's own score
    // differ from it, so the sentence that equates them is kept for MiniMind's run only: left
    // out under every slip, its absence does not say which one.
    if c.cfg.bug.is_none() {
        after.push_str(&format!(
            " The first row is this step's own score, scores[{}, {}, {last}, {n0}].",
            c.b, c.h
        ));
    }
    Some(format!(
        "{}{table}\n{}",
        heading(c, &title),
        crate::render::wrap::wrap_words(&after, c.view.width, "")
    ))
}
