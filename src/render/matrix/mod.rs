//! Matrices as tables: heatmaps of scores and weights, masks drawn with symbols, and compact
//! tables of vectors, all elided the way numpy prints big arrays.
//!
//! Only the cells that are shown are formatted, so the cost of a table depends on
//! `--max-rows`/`--max-cols`, not on the tensor. The one pass over the whole (2-D) slice is the
//! stats line printed under an elided table; a [`StatsCache`] lets the stepper, which redraws
//! the same slices again and again, make that pass once per slice.

use comfy_table::{ContentLineStyle, LineStyle, TableStyle};
use ndarray::ArrayView2;

use super::palette::{Palette, ROW_MAX, Role, glyph};
use super::{View, visible_width, wrap_words};
mod elide;
mod layout;
mod legend;
mod stats;
#[cfg(test)]
mod tests;

pub use elide::{Bands, plan, plan_banded};
use layout::Texts;
use legend::{Drawn, elided_line, has_legend, legend};
use stats::cached_stats;
pub use stats::{Stats, StatsCache, stats};

/// How the cells of a grid are drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// Signed values on a diverging ramp, scaled to `scale` (or to the largest shown magnitude);
    /// a heatmap, so without colour each cell gets a shade character.
    Signed { scale: Option<f32> },
    /// Vector entries (x, projections, outputs): coloured like [`Kind::Signed`] but printed as
    /// plain numbers without colour, where a shade per cell would only add noise.
    Values { scale: Option<f32> },
    /// Attention weights in 0..=1 on a sequential ramp.
    Weights,
    /// Scores after masking: signed, with -inf drawn as `-∞` and the padding bias as `pad`.
    Masked,
    /// The causal mask: 0 or -inf.
    CausalMask,
    /// The padding bias: 0 or -1e9.
    PaddingBias,
    /// The caller's 0/1 attention mask (0 = padding).
    AttentionMask,
    /// Plain numbers (norms, sums): no heat.
    Plain,
}

/// Values at or below this are the padding bias (-1e9 plus a score), not a real score.
pub const PAD_THRESHOLD: f32 = -1e8;

/// A matrix to draw: a 2-D view of a tensor plus labels. Build it with [`Grid::new`] and the
/// methods that add a Σ column or bands.
pub struct Grid<'a> {
    /// A line above the table: what the matrix is and what rows and columns mean.
    pub title: String,
    pub data: ArrayView2<'a, f32>,
    /// Text in the header's first cell (what the rows are).
    pub corner: String,
    pub row_label: &'a dyn Fn(usize) -> String,
    /// Column headers; may hold several lines (position, token, "new").
    pub col_label: &'a dyn Fn(usize) -> String,
    pub kind: Kind,
    /// Add a column with each row's sum (over the whole row, shown or not).
    pub row_sum: bool,
    /// Bands of the rows and columns (heads, KV groups) that elision keeps whole.
    pub row_bands: Option<Bands<'a>>,
    pub col_bands: Option<Bands<'a>>,
}

impl<'a> Grid<'a> {
    pub fn new(
        title: String,
        data: ArrayView2<'a, f32>,
        corner: &str,
        row_label: &'a dyn Fn(usize) -> String,
        col_label: &'a dyn Fn(usize) -> String,
        kind: Kind,
    ) -> Self {
        Grid {
            title,
            data,
            corner: corner.to_string(),
            row_label,
            col_label,
            kind,
            row_sum: false,
            row_bands: None,
            col_bands: None,
        }
    }

    /// With a Σ column of each row's sum.
    pub fn sums(mut self) -> Self {
        self.row_sum = true;
        self
    }

    pub fn rows_in(mut self, bands: Bands<'a>) -> Self {
        self.row_bands = Some(bands);
        self
    }

    pub fn cols_in(mut self, bands: Bands<'a>) -> Self {
        self.col_bands = Some(bands);
        self
    }
}

/// Formats one number: fixed decimals, compact scientific for huge magnitudes, symbols for
/// infinities and NaN.
pub fn fmt_num(v: f32, precision: usize) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f32::NEG_INFINITY {
        "-∞".into()
    } else if v == f32::INFINITY {
        "∞".into()
    } else if v.abs() >= 1e5 {
        format!("{v:.1e}")
    } else {
        let s = format!("{v:.precision$}");
        // "-0.000" reads as a mistake; show it as 0.
        if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
            s[1..].to_string()
        } else {
            s
        }
    }
}

/// What a cell shows and how it is coloured.
enum Look {
    Heat {
        t: f32,
        diverging: bool,
        /// Whether the cell carries a glyph without colour (heatmaps, not vector tables).
        glyph: bool,
    },
    Role(Role),
    Plain,
}

/// Whether `v` is a real score rather than a mask mark (-∞, the padding bias) or NaN.
fn is_score(v: f32) -> bool {
    v.is_finite() && v > PAD_THRESHOLD
}

fn cell(v: f32, kind: Kind, scale: f32, view: &View) -> (String, Look) {
    let p = view.precision;
    let signed = |v: f32, glyph: bool| {
        let t = if scale > 0.0 { v / scale } else { 0.0 };
        (
            fmt_num(v, p),
            Look::Heat {
                t: t.clamp(-1.0, 1.0),
                diverging: true,
                glyph,
            },
        )
    };
    match kind {
        Kind::Signed { .. } => signed(v, true),
        Kind::Values { .. } => signed(v, false),
        Kind::Weights => (
            fmt_num(v, p),
            Look::Heat {
                t: v,
                diverging: false,
                glyph: true,
            },
        ),
        Kind::Masked => {
            if v == f32::NEG_INFINITY {
                ("-∞".into(), Look::Role(Role::Blocked))
            } else if v <= PAD_THRESHOLD {
                ("pad".into(), Look::Role(Role::Pad))
            } else {
                signed(v, true)
            }
        }
        Kind::CausalMask => {
            if v == f32::NEG_INFINITY {
                ("-∞".into(), Look::Role(Role::Blocked))
            } else {
                (fmt_num(v, 0), Look::Role(Role::Muted))
            }
        }
        Kind::PaddingBias => {
            if v <= PAD_THRESHOLD {
                ("-1e9".into(), Look::Role(Role::Pad))
            } else {
                (fmt_num(v, 0), Look::Role(Role::Muted))
            }
        }
        Kind::AttentionMask => {
            if v == 0.0 {
                ("0".into(), Look::Role(Role::Pad))
            } else {
                (fmt_num(v, 0), Look::Plain)
            }
        }
        Kind::Plain => (fmt_num(v, p), Look::Plain),
    }
}

/// The text a cell gets without colour: the heat carried by a glyph.
fn plain_text(text: &str, look: &Look) -> String {
    match look {
        Look::Heat {
            t,
            diverging,
            glyph: true,
        } => format!("{text}{}", glyph(*t, *diverging)),
        _ => text.to_string(),
    }
}

fn width_of(s: &str) -> usize {
    s.lines().map(visible_width).max().unwrap_or(0)
}

/// Pads every line of `text` to `w`: labels (`left`) with a space each side, numbers
/// right-aligned with a space before.
/// Widths are measured on screen, so labels may carry colour.
fn pad_lines(text: &str, w: usize, left: bool) -> String {
    text.lines()
        .map(|l| {
            let fill = " ".repeat(w.saturating_sub(visible_width(l)));
            if left {
                format!(" {l}{fill} ")
            } else {
                // Numbers sit right against the next column line: one space of room is enough.
                format!(" {fill}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The table style for matrices: no outer border, a rule under the header, thin column lines.
pub fn matrix_style() -> TableStyle {
    TableStyle::new()
        .header_lines(ContentLineStyle::none().junction('│'))
        .header_separator(LineStyle::none().fill('─').junction('┼'))
        .content_lines(ContentLineStyle::none().junction('│'))
}

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

/// A shown cell's text and look, and whether it is its row's largest weight.
type Shown = ((String, Look), bool);
/// The shown cells row by row; `None` for an ellipsis row or cell.
type Body = Vec<Option<Vec<Option<Shown>>>>;

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
