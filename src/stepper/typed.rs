//! What a typed command means: a line in line mode, or what follows `:` in the full-screen
//! stepper. Both fronts read commands through [`parse_jump`], so they accept the same words.

use super::nav::Command;
use crate::trace::StageId;

/// Reads a command typed in line mode. An empty line means next.
pub fn parse_command(text: &str) -> Result<Command, String> {
    Ok(parse_jump(text)?.unwrap_or(Command::Next))
}

/// Reads a command typed after `:` (or in line mode); `None` for an empty line.
pub fn parse_jump(text: &str) -> Result<Option<Command>, String> {
    let text = text.trim();
    let text = text.strip_prefix(':').unwrap_or(text).trim();
    if text.is_empty() {
        return Ok(None);
    }
    let mut words = text.split_whitespace();
    let first = words.next().unwrap_or_default();
    let arg = words.next();
    if words.next().is_some() {
        return Err(unknown(text));
    }
    let number = |what: &str| -> Result<usize, String> {
        let a = arg.unwrap_or_default();
        a.parse()
            .map_err(|_| format!("'{a}' is not a {what} number: try '{first} 2'"))
    };
    let cmd = match (first, arg) {
        ("n" | "next" | "N", None) => Command::Next,
        ("b" | "back" | "p" | "prev" | "previous", None) => Command::Back,
        ("g" | "first" | "home" | "start", None) => Command::First,
        ("G" | "last" | "end", None) => Command::Last,
        ("g" | "go" | "goto" | "stage", Some(a)) => stage_arg(a)?,
        ("step" | "s" | "head" | "batch", None) => {
            return Err(format!("'{first}' needs a number, as in '{first} 2'"));
        }
        ("v" | "variant", None) => Command::NextVariant,
        ("v" | "variant", Some(name)) => Command::Variant(name.to_string()),
        ("step" | "s", Some(_)) => Command::Step(number("step")?),
        ("head", Some(_)) => Command::Head(number("head")?),
        ("batch", Some(_)) => Command::Batch(number("batch row")?),
        ("]" | "l", None) => Command::NextHead,
        ("[" | "h", None) => Command::PrevHead,
        ("B", None) => Command::NextBatch,
        ("?" | "help", None) => Command::ToggleHelp,
        ("d" | "diff", None) => Command::ToggleDiff,
        ("q" | "quit" | "exit", None) => Command::Quit,
        (word, None) => stage_arg(word).map_err(|_| unknown(text))?,
        _ => return Err(unknown(text)),
    };
    Ok(Some(cmd))
}

/// A stage given by number (1-based, in the current step) or by id.
fn stage_arg(a: &str) -> Result<Command, String> {
    if let Ok(n) = a.parse() {
        return Ok(Command::Stage(n));
    }
    StageId::parse(a).map(Command::StageId).ok_or_else(|| {
        let ids: Vec<&str> = StageId::ALL.iter().map(|s| s.as_str()).collect();
        format!(
            "'{a}' is not a stage; the stage ids are: {}",
            ids.join(", ")
        )
    })
}

fn unknown(text: &str) -> String {
    format!(
        "'{text}' is not a command: try n (next), b (back), g 5 (stage 5), :softmax, \
         step 2, head 3, v (variant), q (quit); ? lists them all"
    )
}

/// The commands, for `?` in line mode.
pub const HELP: &[(&str, &str)] = &[
    ("n  or an empty line", "next stage"),
    ("b  p", "previous stage"),
    ("g  G", "first / last screen"),
    ("g 5  or  5", "stage 5 of this step"),
    (":softmax  or  softmax", "a stage of this step by id"),
    ("step 2", "the same stage in step 2"),
    ("head 3  ]  [", "head 3 (0-based) / next / previous head"),
    ("batch 1  B", "batch row 1 (0-based) / next row"),
    ("d  diff", "planted slip: stages beside MiniMind's run"),
    (
        "v  variant gqa",
        "next variant / variant gqa (lessons with variants)",
    ),
    ("?", "this list"),
    ("q", "quit"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Command {
        parse_command(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn movement_commands() {
        assert_eq!(ok("n"), Command::Next);
        assert_eq!(ok(""), Command::Next);
        assert_eq!(ok("  next "), Command::Next);
        assert_eq!(ok("b"), Command::Back);
        assert_eq!(ok("p"), Command::Back);
        assert_eq!(ok("g"), Command::First);
        assert_eq!(ok("G"), Command::Last);
        assert_eq!(ok("end"), Command::Last);
        assert_eq!(ok("q"), Command::Quit);
        assert_eq!(ok("?"), Command::ToggleHelp);
    }

    #[test]
    fn jumps_by_number_and_id() {
        assert_eq!(ok("g 5"), Command::Stage(5));
        assert_eq!(ok("5"), Command::Stage(5));
        assert_eq!(ok("stage 12"), Command::Stage(12));
        assert_eq!(ok(":softmax"), Command::StageId(StageId::Softmax));
        assert_eq!(ok(": repeat-kv"), Command::StageId(StageId::RepeatKv));
        assert_eq!(ok("softmax"), Command::StageId(StageId::Softmax));
        assert_eq!(ok("g kv_cache"), Command::StageId(StageId::KvCache));
        assert_eq!(ok("step 2"), Command::Step(2));
        assert_eq!(ok(":step 3"), Command::Step(3));
    }

    #[test]
    fn heads_and_batch_rows() {
        assert_eq!(ok("head 3"), Command::Head(3));
        assert_eq!(ok("]"), Command::NextHead);
        assert_eq!(ok("l"), Command::NextHead);
        assert_eq!(ok("["), Command::PrevHead);
        assert_eq!(ok("batch 2"), Command::Batch(2));
        assert_eq!(ok("B"), Command::NextBatch);
        assert_eq!(ok("v"), Command::NextVariant);
        assert_eq!(ok("variant mqa"), Command::Variant("mqa".into()));
        assert_eq!(ok(":variant gqa"), Command::Variant("gqa".into()));
    }

    #[test]
    fn mistakes_say_what_to_type() {
        let e = parse_command("head x").unwrap_err();
        assert!(e.contains("'x' is not a head number"), "{e}");
        let e = parse_command("step").unwrap_err();
        assert!(e.contains("needs a number"), "{e}");
        let e = parse_command("g sofmax").unwrap_err();
        assert!(
            e.contains("'sofmax' is not a stage") && e.contains("softmax"),
            "{e}"
        );
        let e = parse_command("fly away now").unwrap_err();
        assert!(e.contains("is not a command"), "{e}");
        let e = parse_command("zzz").unwrap_err();
        assert!(e.contains("'zzz' is not a command"), "{e}");
        assert_eq!(parse_jump("  ").unwrap(), None);
    }
}
