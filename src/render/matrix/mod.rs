//! Matrices as tables: heatmaps of scores and weights, masks drawn with symbols, and compact
//! tables of vectors, all elided the way numpy prints big arrays.
//!
//! Only the cells that are shown are formatted, so the cost of a table depends on
//! `--max-rows`/`--max-cols`, not on the tensor. The one pass over the whole (2-D) slice is the
//! stats line printed under an elided table; a [`StatsCache`] lets the stepper, which redraws
//! the same slices again and again, make that pass once per slice.

use super::palette::{Palette, ROW_MAX, Role};
use super::view::View;
use super::wrap::wrap_words;
mod elide;
mod grid;
mod layout;
mod legend;
mod stats;
#[cfg(test)]
mod tests;

pub use elide::{Bands, plan, plan_banded};
use grid::{Body, cell, is_score, plain_text};
pub use grid::{Grid, Kind, PAD_THRESHOLD, fmt_num, matrix_style};
use layout::Texts;
use legend::{Drawn, elided_line, has_legend, legend};
use stats::cached_stats;
pub use stats::{Stats, StatsCache, stats};

/// Draws a grid: the title, the (elided) table, a legend under a heatmap, and a line saying
/// how much is shown when anything was elided.
pub fn render(grid: &Grid, view: &View, pal: &Palette) -> String {
    let (nrows, ncols) = grid.data.dim();
    let rows = plan_banded(nrows, view.max_rows, grid.row_bands.as_ref());
    // No cell is narrower than a digit, the decimals, a space and a column line: more columns
    // than this cannot fit, so the search below starts there even for a huge --max-cols.
    let fit_bound = view.width / (view.precision.max(1) + 3);
    let mut max_cols = view.max_cols.min(fit_bound).min(ncols).max(2);
    loop {
        let cols = plan_banded(ncols, max_cols, grid.col_bands.as_ref());
        let built = build(grid, &rows, &cols, view, pal, max_cols > 2);
        if let Some(drawn) = built {
            let mut out = String::new();
            for line in wrap_words(&grid.title, view.width, "  ").lines() {
                out.push_str(&pal.paint(line, Role::Heading));
                out.push('\n');
            }
            out.push_str(&drawn.table);
            out.push('\n');
            let elided = rows.contains(&None) || cols.contains(&None);
            let all = (elided || grid.kind == Kind::Masked).then(|| cached_stats(grid.data));
            if has_legend(grid.kind, pal) {
                out.push_str(&legend(grid, &drawn, all.as_ref(), view, pal));
            }
            if let (true, Some(s)) = (elided, &all) {
                let line = elided_line(grid, drawn.shown, s, view);
                for line in wrap_words(&line, view.width, "    ").lines() {
                    out.push_str(&pal.paint(line, Role::Muted));
                    out.push('\n');
                }
            }
            return out;
        }
        max_cols -= 1;
    }
}

/// Lays out the shown cells as a table; `None` when `must_fit` and the table would be wider
/// than the view (the caller then tries fewer columns).
fn build(
    grid: &Grid,
    rows: &[Option<usize>],
    cols: &[Option<usize>],
    view: &View,
    pal: &Palette,
    must_fit: bool,
) -> Option<Drawn> {
    let (scale, range) = scale_and_range(grid, rows, cols);
    let (body, marked) = body_texts(grid, rows, cols, scale, view, pal);
    let texts = Texts::new(grid, rows, cols, body, view, pal);
    if must_fit && texts.total_width(grid) > view.width {
        return None;
    }
    Some(Drawn {
        table: texts.draw(grid, view, pal),
        scale,
        range,
        marked,
        shown: (rows.iter().flatten().count(), cols.iter().flatten().count()),
    })
}

/// The scale of the heat (the kind's own, else the largest shown magnitude) and the range of
/// the shown scores.
fn scale_and_range(
    grid: &Grid,
    rows: &[Option<usize>],
    cols: &[Option<usize>],
) -> (f32, Option<(f32, f32)>) {
    let shown_values = || {
        rows.iter()
            .flatten()
            .flat_map(|&i| cols.iter().flatten().map(move |&j| grid.data[[i, j]]))
            .filter(|&v| is_score(v))
    };
    let scale = match grid.kind {
        Kind::Signed { scale: Some(s) } | Kind::Values { scale: Some(s) } => s,
        _ => shown_values().fold(0f32, |m, v| m.max(v.abs())),
    };
    let range = shown_values().fold(None, |r: Option<(f32, f32)>, v| {
        Some(r.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))))
    });
    (scale, range)
}

/// Texts of the shown cells, row by row (`None` marks an ellipsis row or cell), and whether
/// any cell is marked as its row's largest weight.
fn body_texts(
    grid: &Grid,
    rows: &[Option<usize>],
    cols: &[Option<usize>],
    scale: f32,
    view: &View,
    pal: &Palette,
) -> (Body, bool) {
    // The largest weight of each shown row (over the whole row, shown or not).
    let weights = grid.kind == Kind::Weights;
    let row_max = |i: usize| {
        grid.data
            .row(i)
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .fold(f32::NEG_INFINITY, f32::max)
    };
    let mut marked = false;
    let body: Body = rows
        .iter()
        .map(|r| {
            r.map(|i| {
                let top = if weights { row_max(i) } else { f32::NAN };
                cols.iter()
                    .map(|c| {
                        c.map(|j| {
                            let v = grid.data[[i, j]];
                            let (text, look) = cell(v, grid.kind, scale, view);
                            let mut text = if pal.enabled {
                                text
                            } else {
                                plain_text(&text, &look)
                            };
                            let is_max = weights && v == top && top > 0.0;
                            if weights {
                                text.push(if is_max { ROW_MAX } else { ' ' });
                            }
                            marked |= is_max;
                            ((text, look), is_max)
                        })
                    })
                    .collect()
            })
        })
        .collect();
    (body, marked)
}
