//! Lesson files: the bundled course loads, and each kind of mistake gets its located message.

use super::*;
use crate::config::{ConfigKey, ConfigSpec};
use crate::trace::StageId;

const MINIMAL: &str = "format_version = 1\ntitle = \"T\"\nsummary = \"S\"\n";

fn parse(text: &str) -> Result<Lesson, UsageError> {
    format::parse(Source::new("mine.toml", text))
}

fn err(text: &str) -> String {
    parse(text).unwrap_err().0
}

#[test]
fn every_bundled_lesson_loads_with_welcome_notes_and_closing() {
    for (i, b) in BUNDLED.iter().enumerate() {
        let l = load_bundled(i + 1, b).unwrap_or_else(|e| panic!("{}: {}", b.file, e.0));
        assert!(
            l.presentation.welcome.is_some(),
            "{} has no welcome",
            b.file
        );
        assert!(
            l.presentation.closing.is_some(),
            "{} has no closing",
            b.file
        );
        assert!(!l.presentation.notes.is_empty(), "{} has no notes", b.file);
    }
}

#[test]
fn bundled_lessons_hint_every_shape_changing_stage_they_show() {
    for (i, b) in BUNDLED.iter().enumerate() {
        let l = load_bundled(i + 1, b).unwrap();
        for id in StageId::ALL {
            if id.changes_shape() && l.presentation.shows(id) {
                assert!(
                    l.presentation.hints.iter().any(|h| h.stage == id),
                    "{} shows {id} without a quiz hint",
                    b.file
                );
            }
        }
    }
}

#[test]
fn minimal_lesson_parses_with_defaults() {
    let l = parse(MINIMAL).unwrap();
    assert_eq!(l.title, "T");
    assert_eq!(l.spec, ConfigSpec::default());
    assert!(l.presentation.stages.is_none());
}

#[test]
fn unknown_key_gets_location_and_suggestion() {
    let text = format!("{MINIMAL}\n[config]\nhidden_size = 8\nnum_head = 2\n");
    assert_eq!(
        err(&text),
        "mine.toml:7:1: unknown key \"num_head\", did you mean \"num_heads\"?"
    );
    let text = format!("{MINIMAL}wellcome = \"hi\"\n");
    assert_eq!(
        err(&text),
        "mine.toml:4:1: unknown key \"wellcome\", did you mean \"welcome\"?"
    );
    let text = format!("{MINIMAL}hidden_size = 8\n");
    assert!(err(&text).starts_with(
        "mine.toml:4:1: unknown key \"hidden_size\" at the top level: configuration keys go in \
         the [config] table"
    ));
    let text = format!("{MINIMAL}[[notes]]\nstage = \"scores\"\ntxt = \"x\"\n");
    assert_eq!(
        err(&text),
        "mine.toml:6:1: unknown key \"txt\", did you mean \"text\"?"
    );
}

#[test]
fn wrong_kinds_are_said_in_plain_words_at_the_value() {
    let text = format!("{MINIMAL}[config]\nhidden_size = \"eight\"\n");
    assert_eq!(
        err(&text),
        "mine.toml:5:15: hidden_size must be a whole number (0 or more), but it is the text \
         \"eight\""
    );
    let text = format!("{MINIMAL}[config]\nhidden_size = -1\n");
    assert_eq!(
        err(&text),
        "mine.toml:5:15: hidden_size must be a whole number (0 or more), but it is the number -1"
    );
    let e = err("format_version = 1\ntitle = [\"T\"]\nsummary = \"S\"\n");
    assert_eq!(
        e,
        "mine.toml:2:9: title must be text in quotes, but it is an array"
    );
    let e = err(&format!("{MINIMAL}[config]\nsteps = [3, \"x\"]\n"));
    assert!(
        e.starts_with("mine.toml:5:13: steps must be an array of whole numbers, like [5, 1, 1], but entry 2 is the text \"x\""),
        "{e}"
    );
    for jargon in ["invalid type", "i128", "usize", "sequence", "expected"] {
        assert!(!e.contains(jargon), "{e}");
    }
}

#[test]
fn a_key_given_under_both_names_names_both() {
    let text = format!("{MINIMAL}[config]\nnum_heads = 2\nnum_attention_heads = 2\n");
    assert_eq!(
        err(&text),
        "mine.toml:6:1: \"num_attention_heads\" sets num_attention_heads again: \"num_heads\" at \
         mine.toml:5:1 already set it (num_heads is another name for num_attention_heads); keep \
         one of the two"
    );
}

#[test]
fn invalid_config_is_located_at_the_key_and_named_as_written() {
    let text = format!("{MINIMAL}[config]\nhidden_size = 8\nnum_heads = 4\nnum_kv_heads = 3\n");
    let e = err(&text);
    assert!(
        e.starts_with(
            "mine.toml:7:1: num_attention_heads (4) must be divisible by num_key_value_heads (3)"
        ),
        "{e}"
    );
    assert!(
        e.ends_with("Use num_kv_heads 1, 2 or 4 (the divisors of 4)"),
        "{e}"
    );
}

#[test]
fn mask_of_wrong_length_points_at_the_row_and_names_the_key() {
    let text = format!(
        "{MINIMAL}[config]\nseq_len = 4\nbatch = 2\nattention_mask = [\"1111\", \"011\"]\n"
    );
    let e = err(&text);
    assert!(
        e.starts_with("mine.toml:7:27: attention_mask row 1 has 3 entries"),
        "{e}"
    );
    assert!(
        !e.contains("--"),
        "no flag names in a lesson's message: {e}"
    );
}

#[test]
fn odd_head_dim_from_hidden_and_heads_advises_those_keys() {
    let e = err(&format!(
        "{MINIMAL}[config]\nhidden_size = 28\nnum_heads = 4\n"
    ));
    assert!(
        e.starts_with("mine.toml:5:1: head_dim (7) must be even"),
        "{e}"
    );
    assert!(!e.contains("Use an even"), "{e}");
    assert!(e.contains("change hidden_size or num_heads"), "{e}");
}

#[test]
fn stage_names_are_checked() {
    let text = format!("{MINIMAL}[[notes]]\nstage = \"scroes\"\ntext = \"x\"\n");
    assert!(
        err(&text).starts_with("mine.toml:5:9: unknown stage \"scroes\", did you mean \"scores\"?"),
        "{}",
        err(&text)
    );
    let text = format!("{MINIMAL}stages = [\"scores\", \"qk_norm\"]\n");
    assert_eq!(
        err(&text),
        "mine.toml:4:21: stage \"qk_norm\" never happens in this lesson: it needs qk_norm = true \
         in [config]"
    );
}

#[test]
fn note_steps_are_one_based_and_checked() {
    let ok = format!(
        "{MINIMAL}[config]\nsteps = [3, 1]\n[[notes]]\nstage = \"scores\"\nstep = 2\ntext = \"x\"\n"
    );
    let l = parse(&ok).unwrap();
    assert_eq!(
        l.presentation.notes[0].scope.steps,
        crate::presentation::Steps::Only(vec![1])
    );
    let bad = ok.replace("step = 2", "step = 3");
    assert!(
        err(&bad).starts_with("mine.toml:8:8: step 3 is out of range"),
        "{}",
        err(&bad)
    );
}

#[test]
fn missing_and_future_format_are_reported() {
    assert!(
        err("title = \"t\"\nsummary = \"s\"\n")
            .starts_with("mine.toml:1:1: missing key \"format_version\"")
    );
    let e = err(&MINIMAL.replace("= 1", "= 2"));
    assert!(e.starts_with("mine.toml:1:18: format_version 2"), "{e}");
    let text = "format_version = 2\ntitle = \"T\"\nsummary = \"S\"\nsparkles = true\n";
    let e = err(text);
    assert!(
        e.starts_with("mine.toml:1:18: format_version 2 is not one"),
        "{e}"
    );
}

#[test]
fn wrong_type_inside_a_note_names_the_note_key() {
    let text = format!("{MINIMAL}[[notes]]\nstage = \"scores\"\nstep = \"two\"\ntext = \"x\"\n");
    assert_eq!(
        err(&text),
        "mine.toml:6:8: step must be a whole number (0 or more), but it is the text \"two\""
    );
    let text = format!("{MINIMAL}head = \"first\"\n");
    assert!(err(&text).starts_with("mine.toml:4:8: head must be a whole number"));
}

#[test]
fn notes_and_config_of_the_wrong_kind_say_how_to_write_them() {
    let e = err(&format!("{MINIMAL}notes = \"hello\"\n"));
    assert!(
        e.starts_with("mine.toml:4:9: notes must be an array of tables"),
        "{e}"
    );
    let e = err(&format!("{MINIMAL}config = 3\n"));
    assert!(
        e.starts_with("mine.toml:4:10: config must be a table"),
        "{e}"
    );
}

#[test]
fn an_entry_missing_a_key_is_located_at_that_entry() {
    let text = format!("{MINIMAL}[[notes]]\nstage = \"scores\"\n");
    assert!(
        err(&text).starts_with("mine.toml:4:1: this [[notes]] entry is missing key \"text\""),
        "{}",
        err(&text)
    );
    // The second entry lacks `stage`: the message points at the second [[notes]].
    let text =
        format!("{MINIMAL}[[notes]]\nstage = \"scores\"\ntext = \"a\"\n[[notes]]\ntext = \"b\"\n");
    assert!(
        err(&text).starts_with("mine.toml:7:1: this [[notes]] entry is missing key \"stage\""),
        "{}",
        err(&text)
    );
    let text = format!("{MINIMAL}[[hints]]\ntext = \"b\"\n");
    assert!(err(&text).starts_with("mine.toml:4:1: this [[hints]] entry is missing key \"stage\""));
}

#[test]
fn head_out_of_range_is_reported() {
    let text = format!("{MINIMAL}head = 9\n[config]\nnum_heads = 4\nhidden_size = 16\n");
    assert!(err(&text).starts_with("mine.toml:4:8: head 9 is out of range"));
}

#[test]
fn syntax_errors_are_located_even_deep_inside() {
    let e = err("format_version = 1\ntitle = \"unclosed\n");
    assert!(e.starts_with("mine.toml:2:"), "{e}");
    assert!(e.contains("not valid TOML"), "{e}");
    for deep in [
        format!("x = {}{}", "[".repeat(3000), "]".repeat(3000)),
        format!("x = {}1{}", "{a = ".repeat(3000), "}".repeat(3000)),
    ] {
        let e = err(&format!("{MINIMAL}{deep}\n"));
        assert!(e.starts_with("mine.toml:4:"), "{}", &e[..e.len().min(200)]);
    }
}

#[test]
fn long_steps_are_refused_with_a_short_message() {
    let steps = vec!["1"; 200_000].join(", ");
    let e = err(&format!(
        "{MINIMAL}[config]\nsteps = [{steps}]\ntokens = \"a b\"\n"
    ));
    assert!(
        e.starts_with("mine.toml:5:1: 200000 forward calls"),
        "{}",
        &e[..200]
    );
    assert!(e.len() < 300, "{e}");
    let e = err(&format!(
        "{MINIMAL}[config]\nsteps = [{}]\ntokens = \"a b\"\n",
        vec!["1"; 4000].join(", ")
    ));
    assert!(e.starts_with("mine.toml:6:1: tokens gives 2 token(s) but the steps (1+1+1+1+1+1+… (4000 steps)) cover 4000"), "{e}");
}

#[test]
fn control_characters_in_lesson_text_are_made_visible() {
    let text = "format_version = 1\ntitle = \"T\\u001b]0;owned\\u0007\"\nsummary = \"S\\u009b2J\"\n\
        welcome = \"w\\u001b]52;c;aGk=\\u0007\"\n[config]\nseq_len = 2\ntokens = \"a\\u001b[31m b\"\n\
        [[notes]]\nstage = \"scores\"\ntext = \"n\\u001b[2J\"\n[[hints]]\nstage = \"scores\"\n\
        text = \"h\\u001b[2J\"\n";
    let l = parse(text).unwrap();
    let all = format!(
        "{} {} {:?} {:?} {:?} {:?}",
        l.title,
        l.summary,
        l.presentation.welcome,
        l.presentation.notes,
        l.presentation.hints,
        l.spec.tokens
    );
    assert!(!all.contains('\x1b') && !all.contains('\u{9b}'), "{all}");
    assert_eq!(l.title, "T\\u{1b}]0;owned\\u{7}");
    assert_eq!(l.spec.tokens.as_deref(), Some("a\\u{1b}[31m b"));
}

#[test]
fn a_lesson_file_too_large_or_not_a_file_is_refused() {
    let dir = std::env::temp_dir().join(format!("attnstep-lesson-size-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let big = dir.join("big.toml");
    std::fs::write(&big, format!("{MINIMAL}# {}\n", "x".repeat(1 << 20))).unwrap();
    let e = load_file(&big).unwrap_err().0;
    assert!(e.contains("larger than 1 MiB"), "{e}");
    let e = load_file(&dir).unwrap_err().0;
    assert!(e.contains("it is a directory, not a regular file"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn flag_errors_over_a_lesson_name_the_flags_and_locate_the_lesson_value() {
    let text = format!("{MINIMAL}[config]\nsteps = [4]\nattention_mask = [\"0111\"]\n");
    let l = parse(&text).unwrap();
    let flags = ConfigSpec {
        seq_len: Some(3),
        ..ConfigSpec::default()
    };
    let e = l.spec.overridden_by(&flags).resolve().unwrap_err();
    let msg = l.describe_config_error(&e, &flags, &|k| match k {
        ConfigKey::SeqLen => "--seq-len",
        _ => "--other",
    });
    assert_eq!(
        msg,
        "mine.toml:6:19: attention_mask row 0 has 4 entries but the steps cover 3 tokens; give \
         one 0/1 per token of every step (the lesson's value, with --seq-len from the command line)"
    );
    let flags = ConfigSpec {
        attention_mask: Some(vec!["01".into()]),
        ..ConfigSpec::default()
    };
    let e = l.spec.overridden_by(&flags).resolve().unwrap_err();
    let msg = l.describe_config_error(&e, &flags, &|_| "--attention-mask");
    assert!(
        msg.starts_with("--attention-mask row 0 has 2 entries"),
        "{msg}"
    );
}
