//! Lesson text computed from the run: `{placeholders}` filled from the [`Facts`] of the step and
//! view being shown. `lessons check` validates every placeholder before anything runs, so a
//! misspelt name is a located error, not a wrong sentence; [`references`] lists what a text
//! needs (token positions, tensors) so the check can also refuse one that can never resolve.
//!
//! Numbers: `{bsz}`, `{seq_len}`, `{past_len}`, `{kv_len}`, `{hidden}`, `{n_heads}`,
//! `{n_kv_heads}`, `{n_rep}`, `{head_dim}`, `{head}`, `{kv_head}` (the KV head the selected
//! query head reads), `{group_first}`/`{group_last}` (the query heads that read that KV head),
//! `{batch}`, `{step}` (1-based), `{steps}`, `{first_pos}`, `{last_pos}`, `{q_features}`
//! (n_heads·head_dim), `{kv_features}`, `{head_first}`/`{head_last}` (the selected head's
//! features in xq_proj), `{blocked}` (scores the causal mask blocks in this call), `{scale}`
//! (√head_dim to 3 decimals), `{theta}`. Any of them joined by `+ - * /` with whole numbers is
//! worked out: `{2*n_kv_heads*head_dim}`, `{past_len+1}`.
//!
//! Attention, from the numbers of the run (see the `attention` module for what counts):
//! `{prev_weight}`, `{first_weight}`, `{induction_weight}` (the mean weight the selected head
//! puts on the previous token, the first token, the induction target, over this call's
//! queries), `{uniform}` and `{induction_uniform}` (what an even spread would give a key, and
//! the target), `{induction_count}` (queries with a target), `{target_weight}` and
//! `{target_uniform}` (the selected head's weight on the last query's target, and an even
//! spread's),
//! `{prev_head}`/`{first_head}`/`{induction_head}` (the layer's head that does it most) with
//! `{prev_best}`/`{first_best}`/`{induction_best}` (its mean), `{induction_query}` and
//! `{induction_target}` (this call's last query with a target, and the target), `{layer}` and
//! `{layers}` (the checkpoint's layer shown and how many it has). Fractions are written to 3
//! decimals.
//!
//! Text: `{token:N}` (the label of position N in the selected batch row; `first`/`last` for this
//! call's first and last position; `induction_query`/`induction_target` for those positions),
//! `{shape:NAME}` (a tensor's shape in this call, dimensions
//! named), `{sizes:NAME}` (its sizes only, `[1, 5, 2, 4]`), `{mask}` (the selected row's
//! attention mask so far), `{pad_keys}` (its padded positions), `{first_real}` (its first
//! position that is not padding), `{inv_freq}` (RoPE's
//! frequencies), `{cos:N}`/`{sin:N}` (RoPE's table at position N, one value per pair). `{{` and
//! `}}` write braces.

use std::fmt::Write;

pub(super) mod attention;

use super::concepts::span_text;
use super::facts::Facts;
use super::id::TensorId;
use crate::backend::HasShape;
use crate::trace::Trace;

pub use super::condition::Condition;
pub use attention::{has_induction, induction_target_in};

/// Every plain numeric placeholder name.
pub const NAMES: [&str; 25] = [
    "bsz",
    "seq_len",
    "past_len",
    "kv_len",
    "hidden",
    "n_heads",
    "n_kv_heads",
    "n_rep",
    "head_dim",
    "head",
    "kv_head",
    "group_first",
    "group_last",
    "batch",
    "step",
    "steps",
    "first_pos",
    "last_pos",
    "q_features",
    "kv_features",
    "head_first",
    "head_last",
    "blocked",
    "scale",
    "theta",
];

/// Placeholders that are text, not numbers.
const WORDS: [&str; 4] = ["mask", "pad_keys", "first_real", "inv_freq"];

/// Forms with an argument after a colon.
const FORMS: [&str; 5] = ["token:", "shape:", "sizes:", "cos:", "sin:"];

/// What is wrong with a template, at a byte offset into it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError {
    pub offset: usize,
    /// The placeholder as written, braces included (empty for a stray brace).
    pub written: String,
    pub message: String,
}

/// A position named in a placeholder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pos {
    At(usize),
    /// This call's first new position (past_len).
    First,
    /// This call's last position (kv_len - 1).
    Last,
    /// This call's last query whose token appeared before, and the position after that earlier
    /// occurrence (its induction target).
    InductionQuery,
    InductionTarget,
}

/// Something a text needs from the run, for `lessons check`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ref {
    /// The label of a position (`{token:N}`).
    Token(usize),
    /// A tensor's shape (`{shape:NAME}`, `{sizes:NAME}`).
    Tensor(TensorId),
    /// A token that repeats (`{induction_weight}`, `{token:induction_query}`, …).
    Induction,
}

/// One operator of a numeric expression.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

/// A number in an expression: a literal or a named fact.
#[derive(Clone, Debug, PartialEq)]
enum Term<'a> {
    Lit(f64),
    Name(&'a str),
}

/// One piece of a parsed template.
#[derive(Clone, Debug, PartialEq)]
enum Piece<'a> {
    Text(&'a str),
    /// A single name, or names and numbers joined by operators, left to right with `*` and `/`
    /// binding tighter.
    Expr(Vec<Term<'a>>, Vec<Op>),
    Word(&'a str),
    Token(Pos),
    Shape {
        id: TensorId,
        named: bool,
    },
    Rope {
        cos: bool,
        pos: Pos,
    },
}

/// A piece with where it starts in the text and how it was written.
struct Located<'a> {
    offset: usize,
    written: &'a str,
    piece: Piece<'a>,
}

fn parse(text: &str) -> Result<Vec<Located<'_>>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    let err = |at: usize, written: &str, message: String| TemplateError {
        offset: at,
        written: written.to_string(),
        message,
    };
    while let Some(i) = rest.find(['{', '}']) {
        let text_piece = Piece::Text(&rest[..i]);
        out.push(Located {
            offset,
            written: &rest[..i],
            piece: text_piece,
        });
        let brace = &rest[i..i + 1];
        if rest[i + 1..].starts_with(brace) {
            out.push(Located {
                offset: offset + i,
                written: &rest[i..i + 2],
                piece: Piece::Text(brace),
            });
            offset += i + 2;
            rest = &rest[i + 2..];
            continue;
        }
        if brace == "}" {
            let msg = "a `}` without its `{` (write `}}` for a brace)".to_string();
            return Err(err(offset + i, "", msg));
        }
        let Some(len) = rest[i + 1..].find('}') else {
            let msg = "a `{` that is never closed (write `{{` for a brace)".to_string();
            return Err(err(offset + i, "", msg));
        };
        let written = &rest[i..i + len + 2];
        let piece = piece(rest[i + 1..i + 1 + len].trim())
            .map_err(|message| err(offset + i, written, message))?;
        out.push(Located {
            offset: offset + i,
            written,
            piece,
        });
        offset += i + len + 2;
        rest = &rest[i + len + 2..];
    }
    out.push(Located {
        offset,
        written: rest,
        piece: Piece::Text(rest),
    });
    Ok(out)
}

fn pos(arg: &str, form: &str) -> Result<Pos, String> {
    match arg.trim() {
        "first" => Ok(Pos::First),
        "last" => Ok(Pos::Last),
        "induction_query" if form == "token:" => Ok(Pos::InductionQuery),
        "induction_target" if form == "token:" => Ok(Pos::InductionTarget),
        n => n.parse().map(Pos::At).map_err(|_| {
            format!(
                "`{{{form}{n}}}` needs a position: a number, `first` or `last`, like {{{form}0}}"
            )
        }),
    }
}

fn tensor(arg: &str) -> Result<TensorId, String> {
    let t = arg.trim();
    TensorId::parse(t).ok_or_else(|| {
        let names: Vec<&str> = TensorId::ALL.iter().map(|t| t.name()).collect();
        unknown("tensor", t, &names)
    })
}

fn piece(name: &str) -> Result<Piece<'_>, String> {
    if let Some(form) = FORMS.iter().find(|f| name.starts_with(**f)) {
        let arg = &name[form.len()..];
        return match *form {
            "token:" => pos(arg, form).map(Piece::Token),
            "cos:" | "sin:" => pos(arg, form).map(|p| Piece::Rope {
                cos: *form == "cos:",
                pos: p,
            }),
            _ => tensor(arg).map(|id| Piece::Shape {
                id,
                named: *form == "shape:",
            }),
        };
    }
    if WORDS.contains(&name) {
        return Ok(Piece::Word(name));
    }
    expression(name)
}

/// Reads `a`, `2*b`, `past_len + 1`: names and numbers joined by operators.
fn expression(text: &str) -> Result<Piece<'_>, String> {
    let mut terms = Vec::new();
    let mut ops = Vec::new();
    let mut rest = text.trim();
    loop {
        let end = rest.find(['+', '-', '*', '/']).unwrap_or(rest.len());
        let word = rest[..end].trim();
        if word.is_empty() {
            return Err(format!(
                "`{{{text}}}` is missing a name or number around an operator"
            ));
        }
        terms.push(term(word)?);
        if end == rest.len() {
            break;
        }
        ops.push(match &rest[end..end + 1] {
            "+" => Op::Add,
            "-" => Op::Sub,
            "*" => Op::Mul,
            _ => Op::Div,
        });
        rest = &rest[end + 1..];
    }
    Ok(Piece::Expr(terms, ops))
}

fn term(word: &str) -> Result<Term<'_>, String> {
    if NAMES.contains(&word) || attention::NAMES.contains(&word) {
        return Ok(Term::Name(word));
    }
    if let Ok(n) = word.parse::<f64>()
        && n.is_finite()
    {
        return Ok(Term::Lit(n));
    }
    let mut known: Vec<&str> = NAMES.to_vec();
    known.extend(attention::NAMES);
    known.extend(WORDS);
    known.extend(FORMS.iter().map(|f| f.trim_end_matches(':')));
    Err(unknown("placeholder", word, &known))
}

fn unknown(what: &str, name: &str, known: &[&str]) -> String {
    let best = known
        .iter()
        .map(|k| (strsim::levenshtein(name, k), *k))
        .min()
        .filter(|(d, _)| *d <= 3);
    match best {
        Some((_, k)) => format!("unknown {what} `{name}`, did you mean `{k}`?"),
        None => format!("unknown {what} `{name}`; known: {}", known.join(", ")),
    }
}

/// Checks a template without running anything: every placeholder must exist.
pub fn validate(text: &str) -> Result<(), TemplateError> {
    parse(text).map(|_| ())
}

/// What the text's placeholders need from the run, each with its offset and how it is written.
pub fn references(text: &str) -> Result<Vec<(usize, String, Ref)>, TemplateError> {
    Ok(parse(text)?
        .into_iter()
        .filter_map(|l| {
            let r = match l.piece {
                Piece::Token(Pos::At(n)) => Ref::Token(n),
                Piece::Token(Pos::InductionQuery | Pos::InductionTarget) => Ref::Induction,
                Piece::Expr(ref terms, _)
                    if terms
                        .iter()
                        .any(|t| matches!(t, Term::Name(n) if attention::needs_repeat(n))) =>
                {
                    Ref::Induction
                }
                Piece::Shape { id, .. } => Ref::Tensor(id),
                _ => return None,
            };
            Some((l.offset, l.written.to_string(), r))
        })
        .collect())
}

/// The highest position a `{token:N}` of the template names, to check against a lesson's tokens.
pub fn max_token(text: &str) -> Option<usize> {
    references(text)
        .ok()?
        .into_iter()
        .filter_map(|(_, _, r)| match r {
            Ref::Token(n) => Some(n),
            Ref::Tensor(_) | Ref::Induction => None,
        })
        .max()
}

/// Fills the template from the facts of the step being shown (a template that does not
/// validate is returned as written).
pub fn fill<T: HasShape>(text: &str, f: &Facts, trace: &Trace<T>) -> String {
    let Ok(pieces) = parse(text) else {
        return text.to_string();
    };
    let mut out = String::with_capacity(text.len());
    for l in pieces {
        match l.piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Expr(terms, ops) => out.push_str(&evaluate(&terms, &ops, f, trace)),
            Piece::Word(w) => out.push_str(&word(w, f)),
            Piece::Token(p) => out.push_str(&token(f, p)),
            Piece::Rope { cos, pos } => match at(f, pos) {
                Some(p) => out.push_str(&rope(f, cos, p)),
                None => out.push_str(NO_REPEAT),
            },
            Piece::Shape { id, named } => match trace.steps[f.step].tensor(id) {
                Some(t) if named => {
                    let _ = write!(out, "{}", t.shape());
                }
                Some(t) => {
                    let sizes: Vec<String> =
                        t.shape().sizes().iter().map(ToString::to_string).collect();
                    let _ = write!(out, "[{}]", sizes.join(", "));
                }
                None => {
                    let _ = write!(out, "({id} is not in this call)");
                }
            },
        }
    }
    out
}

/// What a position of an induction pair reads when this call has none.
const NO_REPEAT: &str = "(no repeated token in this call)";

fn at(f: &Facts, p: Pos) -> Option<usize> {
    match p {
        Pos::At(n) => Some(n),
        Pos::First => Some(f.past_len),
        Pos::Last => Some(f.kv_len - 1),
        Pos::InductionQuery => attention::induction_pair(f).map(|(q, _)| q),
        Pos::InductionTarget => attention::induction_pair(f).map(|(_, t)| t),
    }
}

fn token(f: &Facts, p: Pos) -> String {
    let Some(n) = at(f, p) else {
        return NO_REPEAT.to_string();
    };
    match f.tokens {
        Some(t) if n < t.len() => crate::text::printable_line(&t[n]).into_owned(),
        _ if n < f.cfg.total_len() => format!("position {n}"),
        _ => format!("(position {n} is not in this run)"),
    }
}

/// A numeric fact by name (NaN when the run gives no value for it).
fn number<T: HasShape>(name: &str, f: &Facts, trace: &Trace<T>) -> f64 {
    if attention::NAMES.contains(&name) {
        return attention::number(name, f, trace).unwrap_or(f64::NAN);
    }
    let group = f.kv_head * f.n_rep;
    let n = match name {
        "bsz" => f.bsz,
        "seq_len" => f.seq_len,
        "past_len" | "first_pos" => f.past_len,
        "kv_len" => f.kv_len,
        "hidden" => f.hidden,
        "n_heads" => f.n_heads,
        "n_kv_heads" => f.n_kv_heads,
        "n_rep" => f.n_rep,
        "head_dim" => f.head_dim,
        "head" => f.head,
        "kv_head" => f.kv_head,
        "group_first" => group,
        "group_last" => group + f.n_rep - 1,
        "batch" => f.batch,
        "step" => f.step + 1,
        "steps" => f.steps,
        "last_pos" => f.kv_len - 1,
        "q_features" => f.n_heads * f.head_dim,
        "kv_features" => f.n_kv_heads * f.head_dim,
        "head_first" => f.head * f.head_dim,
        "head_last" => (f.head + 1) * f.head_dim - 1,
        "blocked" if f.cfg.causal => f.seq_len * (f.seq_len - 1) / 2,
        "blocked" => 0,
        "scale" => return (f.head_dim as f64).sqrt(),
        "theta" => return f.cfg.rope_theta,
        _ => unreachable!("validated placeholder {name}"),
    };
    n as f64
}

/// Works an expression out (`*` and `/` before `+` and `-`) and writes it: a whole number as
/// one, anything else to 3 decimals; a lone `{scale}` always to 3 decimals.
fn evaluate<T: HasShape>(terms: &[Term], ops: &[Op], f: &Facts, trace: &Trace<T>) -> String {
    let value = |t: &Term| match t {
        Term::Lit(x) => *x,
        Term::Name(n) => number(n, f, trace),
    };
    if let ([Term::Name("scale")], []) = (terms, ops) {
        return format!("{:.3}", number("scale", f, trace));
    }
    let mut sum = 0.0;
    let mut sign = 1.0;
    let mut product = value(&terms[0]);
    for (op, t) in ops.iter().zip(&terms[1..]) {
        let x = value(t);
        match op {
            Op::Mul => product *= x,
            Op::Div => product /= x,
            Op::Add | Op::Sub => {
                sum += sign * product;
                sign = if *op == Op::Add { 1.0 } else { -1.0 };
                product = x;
            }
        }
    }
    let v = sum + sign * product;
    if !v.is_finite() {
        "(undefined)".to_string()
    } else if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.3}")
    }
}

fn word(name: &str, f: &Facts) -> String {
    match name {
        "mask" => match &f.cfg.attention_mask {
            Some(rows) => rows[f.batch][..f.kv_len]
                .iter()
                .map(|v| if *v == 0 { '0' } else { '1' })
                .collect(),
            None => "(no attention mask)".to_string(),
        },
        "first_real" => match &f.cfg.attention_mask {
            Some(rows) => (0..f.kv_len)
                .find(|&j| rows[f.batch][j] != 0)
                .map_or("(none)".to_string(), |j| j.to_string()),
            None => "0".to_string(),
        },
        "pad_keys" => {
            let pads: Vec<usize> = match &f.cfg.attention_mask {
                Some(rows) => (0..f.kv_len).filter(|&j| rows[f.batch][j] == 0).collect(),
                None => Vec::new(),
            };
            span_text(&pads)
        }
        _ => inv_freq(f)
            .iter()
            .map(|x| significant(f64::from(*x)))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// RoPE's frequencies, computed as the engine computes them (f32).
fn inv_freq(f: &Facts) -> Vec<f32> {
    let theta = f.cfg.rope_theta as f32;
    (0..f.head_dim / 2)
        .map(|i| 1.0 / theta.powf((2 * i) as f32 / f.head_dim as f32))
        .collect()
}

/// cos or sin of each pair's angle at position `p`, from the engine's own tables.
fn rope(f: &Facts, cos: bool, p: usize) -> String {
    let (c, s) = crate::rope::tables(p, 1, f.head_dim, f.cfg.rope_theta);
    let table = if cos { c } else { s };
    (0..f.head_dim / 2)
        .map(|i| format!("{:.3}", table[[0, i]]))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Three significant digits, without trailing zeros: `1`, `0.1`, `0.0316`.
fn significant(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let decimals = (2 - x.abs().log10().floor() as i64).clamp(0, 20) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests;
