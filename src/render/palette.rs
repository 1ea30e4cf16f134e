//! Semantic colours: every styled piece of output asks the [`Palette`] for a role ("a changed
//! dimension", "a blocked mask entry", "a weight of 0.7") instead of naming a colour, so the
//! look is changed in one place and `--color never` is honoured everywhere.
//!
//! Colours are xterm-256 indices (readable on nearly every terminal and projector). The
//! heatmaps use colour-blind-safe ramps: viridis for weights (sequential) and a blue–white–red
//! ramp (ColorBrewer RdBu) for signed values; without colour a shade character carries the
//! same information.

use owo_colors::{OwoColorize, Style, XtermColors};

use crate::dims::DimName;

/// What a piece of text is, for colouring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The stage banner.
    Banner,
    /// A heading inside a stage (a table's title).
    Heading,
    /// Less important text: legends, stats, elision marks.
    Muted,
    /// Python keywords.
    Keyword,
    /// Python function and method names.
    Function,
    /// Number literals in code.
    Number,
    /// String literals in code.
    Str,
    /// A dimension the stage changed (added on top of the dimension's own colour).
    Changed,
    /// A score blocked by the causal mask (-inf).
    Blocked,
    /// A score pushed down by the padding mask (-1e9), or a padding position.
    Pad,
    /// Rows or columns that are new in this step (cache growth, new keys).
    New,
    /// The head or batch row selected with --head / --batch-index.
    Selected,
    /// Lesson notes.
    Note,
}

/// Colours (or not) text by role. Built from the run's single colour decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Palette {
    pub enabled: bool,
}

fn x(i: u8) -> XtermColors {
    XtermColors::from(i)
}

impl Palette {
    pub fn new(enabled: bool) -> Self {
        Palette { enabled }
    }

    fn style(&self, text: &str, style: Style) -> String {
        if self.enabled {
            text.style(style).to_string()
        } else {
            text.to_string()
        }
    }

    /// `text` in the colour of `role`.
    pub fn paint(&self, text: &str, role: Role) -> String {
        let s = Style::new();
        let style = match role {
            Role::Banner => s.color(x(16)).on_color(x(153)).bold(),
            Role::Heading => s.bold(),
            Role::Muted => s.color(x(245)),
            Role::Keyword => s.color(x(170)).bold(),
            Role::Function => s.color(x(75)),
            Role::Number => s.color(x(214)),
            Role::Str => s.color(x(114)),
            Role::Changed => s.bold().underline(),
            Role::Blocked => s.color(x(16)).on_color(x(214)).bold(),
            Role::Pad => s.color(x(231)).on_color(x(25)).bold(),
            Role::New => s.color(x(16)).on_color(x(114)).bold(),
            Role::Selected => s.color(x(16)).on_color(x(222)).bold(),
            Role::Note => s.color(x(117)),
        };
        self.style(text, style)
    }

    /// The colour of a dimension name; the same name has the same colour everywhere.
    pub fn dim_color(name: DimName) -> u8 {
        match name {
            DimName::Bsz => 250,
            DimName::SeqLen => 214,
            DimName::PastLen => 141,
            DimName::KvLen => 44,
            DimName::Hidden => 111,
            DimName::NHeads => 205,
            DimName::NKvHeads => 78,
            DimName::NRep => 183,
            DimName::HeadDim => 221,
            DimName::QFeatures => 177,
            DimName::KvFeatures => 115,
            DimName::One => 245,
        }
    }

    /// `text` in the colour of dimension `name`, bold and underlined when `changed`.
    pub fn dim(&self, text: &str, name: DimName, changed: bool) -> String {
        let mut s = Style::new().color(x(Self::dim_color(name)));
        if changed {
            s = s.bold().underline();
        }
        self.style(text, s)
    }

    /// A heatmap cell: `t` in 0..=1 (sequential) or -1..=1 (diverging) picks the background.
    pub fn heat(&self, text: &str, t: f32, diverging: bool) -> String {
        let (bg, fg) = if diverging {
            diverging_color(t)
        } else {
            sequential_color(t)
        };
        self.style(text, Style::new().color(x(fg)).on_color(x(bg)))
    }
}

/// Shade characters from empty to full, for heatmaps without colour.
pub const SHADES: [char; 5] = [' ', '░', '▒', '▓', '█'];

/// The shade character for a magnitude `t` in 0..=1.
pub fn shade(t: f32) -> char {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    // 0 → ' ', (0, .25] → '░', … (.75, 1] → '█': any non-zero value shows at least a light shade.
    let i = if t <= 0.0 {
        0
    } else {
        ((t * 4.0).ceil() as usize).clamp(1, 4)
    };
    SHADES[i]
}

/// Viridis stops (sequential, perceptually uniform, colour-blind safe).
const VIRIDIS: [(u8, u8, u8); 5] = [
    (68, 1, 84),
    (59, 82, 139),
    (33, 145, 140),
    (94, 201, 98),
    (253, 231, 37),
];

/// ColorBrewer RdBu, reversed: blue for negative, red for positive (colour-blind safe).
const RDBU: [(u8, u8, u8); 5] = [
    (33, 102, 172),
    (146, 197, 222),
    (247, 247, 247),
    (244, 165, 130),
    (178, 24, 43),
];

fn ramp(stops: &[(u8, u8, u8); 5], t: f32) -> (u8, u8, u8) {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let pos = t * 4.0;
    let i = (pos.floor() as usize).min(3);
    let f = pos - i as f32;
    let lerp = |a: u8, b: u8| (f32::from(a) + (f32::from(b) - f32::from(a)) * f).round() as u8;
    let (a, b) = (stops[i], stops[i + 1]);
    (lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
}

/// Black or white text, whichever reads on `rgb`.
fn text_on(rgb: (u8, u8, u8)) -> u8 {
    let lum = 0.2126 * f32::from(rgb.0) + 0.7152 * f32::from(rgb.1) + 0.0722 * f32::from(rgb.2);
    if lum > 140.0 { 16 } else { 231 }
}

/// (background, foreground) for a weight `t` in 0..=1.
pub fn sequential_color(t: f32) -> (u8, u8) {
    let rgb = ramp(&VIRIDIS, t);
    (xterm_index(rgb), text_on(rgb))
}

/// (background, foreground) for a signed value `t` in -1..=1.
pub fn diverging_color(t: f32) -> (u8, u8) {
    let rgb = ramp(&RDBU, (t + 1.0) / 2.0);
    (xterm_index(rgb), text_on(rgb))
}

/// The nearest xterm-256 colour to an RGB triple (6×6×6 cube or grey ramp).
pub fn xterm_index((r, g, b): (u8, u8, u8)) -> u8 {
    const LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];
    let nearest = |v: u8| {
        (0..6)
            .min_by_key(|&i| (i32::from(LEVELS[i]) - i32::from(v)).abs())
            .expect("six levels")
    };
    let (ri, gi, bi) = (nearest(r), nearest(g), nearest(b));
    let dist = |c: (u8, u8, u8)| {
        let d = |a: u8, b: u8| (i32::from(a) - i32::from(b)).pow(2);
        d(c.0, r) + d(c.1, g) + d(c.2, b)
    };
    let cube = (LEVELS[ri], LEVELS[gi], LEVELS[bi]);
    let grey_i = ((i32::from(r) + i32::from(g) + i32::from(b)) / 3 - 8).clamp(0, 230) / 10;
    let grey_v = (8 + grey_i * 10) as u8;
    if dist((grey_v, grey_v, grey_v)) < dist(cube) {
        232 + grey_i as u8
    } else {
        16 + 36 * ri as u8 + 6 * gi as u8 + bi as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shades_grow_with_magnitude() {
        assert_eq!(shade(0.0), ' ');
        assert_eq!(shade(0.01), '░');
        assert_eq!(shade(0.5), '▒');
        assert_eq!(shade(0.6), '▓');
        assert_eq!(shade(1.0), '█');
        assert_eq!(shade(f32::NAN), ' ');
    }

    #[test]
    fn xterm_index_hits_exact_colours() {
        assert_eq!(xterm_index((0, 0, 0)), 16);
        assert_eq!(xterm_index((255, 255, 255)), 231);
        assert_eq!(xterm_index((255, 0, 0)), 196);
        assert_eq!(xterm_index((128, 128, 128)), 244);
    }

    #[test]
    fn disabled_palette_is_plain_text() {
        let p = Palette::new(false);
        assert_eq!(p.paint("x", Role::Blocked), "x");
        assert_eq!(p.heat("0.5", 0.5, false), "0.5");
        assert_eq!(p.dim("seq_len=5", DimName::SeqLen, true), "seq_len=5");
        assert!(
            Palette::new(true)
                .paint("x", Role::Blocked)
                .contains('\u{1b}')
        );
    }

    #[test]
    fn ramps_run_dark_to_light_and_blue_to_red() {
        assert_eq!(ramp(&VIRIDIS, 0.0), VIRIDIS[0]);
        assert_eq!(ramp(&VIRIDIS, 1.0), VIRIDIS[4]);
        assert_eq!(ramp(&RDBU, 0.5), RDBU[2]);
        // Dark end gets white text, light end black text.
        assert_eq!(sequential_color(0.0).1, 231);
        assert_eq!(sequential_color(1.0).1, 16);
    }
}
