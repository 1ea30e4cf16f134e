//! Semantic colours: every styled piece of output asks the [`Palette`] for a role ("a changed
//! dimension", "a blocked mask entry", "a weight of 0.7") instead of naming a colour, so the
//! look is changed in one place and `--color never` is honoured everywhere.
//!
//! Colours are xterm-256 indices from the 6×6×6 cube and the grey ramp (16–255), whose RGB
//! values are fixed, so contrast can be computed: every text colour reaches a WCAG contrast of
//! at least 4.5:1 against the backgrounds its [`Theme`] assumes, and every heatmap cell's text
//! against the cell's own colour (see the tests). Text colours follow the Okabe–Ito
//! colour-blind-safe set; the heatmaps use discrete bins of viridis for weights (sequential)
//! and ColorBrewer RdBu for signed values (diverging, blue below 0, red above), both
//! colour-blind safe. Without colour, [`glyph`] carries the same information: block shades
//! `░▒▓█` for values above 0 and braille `⡀⣀⣤⣿` for values below 0, fuller for larger ones.

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

impl Role {
    pub const ALL: [Role; 13] = [
        Role::Banner,
        Role::Heading,
        Role::Muted,
        Role::Keyword,
        Role::Function,
        Role::Number,
        Role::Str,
        Role::Changed,
        Role::Blocked,
        Role::Pad,
        Role::New,
        Role::Selected,
        Role::Note,
    ];
}

/// Which terminal background the colours are chosen for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Theme {
    /// Light text colours for a dark background (the common terminal default).
    #[default]
    Dark,
    /// Dark text colours for a white or light background (projectors, light terminals).
    Light,
}

/// The user's `--theme` choice, before `auto` is resolved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ThemeChoice {
    /// Read the background from COLORFGBG (set by many terminals); dark when it says nothing.
    #[default]
    Auto,
    /// Colours for a dark background.
    Dark,
    /// Colours for a light background.
    Light,
}

impl ThemeChoice {
    /// `dark`, `light` or `auto` (any case).
    pub fn parse(s: &str) -> Result<ThemeChoice, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(ThemeChoice::Auto),
            "dark" => Ok(ThemeChoice::Dark),
            "light" => Ok(ThemeChoice::Light),
            other => Err(format!(
                "unknown theme \"{other}\": use dark, light or auto"
            )),
        }
    }

    /// The theme to use; `auto` asks [`Theme::from_env`] with the value of `COLORFGBG`.
    pub fn resolve(self, colorfgbg: Option<&str>) -> Theme {
        match self {
            ThemeChoice::Auto => Theme::from_env(colorfgbg),
            ThemeChoice::Dark => Theme::Dark,
            ThemeChoice::Light => Theme::Light,
        }
    }
}

impl Theme {
    /// `dark`, `light` or `auto`, with `auto` resolved from `colorfgbg` (the value of the
    /// `COLORFGBG` variable, if set).
    pub fn parse(s: &str, colorfgbg: Option<&str>) -> Result<Theme, String> {
        ThemeChoice::parse(s).map(|c| c.resolve(colorfgbg))
    }

    /// The theme `COLORFGBG` implies. Terminals set it to `fg;bg` (rxvt also `fg;default;bg`)
    /// with ANSI colour numbers: a background of 7 (white) or 9–15 (the bright colours) is
    /// light; 0–6 and 8 are dark. Unset or unreadable means dark, the usual terminal default.
    pub fn from_env(colorfgbg: Option<&str>) -> Theme {
        let bg = colorfgbg
            .and_then(|v| v.rsplit(';').next())
            .and_then(|b| b.trim().parse::<u8>().ok());
        match bg {
            Some(7 | 9..=15) => Theme::Light,
            Some(b @ 16..) if luminance(xterm_rgb(b)) > 0.4 => Theme::Light,
            _ => Theme::Dark,
        }
    }

    /// The terminal backgrounds this theme's text colours are checked against: pure black or
    /// white and a common tinted one (One Dark's #282c34, Solarized Light's #fdf6e3).
    pub fn backgrounds(self) -> &'static [(u8, u8, u8)] {
        match self {
            Theme::Dark => &[(0, 0, 0), (40, 44, 52)],
            Theme::Light => &[(255, 255, 255), (253, 246, 227)],
        }
    }
}

/// How a role is drawn: colours as xterm-256 indices (16–255), `None` for the terminal's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ink {
    pub fg: Option<u8>,
    pub bg: Option<u8>,
    pub bold: bool,
    pub underline: bool,
}

const BLACK: u8 = 16;
const WHITE: u8 = 231;

const fn fg(c: u8) -> Ink {
    Ink {
        fg: Some(c),
        bg: None,
        bold: false,
        underline: false,
    }
}

const fn on(f: u8, b: u8) -> Ink {
    Ink {
        fg: Some(f),
        bg: Some(b),
        bold: true,
        underline: false,
    }
}

const PLAIN_BOLD: Ink = Ink {
    fg: None,
    bg: None,
    bold: true,
    underline: false,
};

/// The look of `role` under `theme`. Roles with their own background (banner, mask marks,
/// the selection) look the same in both themes.
pub fn ink(role: Role, theme: Theme) -> Ink {
    let dark = theme == Theme::Dark;
    match role {
        Role::Banner => on(BLACK, 153),
        Role::Heading => PLAIN_BOLD,
        Role::Changed => Ink {
            underline: true,
            ..PLAIN_BOLD
        },
        Role::Muted => fg(if dark { 247 } else { 241 }),
        Role::Keyword => Ink {
            bold: true,
            ..fg(if dark { 176 } else { 90 })
        },
        Role::Function => fg(if dark { 75 } else { 25 }),
        Role::Number => fg(if dark { 214 } else { 94 }),
        Role::Str => fg(if dark { 78 } else { 22 }),
        Role::Note => fg(if dark { 117 } else { 24 }),
        // Orange and blue: told apart with any colour vision.
        Role::Blocked => on(BLACK, 214),
        Role::Pad => on(WHITE, 25),
        Role::New => on(BLACK, 114),
        Role::Selected => on(BLACK, 222),
    }
}

/// The colour of a dimension name under `theme`; the same name has the same colour everywhere.
pub fn dim_color(name: DimName, theme: Theme) -> u8 {
    use DimName::*;
    let (dark, light) = match name {
        Bsz => (250, 240),
        SeqLen => (214, 124),
        PastLen => (141, 55),
        KvLen => (44, 23),
        Hidden => (111, 19),
        NHeads => (205, 125),
        NKvHeads => (78, 22),
        NRep => (183, 96),
        HeadDim => (221, 58),
        QFeatures => (177, 91),
        KvFeatures => (115, 60),
        One => (247, 241),
    };
    if theme == Theme::Dark { dark } else { light }
}

/// Colours (or not) text by role. Built from the run's colour decision and theme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Palette {
    pub enabled: bool,
    pub theme: Theme,
}

fn x(i: u8) -> XtermColors {
    XtermColors::from(i)
}

impl Palette {
    /// A palette for the dark theme.
    pub fn new(enabled: bool) -> Self {
        Palette::themed(enabled, Theme::Dark)
    }

    pub fn themed(enabled: bool, theme: Theme) -> Self {
        Palette { enabled, theme }
    }

    fn apply(&self, text: &str, ink: Ink) -> String {
        if !self.enabled {
            return text.to_string();
        }
        let mut s = Style::new();
        if let Some(f) = ink.fg {
            s = s.color(x(f));
        }
        if let Some(b) = ink.bg {
            s = s.on_color(x(b));
        }
        if ink.bold {
            s = s.bold();
        }
        if ink.underline {
            s = s.underline();
        }
        text.style(s).to_string()
    }

    /// `text` in the colour of `role`.
    pub fn paint(&self, text: &str, role: Role) -> String {
        self.apply(text, ink(role, self.theme))
    }

    /// `text` in the colour of dimension `name`, bold and underlined when `changed`.
    pub fn dim(&self, text: &str, name: DimName, changed: bool) -> String {
        self.apply(
            text,
            Ink {
                bold: changed,
                underline: changed,
                ..fg(dim_color(name, self.theme))
            },
        )
    }

    /// A heatmap cell: `t` in 0..=1 (sequential) or -1..=1 (diverging) picks the background;
    /// `bold` for a cell that stands out (a row's largest weight).
    pub fn heat(&self, text: &str, t: f32, diverging: bool, bold: bool) -> String {
        let (bg, fg) = if diverging {
            diverging_color(t)
        } else {
            sequential_color(t)
        };
        self.apply(
            text,
            Ink {
                fg: Some(fg),
                bg: Some(bg),
                bold,
                underline: false,
            },
        )
    }
}

/// Block shades from empty to full: the glyphs of values above 0 (and of weights).
pub const SHADES: [char; 5] = [' ', '░', '▒', '▓', '█'];
/// Braille from one dot to eight: the glyphs of values below 0.
pub const NEG_SHADES: [char; 5] = [' ', '⡀', '⣀', '⣤', '⣿'];
/// Marks the largest weight of a row.
pub const ROW_MAX: char = '◆';

/// Which of the four fill levels a magnitude in 0..=1 gets: 0 only for exactly 0, so any
/// non-zero value shows at least the lightest glyph; (0, .25] → 1 … (.75, 1] → 4.
pub fn level(t: f32) -> usize {
    let t = if t.is_finite() {
        t.abs().clamp(0.0, 1.0)
    } else {
        0.0
    };
    if t <= 0.0 {
        0
    } else {
        ((t * 4.0).ceil() as usize).clamp(1, 4)
    }
}

/// The glyph for `t`: in -1..=1 when `diverging` (braille below 0, blocks above), in 0..=1
/// otherwise (blocks).
pub fn glyph(t: f32, diverging: bool) -> char {
    if diverging && t < 0.0 {
        NEG_SHADES[level(t)]
    } else {
        SHADES[level(t)]
    }
}

/// Viridis in ten bins of 0.1, as xterm colours getting lighter bin by bin.
const SEQUENTIAL: [u8; 10] = [53, 54, 24, 61, 30, 36, 72, 77, 148, 220];
/// RdBu in eleven bins over -1..=1: blue below 0, white at 0, red above.
const DIVERGING: [u8; 11] = [23, 25, 67, 116, 189, 231, 224, 216, 167, 124, 52];

/// Black or white text, whichever contrasts more with background `bg`.
fn text_on(bg: u8) -> u8 {
    let b = xterm_rgb(bg);
    if contrast(xterm_rgb(BLACK), b) >= contrast(xterm_rgb(WHITE), b) {
        BLACK
    } else {
        WHITE
    }
}

fn finite_or_zero(t: f32) -> f32 {
    if t.is_finite() { t } else { 0.0 }
}

/// (background, foreground) for a weight `t` in 0..=1.
pub fn sequential_color(t: f32) -> (u8, u8) {
    let t = finite_or_zero(t).clamp(0.0, 1.0);
    let bg = SEQUENTIAL[((t * 10.0) as usize).min(9)];
    (bg, text_on(bg))
}

/// (background, foreground) for a signed value `t` in -1..=1.
pub fn diverging_color(t: f32) -> (u8, u8) {
    let t = finite_or_zero(t).clamp(-1.0, 1.0);
    let bg = DIVERGING[((t * 5.0).round() + 5.0) as usize];
    (bg, text_on(bg))
}

/// The RGB value of an xterm colour. 16–231 are the 6×6×6 cube and 232–255 the grey ramp
/// (fixed by xterm and followed by nearly every terminal); 0–15 are the ANSI colours, which
/// terminals redefine, given here as xterm's defaults.
pub fn xterm_rgb(i: u8) -> (u8, u8, u8) {
    const LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];
    const ANSI: [(u8, u8, u8); 16] = [
        (0, 0, 0),
        (205, 0, 0),
        (0, 205, 0),
        (205, 205, 0),
        (0, 0, 238),
        (205, 0, 205),
        (0, 205, 205),
        (229, 229, 229),
        (127, 127, 127),
        (255, 0, 0),
        (0, 255, 0),
        (255, 255, 0),
        (92, 92, 255),
        (255, 0, 255),
        (0, 255, 255),
        (255, 255, 255),
    ];
    match i {
        0..=15 => ANSI[usize::from(i)],
        16..=231 => {
            let c = i - 16;
            (
                LEVELS[usize::from(c / 36)],
                LEVELS[usize::from(c / 6 % 6)],
                LEVELS[usize::from(c % 6)],
            )
        }
        _ => {
            let v = 8 + 10 * (i - 232);
            (v, v, v)
        }
    }
}

/// WCAG 2 relative luminance of an sRGB colour.
pub fn luminance((r, g, b): (u8, u8, u8)) -> f64 {
    let ch = |v: u8| {
        let v = f64::from(v) / 255.0;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b)
}

/// WCAG 2 contrast ratio of two colours, from 1 (the same) to 21 (black on white).
pub fn contrast(a: (u8, u8, u8), b: (u8, u8, u8)) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

#[cfg(test)]
mod tests {
    use super::*;

    const THEMES: [Theme; 2] = [Theme::Dark, Theme::Light];

    type Rgb = (u8, u8, u8);

    /// Every foreground/background pair either theme draws, with what it is for.
    fn pairs(theme: Theme) -> Vec<(String, Rgb, Rgb)> {
        let mut out = Vec::new();
        let text = |c: Option<u8>, bg: (u8, u8, u8)| c.map(xterm_rgb).unwrap_or(bg);
        for role in Role::ALL {
            let ink = ink(role, theme);
            match ink.bg {
                Some(bg) => {
                    let fg = ink
                        .fg
                        .expect("a role with a background sets its text colour");
                    out.push((format!("{role:?}"), xterm_rgb(fg), xterm_rgb(bg)));
                }
                // The terminal's own text colour is assumed to read on its own background.
                None if ink.fg.is_none() => {}
                None => {
                    for &bg in theme.backgrounds() {
                        out.push((format!("{role:?}"), text(ink.fg, bg), bg));
                    }
                }
            }
        }
        use DimName::*;
        for name in [
            Bsz, SeqLen, PastLen, KvLen, Hidden, NHeads, NKvHeads, NRep, HeadDim, QFeatures,
            KvFeatures, One,
        ] {
            for &bg in theme.backgrounds() {
                out.push((format!("{name:?}"), xterm_rgb(dim_color(name, theme)), bg));
            }
        }
        // Heatmap cells, whichever theme: every bin of both ramps.
        for i in 0..=200 {
            let t = i as f32 / 200.0;
            for (what, (bg, fg)) in [
                ("weight", sequential_color(t)),
                ("signed", diverging_color(2.0 * t - 1.0)),
            ] {
                out.push((format!("{what} {t}"), xterm_rgb(fg), xterm_rgb(bg)));
            }
        }
        out
    }

    #[test]
    fn every_pair_of_both_themes_reaches_wcag_aa_contrast() {
        for theme in THEMES {
            for (what, fg, bg) in pairs(theme) {
                let c = contrast(fg, bg);
                assert!(
                    c >= 4.5,
                    "{theme:?} {what}: {fg:?} on {bg:?} has contrast {c:.2}"
                );
            }
        }
    }

    #[test]
    fn contrast_matches_known_values() {
        assert!((contrast((0, 0, 0), (255, 255, 255)) - 21.0).abs() < 1e-9);
        assert!((contrast((10, 20, 30), (10, 20, 30)) - 1.0).abs() < 1e-9);
        // #777777 on white is the textbook just-below-AA grey: 4.48:1.
        assert!((contrast((119, 119, 119), (255, 255, 255)) - 4.48).abs() < 0.01);
    }

    #[test]
    fn xterm_colours_have_their_cube_and_grey_values() {
        assert_eq!(xterm_rgb(16), (0, 0, 0));
        assert_eq!(xterm_rgb(231), (255, 255, 255));
        assert_eq!(xterm_rgb(196), (255, 0, 0));
        assert_eq!(xterm_rgb(25), (0, 95, 175));
        assert_eq!(xterm_rgb(232), (8, 8, 8));
        assert_eq!(xterm_rgb(255), (238, 238, 238));
    }

    #[test]
    fn ramps_are_distinct_bins_in_order() {
        // Sequential: lighter with every bin, so a larger weight never looks darker.
        for w in SEQUENTIAL.windows(2) {
            assert!(
                luminance(xterm_rgb(w[0])) < luminance(xterm_rgb(w[1])),
                "{w:?}"
            );
        }
        // Diverging: white at 0, lighter towards 0 from both sides, blue below, red above.
        assert_eq!(diverging_color(0.0).0, 231);
        for side in [&DIVERGING[..6], &DIVERGING[5..]] {
            let lum: Vec<f64> = side.iter().map(|&c| luminance(xterm_rgb(c))).collect();
            let toward_zero_first = side[0] != 231;
            for w in lum.windows(2) {
                assert!((w[0] < w[1]) == toward_zero_first, "{side:?}");
            }
        }
        let (r, _, b) = xterm_rgb(diverging_color(-1.0).0);
        assert!(b > r);
        let (r, _, b) = xterm_rgb(diverging_color(1.0).0);
        assert!(r > b);
        // Weights of 0.19 and 0.36 (issue 13's lesson-3 row) get different colours.
        assert_ne!(sequential_color(0.192).0, sequential_color(0.356).0);
    }

    #[test]
    fn glyphs_show_sign_and_size() {
        assert_eq!(glyph(0.0, true), ' ');
        assert_eq!(glyph(0.01, true), '░');
        assert_eq!(glyph(0.5, true), '▒');
        assert_eq!(glyph(0.6, true), '▓');
        assert_eq!(glyph(1.0, true), '█');
        assert_eq!(glyph(-1.0, true), '⣿');
        assert_eq!(glyph(-0.3, true), '⣀');
        assert_eq!(glyph(f32::NAN, true), ' ');
        // Weights are never below 0: blocks only.
        assert_eq!(glyph(0.3, false), '▒');
    }

    #[test]
    fn colorfgbg_picks_the_theme() {
        assert_eq!(Theme::from_env(None), Theme::Dark);
        assert_eq!(Theme::from_env(Some("15;0")), Theme::Dark);
        assert_eq!(Theme::from_env(Some("0;15")), Theme::Light);
        assert_eq!(Theme::from_env(Some("0;7")), Theme::Light);
        assert_eq!(Theme::from_env(Some("0;default;15")), Theme::Light);
        assert_eq!(Theme::from_env(Some("7;8")), Theme::Dark);
        assert_eq!(Theme::from_env(Some("0;231")), Theme::Light);
        assert_eq!(Theme::from_env(Some("junk")), Theme::Dark);
        assert_eq!(Theme::parse("LIGHT", Some("15;0")), Ok(Theme::Light));
        assert_eq!(Theme::parse("auto", Some("0;15")), Ok(Theme::Light));
        assert!(
            Theme::parse("sepia", None)
                .unwrap_err()
                .contains("dark, light or auto")
        );
    }

    #[test]
    fn disabled_palette_is_plain_text() {
        let p = Palette::new(false);
        assert_eq!(p.paint("x", Role::Blocked), "x");
        assert_eq!(p.heat("0.5", 0.5, false, true), "0.5");
        assert_eq!(p.dim("seq_len=5", DimName::SeqLen, true), "seq_len=5");
        assert!(
            Palette::new(true)
                .paint("x", Role::Blocked)
                .contains('\u{1b}')
        );
        // The themes differ in text colours, not in what is coloured.
        let (d, l) = (
            Palette::themed(true, Theme::Dark).paint("x", Role::Note),
            Palette::themed(true, Theme::Light).paint("x", Role::Note),
        );
        assert_ne!(d, l);
    }
}
