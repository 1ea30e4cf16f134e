//! What every part of the matrix renderer shares: the [`Grid`] to draw and the [`Kind`] of its
//! cells, how one number is formatted and coloured, and the table style. The drawing
//! ([`super`]), the table layout, the legend and the statistics all build on these, and this
//! file on none of them.

use comfy_table::{ContentLineStyle, LineStyle, TableStyle};
use ndarray::ArrayView2;

use super::elide::Bands;
use crate::render::palette::{Role, glyph};
use crate::render::view::View;
use crate::text::visible_width;

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
pub const PAD_THRESHOLD: f32 = crate::numeric::PADDED;

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
pub(super) enum Look {
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
pub(super) fn is_score(v: f32) -> bool {
    v.is_finite() && v > PAD_THRESHOLD
}

pub(super) fn cell(v: f32, kind: Kind, scale: f32, view: &View) -> (String, Look) {
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
pub(super) fn plain_text(text: &str, look: &Look) -> String {
    match look {
        Look::Heat {
            t,
            diverging,
            glyph: true,
        } => format!("{text}{}", glyph(*t, *diverging)),
        _ => text.to_string(),
    }
}

pub(super) fn width_of(s: &str) -> usize {
    s.lines().map(visible_width).max().unwrap_or(0)
}

/// Pads every line of `text` to `w`: labels (`left`) with a space each side, numbers
/// right-aligned with a space before.
/// Widths are measured on screen, so labels may carry colour.
pub(super) fn pad_lines(text: &str, w: usize, left: bool) -> String {
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

/// A shown cell's text and look, and whether it is its row's largest weight.
pub(super) type Shown = ((String, Look), bool);
/// The shown cells row by row; `None` for an ellipsis row or cell.
pub(super) type Body = Vec<Option<Vec<Option<Shown>>>>;
