//! Lesson text that stays true (issue 12): the format's additions and their located errors,
//! what `lessons check` refuses because it would silently never be shown, and the bundled
//! lessons' quizzes. (The property test that their text stays true is in `truth_tests`.)

use super::*;
use crate::backend::Shapes;
use crate::config::ConfigSpec;
use crate::plan::{self, Environment, Request};
use crate::presentation::{QuizKind, Steps};
use crate::trace::Trace;

const MINIMAL: &str = "format_version = 1\ntitle = \"T\"\nsummary = \"S\"\n";

fn parse(text: &str) -> Result<Lesson, UsageError> {
    format::parse(source::Source::new("mine.toml", text))
}

fn err(text: &str) -> String {
    parse(text).unwrap_err().0
}

/// A lesson that shows only scores and softmax over a prefill of 3 and a decode of 1.
fn two_stages() -> String {
    format!(
        "{MINIMAL}stages = [\"scores\", \"softmax\"]\n[config]\nsteps = [3, 1]\ntokens = \"a b c d\"\n"
    )
}

#[test]
fn the_readme_example_is_a_lesson_that_checks() {
    let readme = include_str!("../../lessons/README.md");
    let start = readme.find("```toml\n").unwrap() + "```toml\n".len();
    let end = start + readme[start..].find("```").unwrap();
    let l = parse(&readme[start..end]).unwrap_or_else(|e| panic!("{}", e.0));
    assert_eq!(l.variant_names(), vec!["gqa", "mqa"]);
    assert_eq!(l.view.head, Some(5));
    assert_eq!(l.view.max_cols, Some(10));
    assert_eq!(l.presentation.notes[3].scope.steps, Steps::From(1));
}

#[test]
fn lessons_check_refuses_what_would_silently_vanish() {
    // A note on a stage the stages list leaves out.
    let e = err(&format!(
        "{}[[notes]]\nstage = \"causal_mask\"\ntext = \"x\"\n",
        two_stages()
    ));
    assert!(
        e.starts_with(
            "mine.toml:9:9: this note is on stage \"causal_mask\", which the lesson's stages (at \
             mine.toml:4:10) leave out, so it would never be shown"
        ),
        "{e}"
    );
    // A hint on a stage that asks no question (softmax changes no shape; no concept kind asked).
    let e = err(&format!(
        "{}[[hints]]\nstage = \"softmax\"\ntext = \"x\"\n",
        two_stages()
    ));
    assert!(
        e.starts_with(
            "mine.toml:9:9: stage \"softmax\" asks no question in this lesson, so this hint would \
             never be shown; put it on a stage that asks one (scores)"
        ),
        "{e}"
    );
    // A step beyond the steps, in a note, a hint, a list and a range.
    let e = err(&format!(
        "{}[[notes]]\nstage = \"scores\"\nstep = 3\ntext = \"x\"\n",
        two_stages()
    ));
    assert!(
        e.starts_with("mine.toml:10:8: step 3 is out of range: this lesson has 2 step(s)"),
        "{e}"
    );
    let e = err(&format!(
        "{}[[hints]]\nstage = \"scores\"\nsteps = [1, 5]\ntext = \"x\"\n",
        two_stages()
    ));
    assert!(
        e.starts_with("mine.toml:10:13: step 5 is out of range"),
        "{e}"
    );
    let e = err(&format!(
        "{}[[notes]]\nstage = \"scores\"\nsteps = \"3-\"\ntext = \"x\"\n",
        two_stages()
    ));
    assert!(
        e.starts_with("mine.toml:10:9: step 3 is out of range"),
        "{e}"
    );
    // Placeholders that never resolve: an unknown name, a position past the tokens, a tensor the
    // lesson never computes. Each is located at the placeholder itself.
    let e = err(&format!(
        "{}[[notes]]\nstage = \"scores\"\ntext = \"kv {{kv_lne}}\"\n",
        two_stages()
    ));
    assert_eq!(
        e,
        "mine.toml:10:12: unknown placeholder `kv_lne`, did you mean `kv_len`?"
    );
    let e = err(&format!(
        "{}[[notes]]\nstage = \"scores\"\ntext = \"the {{token:4}}\"\n",
        two_stages()
    ));
    assert!(
        e.starts_with(
            "mine.toml:10:13: {token:4} names position 4, but this lesson has 4 token(s), \
             positions 0 to 3"
        ),
        "{e}"
    );
    let e = err(&format!("{}welcome = \"{{sizes:xq_norm}}\"\n", MINIMAL));
    assert!(
        e.starts_with(
            "mine.toml:4:12: {sizes:xq_norm} names xq_norm, which this lesson never computes"
        ),
        "{e}"
    );
}

#[test]
fn steps_conditions_variants_and_prose_are_read() {
    let l = parse(&format!(
        "{}[[notes]]\nstage = \"scores\"\nsteps = \"1-2\"\nwhen = [\"decode\", \"causal\"]\n\
         prose = \"hidden\"\ntext = \"x\"\n[[hints]]\nstage = \"scores\"\nstep = 2\nkind = \"shape\"\ntext = \"h\"\n",
        two_stages()
    ))
    .unwrap();
    let n = &l.presentation.notes[0];
    assert_eq!(n.scope.steps, Steps::Only(vec![0, 1]));
    assert_eq!(n.scope.when.len(), 2);
    assert_eq!(n.prose, Some(crate::render::Prose::Hidden));
    assert_eq!(l.presentation.hints[0].kind, Some(QuizKind::Shape));
    let e = err(&format!(
        "{}[[notes]]\nstage = \"scores\"\nwhen = \"gqq\"\ntext = \"x\"\n",
        two_stages()
    ));
    assert_eq!(
        e,
        "mine.toml:10:8: unknown condition `gqq`, did you mean `gqa`?"
    );
    let e = err(&format!(
        "{}[[notes]]\nstage = \"scores\"\nprose = \"long\"\ntext = \"x\"\n",
        two_stages()
    ));
    assert!(
        e.starts_with("mine.toml:10:9: prose \"long\" is not one of"),
        "{e}"
    );
    let e = err(&format!(
        "{}[[notes]]\nstage = \"scores\"\nvariant = \"mqa\"\ntext = \"x\"\n",
        two_stages()
    ));
    assert!(e.contains("this lesson has no [[variants]]"), "{e}");
}

#[test]
fn variants_are_named_once_and_their_config_errors_located() {
    let base = format!("{MINIMAL}[config]\nhidden_size = 16\nnum_heads = 4\n");
    let l = parse(&format!(
        "{base}[[variants]]\nname = \"mha\"\nconfig = {{ num_kv_heads = 4 }}\n\
         [[variants]]\nname = \"mqa\"\npremise = \"mqa\"\nconfig = {{ num_kv_heads = 1 }}\n\
         [[notes]]\nstage = \"repeat_kv\"\nvariant = \"mqa\"\ntext = \"x\"\n"
    ))
    .unwrap();
    assert_eq!(l.variant_names(), vec!["mha", "mqa"]);
    assert_eq!(l.spec_of(Some(1)).num_key_value_heads, Some(1));
    assert_eq!(l.presentation.notes[0].scope.variants, vec!["mqa"]);
    let e = err(&format!(
        "{base}[[variants]]\nname = \"a\"\n[[variants]]\nname = \"a\"\n"
    ));
    assert_eq!(
        e,
        "mine.toml:10:8: variant \"a\" is named twice; give each variant its own name"
    );
    let e = err(&format!(
        "{base}[[variants]]\nname = \"bad\"\nconfig = {{ num_kv_heads = 3 }}\n"
    ));
    assert!(
        e.starts_with(
            "mine.toml:9:12: num_attention_heads (4) must be divisible by num_key_value_heads (3)"
        ),
        "{e}"
    );
    let e = err(&format!(
        "{base}[[variants]]\nname = \"m\"\npremise = \"gqa\"\nconfig = {{ num_kv_heads = 1 }}\n"
    ));
    assert!(e.starts_with("mine.toml:9:11: premise \"gqa\""), "{e}");
    assert!(e.contains("does not hold in variant \"m\""), "{e}");
    let e = err(&format!(
        "{base}[[variants]]\nconfig = {{ num_kv_heads = 1 }}\n"
    ));
    assert!(e.contains("missing key \"name\""), "{e}");
}

#[test]
fn view_rows_and_quiz_kinds_are_checked() {
    let l = parse(&format!("{MINIMAL}[view]\nhead = 1\nprecision = 2\n")).unwrap();
    assert_eq!(l.view.head, Some(1));
    assert_eq!(l.view.precision, Some(2));
    let e = err(&format!("{MINIMAL}head = 1\n[view]\nhead = 1\n"));
    assert!(e.starts_with("mine.toml:4:8: head is set twice"), "{e}");
    let e = err(&format!("{MINIMAL}[view]\nbatch = 1\n"));
    assert!(
        e.starts_with("mine.toml:5:9: batch row 1 is out of range"),
        "{e}"
    );
    // Labels per batch row: one row per batch row, one word per position.
    let rows = format!("{MINIMAL}[config]\nbatch = 2\nseq_len = 2\ntokens = [\"a b\", \"c d\"]\n");
    let l = parse(&rows).unwrap();
    assert_eq!(
        l.presentation.row_tokens,
        Some(vec![
            vec!["a".to_string(), "b".into()],
            vec!["c".into(), "d".into()]
        ])
    );
    assert_eq!(l.spec.tokens.as_deref(), Some("a b"));
    let e = err(&rows.replace("\"c d\"", "\"c\""));
    assert!(
        e.starts_with("mine.toml:7:10: tokens row 1 has 1 words but the steps cover 2"),
        "{e}"
    );
    let e = err(&rows.replace("batch = 2", "batch = 3"));
    assert!(
        e.starts_with("mine.toml:7:10: tokens has 2 rows but batch is 3"),
        "{e}"
    );
    // Quiz kinds: known, asked at a shown stage, possible in this configuration.
    let e = err(&format!("{MINIMAL}quiz = [\"shape\", \"kv_heads\"]\n"));
    assert!(
        e.starts_with("mine.toml:4:18: unknown quiz kind \"kv_heads\", did you mean \"kv_head\"?"),
        "{e}"
    );
    let e = err(&format!(
        "{MINIMAL}stages = [\"scores\"]\nquiz = [\"cache_len\"]\n"
    ));
    assert!(
        e.starts_with("mine.toml:5:9: quiz kind \"cache_len\" is asked at stage \"kv_cache\""),
        "{e}"
    );
    let e = err(&format!(
        "{MINIMAL}quiz = [\"kv_head\"]\n[config]\nnum_heads = 2\nnum_kv_heads = 2\n"
    ));
    assert!(
        e.contains("can never be asked in this lesson: every query head has its own KV head"),
        "{e}"
    );
}

/// A bundled lesson's variants as the plan resolves them (with `flags` laid over), with a
/// shape-only trace of each.
pub(super) fn traces(
    l: &Lesson,
    flags: ConfigSpec,
) -> Option<Vec<(Option<String>, Trace<crate::dims::Shape>)>> {
    let req = Request {
        flags,
        ..Request::default()
    };
    let plan = plan::build(&req, Some(l), &Environment::default()).ok()?;
    let configs: Vec<(Option<String>, crate::config::Config)> = if plan.variants.is_empty() {
        vec![(None, plan.config)]
    } else {
        plan.variants
            .into_iter()
            .map(|v| (Some(v.name), v.config))
            .collect()
    };
    Some(
        configs
            .into_iter()
            .map(|(n, c)| (n, crate::forward::trace(&c, &mut Shapes)))
            .collect(),
    )
}

#[test]
fn bundled_lessons_ask_about_what_they_teach() {
    for (i, b) in BUNDLED.iter().enumerate() {
        let l = load_bundled(i + 1, b).unwrap();
        let covers = l.covers.clone().unwrap_or_default().to_lowercase();
        let teaches = ["mask", "cache", "kv", "pad", "scal", "gqa", "mqa", "n_rep"]
            .iter()
            .any(|w| covers.contains(w));
        let concepts = l
            .presentation
            .quiz
            .iter()
            .filter(|k| **k != QuizKind::Shape)
            .count();
        // A bug hunt's own question (the first stage that goes wrong) is not a shape question.
        assert!(
            !teaches || concepts > 0 || l.bug.is_some(),
            "{} teaches ({covers}) but asks only shapes",
            b.file
        );
    }
    let causal = load_bundled(4, &BUNDLED[3]).unwrap();
    assert!(
        causal.presentation.quiz.iter().any(|k| matches!(
            k,
            QuizKind::Concept(
                crate::stage::concepts::Kind::VisibleKeys
                    | crate::stage::concepts::Kind::MaskedWeight
            )
        )),
        "lesson 4 asks about the mask"
    );
}

#[test]
fn no_bundled_shape_question_is_answered_by_coincidence() {
    use crate::stepper::quiz::shape::{self, Typed, Verdict};
    for (i, b) in BUNDLED.iter().enumerate() {
        let l = load_bundled(i + 1, b).unwrap();
        for (_, t) in traces(&l, ConfigSpec::default()).unwrap() {
            for (s, st) in t.steps.iter().enumerate() {
                for j in 0..st.stages.len() {
                    for q in shape::questions(&t, s, j) {
                        let sizes = q.expected.sizes();
                        let plain: Vec<Typed> = sizes
                            .iter()
                            .map(|&size| Typed { name: None, size })
                            .collect();
                        let repeated = sizes
                            .iter()
                            .any(|&x| x > 1 && sizes.iter().filter(|&&y| y == x).count() > 1);
                        // Sizes alone answer a question only when no two axes share a size.
                        assert_eq!(
                            shape::check(&q, &plain) == Verdict::Right,
                            !repeated,
                            "{} step {} {}: {}",
                            b.file,
                            s + 1,
                            q.tensor,
                            q.expected
                        );
                    }
                }
            }
        }
    }
}
