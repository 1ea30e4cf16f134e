//! Text for the terminal: the one place that measures, wraps and sanitises what is printed.
//!
//! Widths ignore ANSI escape sequences (the renderer colours text before it is laid out) and
//! count wide characters as two columns. Wrapping is textwrap's, so every view breaks lines the
//! same way. [`printable`] makes control characters from outside (lesson files, token labels,
//! tokenizer pieces, file names) visible instead of letting them reach the terminal.

use std::borrow::Cow;

/// The widest layout attnstep draws, in columns. A `COLUMNS` of a billion must not make the
/// renderer allocate lines that long; 1,000 columns is wider than any real terminal.
pub const MAX_WIDTH: usize = 1000;
/// The narrowest layout; below this, tables cannot hold a number per column.
pub const MIN_WIDTH: usize = 20;

/// Clamps a terminal width (from the terminal, `COLUMNS` or a flag) to what can be laid out.
pub fn clamp_width(width: usize) -> usize {
    width.clamp(MIN_WIDTH, MAX_WIDTH)
}

/// Width of text on screen in terminal columns, not counting ANSI escape sequences.
pub fn visible_width(s: &str) -> usize {
    textwrap::core::display_width(s)
}

/// The text without its ANSI CSI escape sequences (`ESC [ … final byte`).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            skip_escape(&mut chars);
        } else {
            out.push(c);
        }
    }
    out
}

/// Skips the rest of an ANSI CSI sequence after its ESC.
pub fn skip_escape(chars: &mut std::str::Chars) {
    if chars.next() == Some('[') {
        for c in chars.by_ref() {
            if ('@'..='~').contains(&c) {
                break;
            }
        }
    }
}

/// Wraps one paragraph (no newlines inside) to `width` columns at spaces; continuation lines
/// start with `indent`, the first keeps its own leading spaces. Words longer than a line are
/// broken; ANSI escapes take no room.
pub fn wrap_paragraph(line: &str, width: usize, indent: &str) -> Vec<String> {
    let width = width.max(8);
    let lead_len = line.len() - line.trim_start_matches(' ').len();
    let (lead, rest) = line.split_at(lead_len);
    if rest.is_empty() {
        return vec![String::new()];
    }
    let options = textwrap::Options::new(width)
        .initial_indent(lead)
        .subsequent_indent(indent)
        .break_words(true)
        .word_separator(textwrap::WordSeparator::AsciiSpace)
        .wrap_algorithm(textwrap::WrapAlgorithm::FirstFit);
    textwrap::wrap(rest, options)
        .into_iter()
        .map(Cow::into_owned)
        .collect()
}

/// Wraps each line of `text` to `width` columns, keeping blank lines; continuation lines of a
/// line start with that line's indent followed by `extra_indent`.
pub fn wrap(text: &str, width: usize, extra_indent: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let lead = &line[..line.len() - line.trim_start_matches(' ').len()];
        out.extend(wrap_paragraph(
            line,
            width,
            &format!("{lead}{extra_indent}"),
        ));
    }
    out
}

/// Text from outside the program, safe to print: control characters (C0 except newline and
/// tab, DEL, C1, and ESC itself) become visible `\u{..}` escapes, so a lesson file or a token
/// cannot set the window title, clear the screen or write the clipboard.
pub fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Like [`printable`] for a one-line label: newlines and tabs are made visible too.
pub fn printable_line(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c.is_control()) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| match c {
                '\n' => "\\n".to_string(),
                '\t' => "\\t".to_string(),
                c if c.is_control() => format!("\\u{{{:x}}}", c as u32),
                c => c.to_string(),
            })
            .collect(),
    )
}

/// Space-separated words (token labels), each made [`printable_line`], joined by single spaces.
pub fn printable_words(s: &str) -> String {
    s.split_whitespace()
        .map(printable_line)
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_unsafe(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

/// `33554432` → `33,554,432`.
pub fn thousands(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_ignore_escapes_and_count_wide_characters() {
        assert_eq!(visible_width("\x1b[31mred\x1b[0m →"), 5);
        assert_eq!(visible_width("中文"), 4);
        assert_eq!(strip_ansi("\x1b[1;31mab\x1b[0mc"), "abc");
    }

    #[test]
    fn wrapping_keeps_indent_and_width() {
        let lines = wrap("  one two three four five", 12, "  ");
        assert_eq!(
            lines,
            vec!["  one two", "    three", "    four", "    five"]
        );
        assert!(lines.iter().all(|l| visible_width(l) <= 12));
        assert_eq!(wrap("a\n\nb", 10, ""), vec!["a", "", "b"]);
        let coloured = wrap_paragraph("\x1b[1mbold\x1b[0m word", 9, "");
        assert_eq!(coloured.len(), 1);
        assert_eq!(wrap_paragraph("abcdefghijkl", 8, "").len(), 2);
    }

    #[test]
    fn control_characters_become_visible() {
        assert_eq!(printable("plain"), "plain");
        assert_eq!(printable("a\x1b]0;title\x07b"), "a\\u{1b}]0;title\\u{7}b");
        assert_eq!(printable("keep\nlines\tand tabs"), "keep\nlines\tand tabs");
        assert_eq!(printable("c1\u{9b}2J"), "c1\\u{9b}2J");
        assert_eq!(printable_line("a\nb"), "a\\nb");
        assert!(!printable("\x1b[2J").contains('\x1b'));
    }

    #[test]
    fn groups_digits_and_clamps_widths() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(33_554_432), "33,554,432");
        assert_eq!(clamp_width(usize::MAX), MAX_WIDTH);
        assert_eq!(clamp_width(0), MIN_WIDTH);
    }
}
