//! The lines under a table: what was elided with the statistics of the whole slice, and the key
//! to what the colours and glyphs of a heatmap mean.

use super::grid::{Grid, Kind, fmt_num};
use super::stats::Stats;
use crate::render::palette::{Palette, ROW_MAX, Role};
use crate::render::view::View;
use crate::render::wrap::wrap_words;

/// `showing 6 of 8 rows, 4 of 12 columns · all 8×12: min …, max …, mean …` with the count of
/// -∞ and NaN values only when there are any.
pub(super) fn elided_line(grid: &Grid, shown: (usize, usize), s: &Stats, view: &View) -> String {
    let (nrows, ncols) = grid.data.dim();
    let p = view.precision;
    let mut parts = Vec::new();
    if shown.0 < nrows {
        parts.push(format!("{} of {nrows} rows", shown.0));
    }
    if shown.1 < ncols {
        parts.push(format!("{} of {ncols} columns", shown.1));
    }
    let mut all = match (s.min, s.max, s.mean) {
        (Some(min), Some(max), Some(mean)) => format!(
            "all {nrows}×{ncols}: min {}, max {}, mean {}",
            fmt_num(min, p),
            fmt_num(max, p),
            fmt_num(mean as f32, p)
        ),
        _ => format!("all {nrows}×{ncols}: no finite value"),
    };
    for (n, what) in [(s.neg_inf, "-∞"), (s.nan, "NaN")] {
        if n > 0 {
            all.push_str(&format!(", {n} {what}"));
        }
    }
    format!("  showing {} · {all}", parts.join(", "))
}

/// What a drawn table showed, for its legend.
pub(super) struct Drawn {
    pub(super) table: String,
    /// The scale a full glyph or the deepest colour stands for (signed kinds).
    pub(super) scale: f32,
    /// Smallest and largest real value among the shown cells.
    pub(super) range: Option<(f32, f32)>,
    /// Whether a row maximum was marked.
    pub(super) marked: bool,
    /// Rows and columns of data shown.
    pub(super) shown: (usize, usize),
}

/// The one-line key under a heatmap: what the colours or glyphs mean and the range they span.
pub(super) fn legend(
    grid: &Grid,
    d: &Drawn,
    all: Option<&Stats>,
    view: &View,
    pal: &Palette,
) -> String {
    let p = view.precision;
    let range = d.range.map(|(lo, hi)| {
        if lo == hi {
            format!("shown {}", fmt_num(lo, p))
        } else {
            format!("shown {} … {}", fmt_num(lo, p), fmt_num(hi, p))
        }
    });
    let swatch = |v: f32, t: f32, diverging: bool| {
        pal.heat(&format!(" {} ", fmt_num(v, p)), t, diverging, false)
    };
    let mut parts: Vec<String> = Vec::new();
    match grid.kind {
        Kind::Signed { .. } | Kind::Masked | Kind::Values { .. } => {
            let s = d.scale;
            if pal.enabled {
                parts.push(format!(
                    "{}{}{} blue negative, red positive",
                    swatch(-s, -1.0, true),
                    swatch(0.0, 0.0, true),
                    swatch(s, 1.0, true)
                ));
            } else {
                parts.push(format!(
                    "░▒▓█ positive, ⡀⣀⣤⣿ negative, full at ±{}",
                    fmt_num(s, p)
                ));
            }
        }
        Kind::Weights => {
            if pal.enabled {
                parts.push(format!(
                    "{}{}{} weight, dark to light",
                    swatch(0.0, 0.0, false),
                    swatch(0.5, 0.5, false),
                    swatch(1.0, 1.0, false)
                ));
            } else {
                parts.push("░▒▓█ weight up to ¼ ½ ¾ 1 (blank 0)".into());
            }
            if d.marked {
                parts.push(format!("{ROW_MAX} row's largest"));
            }
        }
        _ => {}
    }
    parts.extend(range);
    if let (Kind::Masked, Some(s)) = (grid.kind, all) {
        if s.neg_inf > 0 {
            parts.push(format!("{} = causal mask", pal.paint("-∞", Role::Blocked)));
        }
        if s.pad > 0 {
            parts.push(format!(
                "{} = padded key (−1e9)",
                pal.paint("pad", Role::Pad)
            ));
        }
    }
    let key = pal.paint("key:", Role::Muted);
    wrap_words(
        &format!("  {key} {}", parts.join(" · ")),
        view.width,
        "    ",
    )
}

/// Whether a table of this kind is a heatmap with a legend under it.
pub(super) fn has_legend(kind: Kind, pal: &Palette) -> bool {
    match kind {
        Kind::Signed { .. } | Kind::Masked | Kind::Weights => true,
        // Vector tables are plain numbers without colour.
        Kind::Values { .. } => pal.enabled,
        _ => false,
    }
}
