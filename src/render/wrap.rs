//! Word wrapping for rendered text: ANSI escapes take no room, and a bracketed shape is never
//! cut inside its brackets.

use crate::text::visible_width;

/// Wraps each line of `text` at spaces to `width` columns (ANSI escapes take no room);
/// continuation lines start with `indent`. Every line ends with a newline.
///
/// A bracketed span (`[bsz=1, kv_len=3, n_kv_heads=2, head_dim=64]`, `x[b=0, :, h=1, :]`) is
/// kept on one line when it fits on a line at all, so a shape is never cut inside its brackets.
pub fn wrap_words(text: &str, width: usize, indent: &str) -> String {
    let width = width.max(20);
    let mut out = String::new();
    for line in text.lines() {
        let lead: String = line.chars().take_while(|c| *c == ' ').collect();
        let mut cur = lead.clone();
        let mut cur_w = lead.len();
        let mut empty = true;
        let room = width.saturating_sub(indent.len()).max(8);
        let words = unbroken_spans(line, room).into_iter().flat_map(|w| {
            // A plain word longer than a whole line is cut into line-sized pieces.
            let chars: Vec<char> = w.chars().collect();
            if chars.len() > room && !w.contains('\u{1b}') {
                chars.chunks(room).map(|c| c.iter().collect()).collect()
            } else {
                vec![w]
            }
        });
        for word in words {
            let word = word.as_str();
            let ww = visible_width(word);
            if !empty && cur_w + 1 + ww > width {
                out.push_str(&cur);
                out.push('\n');
                cur = indent.to_string();
                cur_w = indent.len();
                empty = true;
            }
            if !empty {
                cur.push(' ');
                cur_w += 1;
            }
            cur.push_str(word);
            cur_w += ww;
            empty = false;
        }
        out.push_str(&cur);
        out.push('\n');
    }
    out
}

/// The space-separated words of `line`, with the words of a bracketed span joined into one
/// when the span fits in `room` columns (a longer span stays breakable between its words).
fn unbroken_spans(line: &str, room: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut open: Option<Vec<&str>> = None;
    let mut depth = 0i32;
    for word in line.split(' ').filter(|w| !w.is_empty()) {
        let plain = crate::text::strip_ansi(word);
        let before = depth;
        depth += plain.matches('[').count() as i32 - plain.matches(']').count() as i32;
        depth = depth.max(0);
        match open.as_mut() {
            Some(span) => span.push(word),
            None if depth > 0 && before == 0 => open = Some(vec![word]),
            None => out.push(word.to_string()),
        }
        if depth == 0
            && let Some(span) = open.take()
        {
            let joined = span.join(" ");
            if visible_width(&joined) <= room {
                out.push(joined);
            } else {
                out.extend(span.into_iter().map(str::to_string));
            }
        }
    }
    // An unclosed bracket: its words stay separate.
    if let Some(span) = open {
        out.extend(span.into_iter().map(str::to_string));
    }
    out
}
