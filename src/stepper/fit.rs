//! Fitting a screen to the window: how many matrix rows fit (decided with arithmetic, not
//! by trying one count after another), lines broken or cut to the width, and how paging
//! moves through a screen taller than the window.

use super::nav::Command;
use super::walk::Walk;
use crate::render::{View, skip_escape, visible_width};
use crate::text::{strip_ansi, wrap_paragraph};
use unicode_width::UnicodeWidthChar;

/// How the last frame fitted: how far the current screen can scroll, and a page's height.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    /// Largest useful scroll offset (0 when the screen fits).
    pub max_scroll: usize,
    /// Rows of the screen shown at once.
    pub page: usize,
}

/// The scroll offset a paging command moves to, or `None` when it should change the stage:
/// PageDown pages down until the end of the screen is shown, PageUp pages back to the top.
pub fn page(cmd: &Command, scroll: usize, layout: Layout) -> Option<usize> {
    let step = layout.page.saturating_sub(1).max(1);
    match cmd {
        Command::PageDown if scroll < layout.max_scroll => {
            Some((scroll + step).min(layout.max_scroll))
        }
        Command::PageUp if scroll > 0 => Some(scroll.saturating_sub(step)),
        _ => None,
    }
}

/// The row under a screen that does not fit: `↓ 12 more lines (j) · ↑ 3 above (k)`.
pub fn scroll_note(above: usize, below: usize) -> String {
    let mut parts = Vec::new();
    if below > 0 {
        parts.push(format!("↓ {below} more lines (j)"));
    }
    if above > 0 {
        parts.push(format!("↑ {above} above (k)"));
    }
    format!("  ⋯ {}", parts.join(" · "))
}

/// Fewest matrix rows drawn to make a screen fit; below that the screen scrolls instead, since
/// a matrix cut to its first and last row says little.
const MIN_MATRIX_ROWS: usize = 6;

/// The current screen's lines for `avail` rows of `width` columns, with as many matrix rows as
/// fit (see `fit_rows`).
pub fn fitted_body(walk: &Walk, width: usize, avail: usize) -> Vec<String> {
    let base = walk.view();
    let render = |max_rows: usize| -> Vec<String> {
        let view = View {
            width,
            max_rows,
            ..base.clone()
        };
        walk.body(&view)
            .iter()
            .flat_map(|l| wrap_line(l, width))
            .collect()
    };
    fit_rows(render, base.max_rows, avail)
}

/// Draws a screen (`render(max_rows)` gives its lines) with as many matrix rows as fit in
/// `avail` lines, up to the `asked` ones, deciding the number with arithmetic rather than by
/// trying one row count after another.
///
/// A screen grows with the rows asked for only through its elided matrices, the ones with a
/// `⋮` row: each shows one more row for each row asked for, until it is shown whole (and then
/// loses its `⋮` row and stats line, so it grows less than that). So the screen is drawn with
/// [`MIN_MATRIX_ROWS`] first; its height and its number of `⋮` rows say how many more rows fit,
/// and it is drawn once more with those. A matrix never gets more rows than the window has,
/// however large `asked` is. A line broken at the window's width can make the second drawing a
/// little taller than the arithmetic says: then the count is lowered by the excess once more,
/// and if that is still too tall the first drawing is used. At most three drawings, usually one
/// or two, each with at most `avail` rows per matrix. Past [`MIN_MATRIX_ROWS`] a screen that
/// still does not fit scrolls.
fn fit_rows(
    mut render: impl FnMut(usize) -> Vec<String>,
    asked: usize,
    avail: usize,
) -> Vec<String> {
    let cap = asked.max(2).min(avail.max(MIN_MATRIX_ROWS));
    let lo = cap.min(MIN_MATRIX_ROWS);
    let small = render(lo);
    let growing = elided_rows(&small);
    if lo == cap || growing == 0 || small.len() >= avail {
        return small;
    }
    let rows = cap.min(lo + (avail - small.len()) / growing);
    if rows == lo {
        return small;
    }
    let body = render(rows);
    if body.len() <= avail {
        return body;
    }
    let fewer = rows.saturating_sub((body.len() - avail).div_ceil(growing));
    if fewer > lo {
        let body = render(fewer);
        if body.len() <= avail {
            return body;
        }
    }
    small
}

/// How many lines are the `⋮` row of an elided matrix (its first visible character, after
/// colour codes and spaces).
fn elided_rows(lines: &[String]) -> usize {
    lines
        .iter()
        .filter(|l| strip_ansi(l).trim_start().starts_with('⋮'))
        .count()
}

/// Breaks a plain line wider than the window at spaces, continuing under its indent plus
/// four columns, so nothing (like the shape after an arrow) is lost; runs of spaces that align
/// columns stay on the first line. Coloured lines come from the renderer's tables, which are
/// drawn to the window width; they are cut by [`fit`], not broken.
pub fn wrap_line(line: &str, width: usize) -> Vec<String> {
    if visible_width(line) <= width || line.contains('\x1b') {
        return vec![line.to_string()];
    }
    let indent = line.len() - line.trim_start_matches(' ').len();
    let cont = " ".repeat((indent + 4).min(width / 2));
    wrap_paragraph(line, width, &cont)
}

/// Cuts a line (which may hold ANSI colour codes) to `width` columns, ending in `…` when cut,
/// so no line ever wraps and breaks the in-place redraw.
pub fn fit(s: &str, width: usize) -> String {
    if visible_width(s) <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut w = 0;
    let mut chars = s.chars();
    let mut coloured = false;
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            let rest = chars.as_str();
            skip_escape(&mut chars);
            out.push(c);
            out.push_str(&rest[..rest.len() - chars.as_str().len()]);
            coloured = true;
            continue;
        }
        let cw = c.width().unwrap_or(0);
        if w + cw + 1 > width {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push('…');
    if coloured {
        out.push_str("\x1b[0m");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_counts_columns_not_bytes_and_skips_colour_codes() {
        assert_eq!(fit("stage · step", 20), "stage · step");
        assert_eq!(fit("abcdefghij", 5), "abcd…");
        assert_eq!(visible_width("\x1b[31mred\x1b[0m →"), 5);
        let cut = fit("\x1b[31mabcdef\x1b[0m", 4);
        assert_eq!(cut, "\x1b[31mabc…\x1b[0m");
        assert_eq!(visible_width(&cut), 4);
        assert_eq!(visible_width(&fit("── step 1/3 ──────────", 8)), 8);
    }

    #[test]
    fn paging_scrolls_a_tall_screen_before_changing_stage() {
        // 30 rows of content, 10 shown: offsets 0..=20.
        let tall = Layout {
            max_scroll: 20,
            page: 10,
        };
        // A page keeps one row of the last view for context.
        assert_eq!(page(&Command::PageDown, 0, tall), Some(9));
        assert_eq!(page(&Command::PageDown, 18, tall), Some(20));
        assert_eq!(
            page(&Command::PageDown, 20, tall),
            None,
            "at the end: next stage"
        );
        assert_eq!(page(&Command::PageUp, 20, tall), Some(11));
        assert_eq!(page(&Command::PageUp, 5, tall), Some(0));
        assert_eq!(
            page(&Command::PageUp, 0, tall),
            None,
            "at the top: previous stage"
        );
        // Strict moves never scroll; a screen that fits never scrolls.
        assert_eq!(page(&Command::Next, 0, tall), None);
        assert_eq!(page(&Command::Back, 5, tall), None);
        let fits = Layout {
            max_scroll: 0,
            page: 23,
        };
        assert_eq!(page(&Command::PageDown, 0, fits), None);
    }

    /// A screen like the renderer draws: `fixed` lines, then per matrix a header, its rows
    /// (numpy-style: `max_rows` of them and a `⋮` row when it has more) and, when elided, a
    /// stats line.
    fn screen(fixed: usize, matrices: &[usize], max_rows: usize) -> Vec<String> {
        let mut lines: Vec<String> = (0..fixed).map(|i| format!("text {i}")).collect();
        for &n in matrices {
            lines.push(" pos │ 0 │ 1".into());
            let plan = crate::render::matrix::plan(n, max_rows);
            for r in &plan {
                lines.push(match r {
                    Some(i) => format!(" {i}   │ 0.1 │ 0.2"),
                    None => " ⋮   │ ⋮ │ ⋮".into(),
                });
            }
            if plan.contains(&None) {
                lines.push(format!("  elided; all {n}×2 values"));
            }
        }
        lines
    }

    /// The most matrix rows (from 6 up to `asked`) with which the screen fits, by trying
    /// every count: what [`fit_rows`] must find without trying them.
    fn best_by_search(fixed: usize, matrices: &[usize], asked: usize, avail: usize) -> usize {
        (MIN_MATRIX_ROWS.min(asked)..=asked.min(200))
            .rev()
            .find(|&m| screen(fixed, matrices, m).len() <= avail)
            .unwrap_or(MIN_MATRIX_ROWS.min(asked))
    }

    #[test]
    fn matrix_rows_are_fitted_by_arithmetic_in_at_most_three_drawings() {
        for matrices in [vec![40], vec![40, 40], vec![4096, 4096], vec![5, 40]] {
            for asked in [2, 8, 30, 1000, usize::MAX] {
                for avail in [5, 12, 20, 23, 40, 57, 100] {
                    let mut drawn = Vec::new();
                    let body = fit_rows(
                        |m| {
                            drawn.push(m);
                            screen(10, &matrices, m)
                        },
                        asked,
                        avail,
                    );
                    let case = format!("{matrices:?} asked {asked} in {avail}: drew {drawn:?}");
                    assert!(drawn.len() <= 3, "{case}");
                    assert!(drawn.iter().all(|&m| m <= avail.max(6)), "{case}");
                    let best = best_by_search(10, &matrices, asked, avail);
                    let want = screen(10, &matrices, best);
                    if matrices.iter().all(|&n| n == matrices[0]) {
                        // Matrices that grow alike: the arithmetic finds the best count.
                        assert_eq!(body, want, "{case}");
                    } else {
                        // One stops growing early: never too tall, perhaps a little short.
                        assert!(body.len() <= avail.max(want.len()), "{case}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_screen_without_elided_matrices_is_drawn_once() {
        let mut drawn = 0;
        let body = fit_rows(
            |m| {
                drawn += 1;
                screen(3, &[5], m)
            },
            usize::MAX,
            50,
        );
        assert_eq!(drawn, 1);
        assert_eq!(body, screen(3, &[5], 5));
    }

    #[test]
    fn a_real_stage_is_fitted_like_the_search_finds() {
        use crate::presentation::Presentation;
        use crate::stepper::Options;
        let cfg = crate::config::ConfigSpec {
            hidden_size: Some(16),
            num_attention_heads: Some(2),
            num_key_value_heads: Some(1),
            steps: Some(vec![40]),
            ..crate::config::ConfigSpec::default()
        }
        .resolve()
        .unwrap();
        let trace = crate::forward::trace(&cfg, &mut crate::numeric::Numeric::new(1));
        let pres = Presentation::default();
        let view = View {
            max_rows: usize::MAX,
            ..View::default()
        };
        let runs = crate::stepper::Run::single(trace);
        let mut walk = Walk::new(&runs, &pres, &view, &Options::default());
        walk.apply(&Command::StageId(crate::trace::StageId::Softmax))
            .unwrap();
        let width = 100;
        let render = |m: usize| {
            let v = View {
                width,
                max_rows: m,
                ..walk.view()
            };
            walk.body(&v)
                .iter()
                .flat_map(|l| wrap_line(l, width))
                .collect::<Vec<_>>()
        };
        for avail in [30, 45, 60, 90] {
            let best = (MIN_MATRIX_ROWS..=avail)
                .rev()
                .find(|&m| render(m).len() <= avail)
                .unwrap_or(MIN_MATRIX_ROWS);
            assert_eq!(
                fitted_body(&walk, width, avail),
                render(best),
                "in {avail} rows"
            );
        }
    }

    #[test]
    fn long_plain_lines_break_at_spaces_under_their_indent() {
        assert_eq!(
            wrap_line("  xq_t [a, b] → [c, d]", 14),
            vec!["  xq_t [a, b]", "      → [c, d]"]
        );
        assert_eq!(wrap_line("  xq_t [a, b] → [c, d]", 13).len(), 3);
        assert_eq!(wrap_line("short", 14), vec!["short"]);
        assert_eq!(
            wrap_line("  x     [a] → [b, c]", 14),
            vec!["  x     [a] →", "      [b, c]"]
        );
        // Colour means a table: cut by `fit`, never broken.
        assert_eq!(wrap_line("\x1b[1mx\x1b[0m yyyyyyyyyyyyyyyy", 5).len(), 1);
    }
}
