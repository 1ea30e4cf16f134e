//! The layout of a matrix table once its cells are chosen and formatted: the row labels,
//! column headers (with their bands) and Σ column, each column's width, and the table drawn
//! with comfy-table, right-aligned but for the labels.

use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};

use super::grid::{Body, Grid, Look, Shown, fmt_num, matrix_style, pad_lines, width_of};
use crate::render::palette::{Palette, Role};
use crate::render::view::View;

/// The header of the Σ column.
const SUM_HEAD: &str = "Σ row";

/// Everything a table shows as text (the cells, row labels, Σ column and column headers),
/// with each column's content width.
pub(super) struct Texts {
    body: Body,
    labels: Vec<Option<String>>,
    sums: Vec<Option<String>>,
    heads: Vec<String>,
    label_w: usize,
    col_w: Vec<usize>,
    sum_w: usize,
}

impl Texts {
    pub(super) fn new(
        grid: &Grid,
        rows: &[Option<usize>],
        cols: &[Option<usize>],
        body: Body,
        view: &View,
        pal: &Palette,
    ) -> Texts {
        let sums: Vec<Option<String>> = rows
            .iter()
            .map(|r| {
                r.filter(|_| grid.row_sum).map(|i| {
                    let s: f32 = grid.data.row(i).iter().sum();
                    fmt_num(s, view.precision)
                })
            })
            .collect();
        let labels: Vec<Option<String>> = rows.iter().map(|r| r.map(grid.row_label)).collect();
        let heads: Vec<String> = cols.iter().map(|c| column_head(grid, *c, pal)).collect();

        // Column widths (content only).
        let label_w = labels
            .iter()
            .flatten()
            .map(|l| width_of(l))
            .chain([width_of(&grid.corner), 1])
            .max()
            .unwrap_or(1);
        let col_w: Vec<usize> = (0..cols.len())
            .map(|k| {
                body.iter()
                    .flatten()
                    .filter_map(|row| row[k].as_ref().map(|((t, _), _)| width_of(t)))
                    .chain([width_of(&heads[k]), 1])
                    .max()
                    .unwrap_or(1)
            })
            .collect();
        let sum_w = sums
            .iter()
            .flatten()
            .map(|s| width_of(s))
            .chain([width_of(SUM_HEAD)])
            .max()
            .unwrap_or(1);
        Texts {
            body,
            labels,
            sums,
            heads,
            label_w,
            col_w,
            sum_w,
        }
    }

    /// Columns in the table: the labels, the shown columns and the Σ column if any.
    fn n_cols(&self, grid: &Grid) -> usize {
        1 + self.col_w.len() + usize::from(grid.row_sum)
    }

    /// The drawn table's width, borders and separators included.
    pub(super) fn total_width(&self, grid: &Grid) -> usize {
        self.label_w
            + 2
            + self.col_w.iter().map(|w| w + 1).sum::<usize>()
            + if grid.row_sum { self.sum_w + 1 } else { 0 }
            + (self.n_cols(grid) - 1)
    }

    /// The table, right-aligned but for the label column.
    pub(super) fn draw(&self, grid: &Grid, view: &View, pal: &Palette) -> String {
        let mut table = Table::new();
        table
            .load_style(matrix_style())
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(u16::try_from(view.width).unwrap_or(u16::MAX));
        let mut header = vec![Cell::new(pad_lines(&grid.corner, self.label_w, true))];
        header.extend(
            self.heads
                .iter()
                .zip(&self.col_w)
                .map(|(h, &w)| Cell::new(pad_lines(h, w, false))),
        );
        if grid.row_sum {
            header.push(Cell::new(pad_lines(SUM_HEAD, self.sum_w, false)));
        }
        table.set_header(header);
        for ((row, label), sum) in self.body.iter().zip(&self.labels).zip(&self.sums) {
            let cells = match (row, label) {
                (Some(row), Some(label)) => self.row_cells(row, label, sum.as_deref(), grid, pal),
                _ => self.ellipsis_row(grid, pal),
            };
            table.add_row(cells);
        }
        for col in table.column_iter_mut() {
            col.set_padding((0, 0));
            col.set_cell_alignment(CellAlignment::Right);
        }
        if let Some(first) = table.column_mut(0) {
            first.set_cell_alignment(CellAlignment::Left);
        }
        table.to_string()
    }

    /// The cells of a shown row: its label, each cell in its heat or role, and its Σ.
    fn row_cells(
        &self,
        row: &[Option<Shown>],
        label: &str,
        sum: Option<&str>,
        grid: &Grid,
        pal: &Palette,
    ) -> Vec<Cell> {
        let mut cells = Vec::with_capacity(self.n_cols(grid));
        cells.push(Cell::new(pad_lines(label, self.label_w, true)));
        for (c, &w) in row.iter().zip(&self.col_w) {
            let text = match c {
                None => pal.paint(&pad_lines("…", w, false), Role::Muted),
                Some(((t, look), is_max)) => {
                    let padded = pad_lines(t, w, false);
                    match look {
                        Look::Heat { t, diverging, .. } => {
                            pal.heat(&padded, *t, *diverging, *is_max)
                        }
                        Look::Role(role) => pal.paint(&padded, *role),
                        Look::Plain => padded,
                    }
                }
            };
            cells.push(Cell::new(text));
        }
        if let Some(s) = sum {
            cells.push(Cell::new(pad_lines(s, self.sum_w, false)));
        }
        cells
    }

    /// The row standing for the elided rows: `⋮` in every column.
    fn ellipsis_row(&self, grid: &Grid, pal: &Palette) -> Vec<Cell> {
        let mut cells = Vec::with_capacity(self.n_cols(grid));
        cells.push(Cell::new(pad_lines("⋮", self.label_w, true)));
        for &w in &self.col_w {
            cells.push(Cell::new(pal.paint(&pad_lines("⋮", w, false), Role::Muted)));
        }
        if grid.row_sum {
            cells.push(Cell::new(pad_lines("⋮", self.sum_w, false)));
        }
        cells
    }
}

/// A column's header: its label, under the name of its band when the columns have named
/// bands (the selected band highlighted, or in `[brackets]` without colour).
fn column_head(grid: &Grid, col: Option<usize>, pal: &Palette) -> String {
    let named = grid
        .col_bands
        .as_ref()
        .and_then(|b| b.label.map(|f| (b, f)));
    match (col, named) {
        (None, None) => "…".into(),
        (None, Some(_)) => "\n…".into(),
        (Some(j), None) => (grid.col_label)(j),
        (Some(j), Some((b, name))) => {
            let g = j / b.size.max(1);
            let band = name(g);
            let band = if b.keep == Some(g) {
                if pal.enabled {
                    pal.paint(&band, Role::Selected)
                } else {
                    format!("[{band}]")
                }
            } else {
                band
            };
            format!("{band}\n{}", (grid.col_label)(j))
        }
    }
}
