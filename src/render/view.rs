//! How a stage is drawn ([`View`]: head, batch row, colour, sizes, theme, prose) and which
//! stages are printed ([`Selection`]).

use super::palette::{Palette, Theme};
use crate::trace::StageId;

/// How much of a stage's generic explanation to print.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Prose {
    /// The whole paragraph.
    #[default]
    Full,
    /// Its first sentence only: for a stage whose lesson note explains the rest.
    Short,
    /// None: the lesson note replaces it.
    Hidden,
}

impl Prose {
    /// `text` cut to this level: the first sentence ends at the first ". " that is followed by a
    /// capital letter, so decimals (`√8 = 2.828`) and `.view` do not end it.
    pub fn apply(self, text: &str) -> String {
        match self {
            Prose::Full => text.to_string(),
            Prose::Hidden => String::new(),
            Prose::Short => {
                let end = text
                    .match_indices(". ")
                    .find(|(i, _)| text[i + 2..].chars().next().is_some_and(char::is_uppercase))
                    .map_or(text.len(), |(i, _)| i + 1);
                text[..end].to_string()
            }
        }
    }
}

/// How to draw a stage: which head and batch row the matrices show, colour, and size limits.
#[derive(Clone, Debug, PartialEq)]
pub struct View {
    /// Query head shown in per-head matrices (0-based).
    pub head: usize,
    /// Batch row shown (0-based).
    pub batch: usize,
    /// Emit ANSI colour: the run's one colour decision (see [`color::decide`]).
    pub color: bool,
    /// Terminal width in columns.
    pub width: usize,
    /// Rows of a matrix shown before the middle is elided.
    pub max_rows: usize,
    /// Columns of a matrix shown before the middle is elided (fewer if the width needs it).
    pub max_cols: usize,
    /// Decimals shown.
    pub precision: usize,
    /// The colours' theme (dark or light terminal background).
    pub theme: Theme,
    /// How much of the stage's generic explanation to print.
    pub prose: Prose,
    /// Labels for each batch row's positions (a lesson's `tokens` per row); the
    /// configuration's labels when `None`.
    pub row_tokens: Option<std::sync::Arc<Vec<Vec<String>>>>,
}

impl Default for View {
    fn default() -> Self {
        View {
            head: 0,
            batch: 0,
            color: false,
            width: 100,
            max_rows: 8,
            max_cols: 8,
            precision: 3,
            theme: Theme::Dark,
            prose: Prose::Full,
            row_tokens: None,
        }
    }
}

impl View {
    /// The palette for this view's colour decision and theme.
    pub fn palette(&self) -> Palette {
        Palette::themed(self.color, self.theme)
    }
}

/// Which stages of which steps to print.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// 0-based step index; `None` for every step.
    pub step: Option<usize>,
    /// Stage id; `None` for every stage.
    pub stage: Option<StageId>,
}
