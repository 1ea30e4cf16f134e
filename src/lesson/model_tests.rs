//! Lessons with a `[model]`: the table's located errors, what cannot go with a checkpoint, and
//! the attention placeholders' checks.

use super::*;

const HEAD: &str = "format_version = 1\ntitle = \"T\"\nsummary = \"S\"\n";

fn parse(text: &str) -> Result<Lesson, UsageError> {
    format::parse(source::Source::new("m.toml", text))
}

fn err(text: &str) -> String {
    parse(text).unwrap_err().0
}

/// A lesson on `tiny` with `rest` after its `[model]` (which runs `text` through layer 1).
fn on_tiny(text: &str, rest: &str) -> String {
    format!("{HEAD}[model]\nweights = \"tiny\"\ntext = \"{text}\"\nlayer = 1\n{rest}")
}

#[test]
fn a_model_lesson_takes_its_configuration_and_stages_from_the_checkpoint() {
    let l = parse(&on_tiny(
        "the big dog ran . the big dog",
        "[[notes]]\nstage = \"predict\"\ntext = \"{token:induction_query} after {layers}\"\n",
    ))
    .unwrap();
    let m = l.model.as_ref().unwrap();
    assert_eq!((m.weights.as_str(), m.layer), ("tiny", 1));
    assert_eq!(m.text, "the big dog ran . the big dog");
    assert_eq!(l.presentation.notes.len(), 1);
}

#[test]
fn bad_model_values_are_located() {
    // Line 4 is [model]; weights on 5, text on 6, layer on 7.
    let e = err(&format!(
        "{HEAD}[model]\nweights = \"tiny\"\ntext = \"the dog\"\nlayer = 2\n"
    ));
    assert!(
        e.starts_with(
            "m.toml:7:9: layer 2 is out of range: \"tiny\" has 2 layer(s), numbered 0 to 1"
        ),
        "{e}"
    );
    let e = err(&format!(
        "{HEAD}[model]\nweights = \"tiny\"\ntext = \"the dog\"\nlayer = -1\n"
    ));
    assert!(
        e.starts_with("m.toml:7:9: layer must be a whole number"),
        "{e}"
    );
    let e = err(&format!(
        "{HEAD}[model]\nweights = \"no/such/dir\"\ntext = \"the dog\"\n"
    ));
    assert!(
        e.starts_with("m.toml:5:11: weights \"no/such/dir\": "),
        "{e}"
    );
    assert!(e.contains("name a bundled model (tiny)"), "{e}");
    let e = err(&format!(
        "{HEAD}[model]\nweights = \"tiny\"\ntext = \"  \"\n"
    ));
    assert!(e.starts_with("m.toml:6:8: text is empty"), "{e}");
    let e = err(&format!("{HEAD}[model]\nweights = \"tiny\"\n"));
    assert!(
        e.starts_with("m.toml:4:2: [model] is missing key \"text\""),
        "{e}"
    );
    let e = err(&format!(
        "{HEAD}[model]\nweights = \"tiny\"\ntext = \"x\"\nlayers = 1\n"
    ));
    assert!(
        e.starts_with("m.toml:7:1: unknown key \"layers\", did you mean \"layer\"?"),
        "{e}"
    );
    let e = err(&format!("{HEAD}[model]\nweights = 3\ntext = \"x\"\n"));
    assert!(
        e.starts_with("m.toml:5:11: weights must be text in quotes"),
        "{e}"
    );
}

#[test]
fn what_a_checkpoint_decides_is_refused_beside_it() {
    let e = err(&on_tiny("the dog", "[config]\nnum_heads = 2\n"));
    assert!(
        e.starts_with("m.toml:9:1: \"num_heads\" cannot be set in a lesson with [model]"),
        "{e}"
    );
    let e = err(&on_tiny("the dog", "[[variants]]\nname = \"a\"\n"));
    assert!(
        e.starts_with("m.toml:9:8: a lesson with [model] runs one configuration"),
        "{e}"
    );
    let e = err(&format!(
        "{HEAD}bug = \"no-scale\"\n[model]\nweights = \"tiny\"\ntext = \"x\"\n"
    ));
    assert!(e.starts_with("m.toml:4:7: bug plants a slip"), "{e}");
    // The checkpoint's own stages exist only with a model.
    let e = err(&format!("{HEAD}stages = [\"predict\"]\n"));
    assert!(
        e.starts_with(
            "m.toml:4:11: stage \"predict\" never happens in this lesson: it needs a checkpoint"
        ),
        "{e}"
    );
}

#[test]
fn induction_placeholders_need_a_token_that_repeats() {
    let text = format!(
        "{HEAD}welcome = \"at {{token:induction_target}}\"\n[model]\nweights = \"tiny\"\n\
         text = \"the big dog ran\"\n"
    );
    let e = err(&text);
    assert!(
        e.starts_with("m.toml:4:15: {token:induction_target} quotes the induction target"),
        "{e}"
    );
    let ok = format!(
        "{HEAD}welcome = \"{{target_weight}} {{induction_best}}\"\n[model]\nweights = \"tiny\"\n\
         text = \"the big dog . the big\"\n"
    );
    parse(&ok).unwrap();
    // Random-weight lessons may quote them too, when their labels repeat.
    let e = err(&format!(
        "{HEAD}welcome = \"{{induction_weight}}\"\n[config]\nseq_len = 8\ntokens = \"a b c d e f g h\"\n"
    ));
    assert!(
        e.starts_with("m.toml:4:12: {induction_weight} quotes"),
        "{e}"
    );
}
