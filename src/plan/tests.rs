//! The plan builder without a terminal: modes, refusals, wording, colour and width.

use super::*;
use crate::lesson;

/// The flag names the command line uses, for the messages these tests check.
fn flag(key: ConfigKey) -> &'static str {
    match key {
        ConfigKey::HiddenSize => "--hidden-size",
        ConfigKey::NumAttentionHeads => "--num-heads",
        ConfigKey::HeadDim => "--head-dim",
        ConfigKey::SeqLen => "--seq-len",
        ConfigKey::Steps => "--steps",
        ConfigKey::AttentionMask => "--attention-mask",
        ConfigKey::RopeTheta => "--rope-theta",
        _ => "--other",
    }
}

/// A request with `flags` set and the command line's names for them.
fn with(flags: ConfigSpec) -> Request {
    Request {
        flags,
        flag_name: flag,
        ..Request::default()
    }
}

/// A person at a terminal.
fn tty() -> Environment {
    Environment {
        stdin_terminal: true,
        stdout_terminal: true,
        terminal_width: Some(120),
        term: Some("xterm-256color".into()),
        ..Environment::default()
    }
}

fn plan(req: &Request, env: &Environment) -> Result<Plan, UsageError> {
    build(req, None, env)
}

fn spec() -> ConfigSpec {
    ConfigSpec::default()
}

#[test]
fn quiz_with_printing_is_refused_alike_for_run_and_lesson() {
    let all_quiz = Request {
        all: true,
        quiz: true,
        ..Request::default()
    };
    let run = plan(&all_quiz, &tty()).unwrap_err();
    let tour = lesson::load("tour").unwrap();
    let lesson = build(&all_quiz, Some(&tour), &tty()).unwrap_err();
    assert_eq!(run, lesson);
    assert_eq!(run.0, QUIZ_WITH_PRINT);
    let stage_quiz = Request {
        stage: Some("softmax".into()),
        quiz: true,
        ..Request::default()
    };
    assert_eq!(plan(&stage_quiz, &tty()).unwrap_err().0, QUIZ_WITH_PRINT);
}

#[test]
fn the_mode_follows_the_streams() {
    let pipe = Environment::default();
    let into_pager = Environment {
        stdout_terminal: false,
        ..tty()
    };
    let plain = Request::default();
    let quiz = Request {
        quiz: true,
        ..Request::default()
    };
    let all = Request {
        all: true,
        ..Request::default()
    };
    let step = Request {
        step: Some(1),
        ..Request::default()
    };
    let cases = [
        (&plain, tty(), Mode::Step { quiz: false }),
        (&quiz, tty(), Mode::Step { quiz: true }),
        (&plain, pipe.clone(), Mode::Lines { quiz: false }),
        (&quiz, pipe, Mode::Lines { quiz: true }),
        (&plain, into_pager.clone(), Mode::Print),
        (&quiz, into_pager, Mode::Lines { quiz: true }),
        (&all, tty(), Mode::Print),
        (&step, tty(), Mode::Print),
    ];
    for (req, env, want) in cases {
        assert_eq!(plan(req, &env).unwrap().mode, want, "{req:?} {env:?}");
    }
    let dumb = Environment {
        term: Some("dumb".into()),
        ..tty()
    };
    assert_eq!(
        plan(&plain, &dumb).unwrap().mode,
        Mode::Lines { quiz: false }
    );
}

#[test]
fn a_directory_on_stdin_is_refused_only_when_it_would_be_read() {
    let env = Environment {
        stdin_directory: true,
        ..Environment::default()
    };
    let e = plan(&Request::default(), &env).unwrap_err();
    assert!(e.0.starts_with("standard input is a directory"), "{}", e.0);
    let all = Request {
        all: true,
        ..Request::default()
    };
    assert!(plan(&all, &env).is_ok());
}

#[test]
fn config_errors_name_the_flags_the_user_gave() {
    let err = |flags: ConfigSpec| plan(&with(flags), &tty()).unwrap_err().0;
    let e = err(ConfigSpec {
        steps: Some(vec![3, 1]),
        attention_mask: Some(vec!["011".into()]),
        ..spec()
    });
    assert!(e.starts_with("--attention-mask row 0 has 3 entries"), "{e}");
    // head_dim derived from flags: the advice names those flags, not --head-dim.
    let e = err(ConfigSpec {
        hidden_size: Some(28),
        num_attention_heads: Some(4),
        ..spec()
    });
    assert!(e.contains("change --hidden-size or --num-heads"), "{e}");
    assert!(!e.contains("Use an even"), "{e}");
    let e = err(ConfigSpec {
        head_dim: Some(7),
        ..spec()
    });
    assert!(e.ends_with("Use an even --head-dim"), "{e}");
    let e = err(ConfigSpec {
        hidden_size: Some(0),
        ..spec()
    });
    assert!(
        e.starts_with("hidden_size must be at least 1 (got 0)"),
        "{e}"
    );
    assert!(e.ends_with("set --hidden-size to a positive number"), "{e}");
    let e = err(ConfigSpec {
        rope_theta: Some(1e-300),
        ..spec()
    });
    assert!(e.starts_with("--rope-theta must be a number from"), "{e}");
}

#[test]
fn flags_go_over_the_lesson_and_the_lessons_view_applies_while_it_exists() {
    let gqa = lesson::load("gqa").unwrap();
    let one_kv = with(ConfigSpec {
        num_key_value_heads: Some(1),
        ..spec()
    });
    let p = build(&one_kv, Some(&gqa), &tty()).unwrap();
    assert_eq!(p.config.num_key_value_heads, 1);
    let lesson_cfg = gqa.spec.resolve().unwrap();
    assert_eq!(p.config.num_attention_heads, lesson_cfg.num_attention_heads);
    // The lesson's first head (3) applies while it exists and falls back to 0 once it is gone.
    let text = "format_version = 1\ntitle = \"T\"\nsummary = \"S\"\nhead = 3\n";
    let l = crate::lesson::format::parse(crate::lesson::source::Source::new("h.toml", text));
    let l = l.unwrap();
    assert_eq!(plan_with(&Request::default(), &l).view.head, 3);
    let two_heads = with(ConfigSpec {
        num_attention_heads: Some(2),
        num_key_value_heads: Some(2),
        ..spec()
    });
    assert_eq!(plan_with(&two_heads, &l).view.head, 0);

    let padding = lesson::load("padding").unwrap();
    let shorter = with(ConfigSpec {
        seq_len: Some(3),
        ..spec()
    });
    let e = build(&shorter, Some(&padding), &tty()).unwrap_err().0;
    assert!(
        e.starts_with("lessons/05-padding.toml:") && e.contains("attention_mask row 0"),
        "{e}"
    );
    assert!(
        e.ends_with("(the lesson's value, with --seq-len from the command line)"),
        "{e}"
    );
}

fn plan_with(req: &Request, lesson: &Lesson) -> Plan {
    build(req, Some(lesson), &tty()).unwrap()
}

#[test]
fn colour_and_width_come_from_the_environment_and_flags() {
    let plain = Request::default();
    let p = plan(&plain, &tty()).unwrap();
    assert!(p.view.color);
    assert_eq!(p.view.width, 120);
    let no = Environment {
        no_color: Some("1".into()),
        ..tty()
    };
    assert!(!plan(&plain, &no).unwrap().view.color);
    let always = Request {
        view: ViewChoices {
            color: ColorChoice::Always,
            ..ViewChoices::default()
        },
        ..Request::default()
    };
    assert!(plan(&always, &no).unwrap().view.color);
    let huge = Environment {
        columns: Some("18446744073709551615".into()),
        ..tty()
    };
    assert_eq!(
        plan(&plain, &huge).unwrap().view.width,
        crate::text::MAX_WIDTH
    );
    assert!(!plan(&plain, &Environment::default()).unwrap().view.color);
}

#[test]
fn token_labels_lose_their_control_characters() {
    let req = with(ConfigSpec {
        seq_len: Some(2),
        tokens: Some("a\x1b]0;x\x07 b".into()),
        ..spec()
    });
    let tokens = plan(&req, &tty()).unwrap().config.tokens.unwrap();
    assert_eq!(
        tokens,
        vec!["a\\u{1b}]0;x\\u{7}".to_owned(), "b".to_owned()]
    );
}

#[test]
fn view_and_selection_are_checked() {
    let head = Request {
        view: ViewChoices {
            head: Some(4),
            ..ViewChoices::default()
        },
        ..Request::default()
    };
    let e = plan(&head, &tty()).unwrap_err();
    assert!(e.0.starts_with("--head 4 is out of range"), "{}", e.0);
    let step = Request {
        step: Some(3),
        ..with(ConfigSpec {
            steps: Some(vec![3, 1]),
            ..spec()
        })
    };
    let e = plan(&step, &tty()).unwrap_err();
    assert!(e.0.starts_with("--step 3 is out of range"), "{}", e.0);
    let stage = Request {
        stage: Some("2".into()),
        max_memory: Some(1 << 50),
        ..Request::default()
    };
    let p = plan(&stage, &tty()).unwrap();
    assert_eq!(p.selection.stage, Some(StageId::Project));
    assert_eq!(p.max_memory, Some(1 << 50));
}

#[test]
fn the_slip_comes_from_bug_over_the_lessons_and_is_checked_once() {
    use crate::bugs::Bug;
    let hunt = lesson::load("bug-scale").unwrap();
    // The lesson's own slip, then the flag's over it; runs plant nothing unless asked.
    let p = plan_with(&Request::default(), &hunt);
    assert_eq!(p.config.bug, Some(Bug::ScaleByHidden));
    let over = Request {
        bug: Some("no_scale".into()),
        ..Request::default()
    };
    assert_eq!(plan_with(&over, &hunt).config.bug, Some(Bug::NoScale));
    assert_eq!(plan(&Request::default(), &tty()).unwrap().config.bug, None);
    // A slip that makes the run impossible is refused, named as the flag names it.
    let gqa = Request {
        bug: Some("values-not-repeated".into()),
        ..with(ConfigSpec {
            num_attention_heads: Some(4),
            num_key_value_heads: Some(2),
            ..spec()
        })
    };
    let e = plan(&gqa, &tty()).unwrap_err().0;
    assert!(
        e.starts_with("--bug values-not-repeated: output = weights @ xv"),
        "{e}"
    );
    // --diff compares with MiniMind's run: only with a slip, never with the quiz, and it prints.
    let diff = Request {
        diff: true,
        ..Request::default()
    };
    assert_eq!(plan(&diff, &tty()).unwrap_err().0, DIFF_WITHOUT_BUG);
    let planted = Request {
        bug: Some("no-scale".into()),
        ..diff.clone()
    };
    assert_eq!(plan(&planted, &tty()).unwrap().mode, Mode::Print);
    let quiz = Request {
        quiz: true,
        ..planted
    };
    assert_eq!(plan(&quiz, &tty()).unwrap_err().0, QUIZ_WITH_DIFF);
}

#[test]
fn a_lessons_view_and_variants_sit_under_the_flags() {
    let text = "format_version = 1\ntitle = \"T\"\nsummary = \"S\"\n[view]\nmax_rows = 4\n\
                precision = 1\n[config]\nhidden_size = 16\nnum_heads = 4\n\
                [[variants]]\nname = \"mha\"\nconfig = { num_kv_heads = 4 }\n\
                [[variants]]\nname = \"mqa\"\nconfig = { num_kv_heads = 1 }\n";
    let l =
        crate::lesson::format::parse(crate::lesson::source::Source::new("v.toml", text)).unwrap();
    let p = plan_with(&Request::default(), &l);
    assert_eq!((p.view.max_rows, p.view.precision), (4, 1));
    assert_eq!(p.view.max_cols, View::default().max_cols);
    // Both variants resolved, the first chosen; the flags lie over every variant.
    let kv: Vec<usize> = p
        .variants
        .iter()
        .map(|v| v.config.num_key_value_heads)
        .collect();
    assert_eq!(
        (kv, p.variant, p.config.num_key_value_heads),
        (vec![4, 1], 0, 4)
    );
    let req = Request {
        variant: Some("mqa".into()),
        view: ViewChoices {
            precision: Some(5),
            ..ViewChoices::default()
        },
        ..with(ConfigSpec {
            seq_len: Some(7),
            ..spec()
        })
    };
    let p = plan_with(&req, &l);
    assert_eq!((p.variant, p.config.num_key_value_heads), (1, 1));
    assert!(p.variants.iter().all(|v| v.config.steps == vec![7]));
    assert_eq!(p.view.precision, 5);
    let wrong = Request {
        variant: Some("gqa".into()),
        ..Request::default()
    };
    let e = build(&wrong, Some(&l), &tty()).unwrap_err().0;
    assert_eq!(
        e,
        "--variant \"gqa\": this lesson has no such variant. Did you mean \"mqa\"? Its \
         variants are: mha, mqa"
    );
}

/// A lesson with a `[model]`: `tiny` on a short sentence, layer 1.
fn model_lesson() -> Lesson {
    let text = "format_version = 1\ntitle = \"T\"\nsummary = \"S\"\n[model]\nweights = \"tiny\"\n\
                text = \"the big dog ran . the big dog\"\nlayer = 1\n[view]\nhead = 3\n";
    crate::lesson::format::parse(crate::lesson::source::Source::new("m.toml", text)).unwrap()
}

fn asking(model: ModelRequest) -> Request {
    Request {
        model: Some(model),
        ..with(ConfigSpec::default())
    }
}

#[test]
fn a_lessons_model_is_run_with_text_and_layer_from_the_flags_over_its_own() {
    let l = model_lesson();
    let own = plan_with(&Request::default(), &l);
    let m = own.model.as_ref().expect("the lesson's checkpoint is run");
    assert_eq!((m.name.as_str(), m.layer), ("tiny", 1));
    // <bos> and eight words: the labels are the words the tokenizer made.
    assert_eq!(own.config.tokens.as_ref().unwrap().len(), 9);
    assert_eq!(own.config.steps, vec![9]);
    assert_eq!(own.view.head, 3, "the lesson's [view] applies");
    let other = plan_with(
        &asking(ModelRequest {
            text: Some("anna slept .".into()),
            layer: Some(0),
            ..ModelRequest::default()
        }),
        &l,
    );
    let m = other.model.as_ref().unwrap();
    assert_eq!(m.layer, 0);
    assert_eq!(m.tokens.labels, ["<bos>", "anna", "slept", "."]);
    // --decode splits the lesson's text into calls through the cache.
    let split = plan_with(
        &with(ConfigSpec {
            decode: Some(2),
            ..ConfigSpec::default()
        }),
        &l,
    );
    assert_eq!(split.config.steps, vec![7, 1, 1]);
}

#[test]
fn what_contradicts_a_lessons_model_is_refused_naming_it() {
    let l = model_lesson();
    let refused = |req: &Request| build(req, Some(&l), &Environment::default()).unwrap_err().0;
    let e = refused(&asking(ModelRequest {
        weights: Some("tiny".into()),
        ..ModelRequest::default()
    }));
    assert!(
        e.starts_with("--weights cannot be used with this lesson: a lesson sets its own"),
        "{e}"
    );
    let e = refused(&with(ConfigSpec {
        num_attention_heads: Some(2),
        ..ConfigSpec::default()
    }));
    assert!(
        e.starts_with("--num-heads cannot be used with this lesson's [model]: the checkpoint's"),
        "{e}"
    );
    let e = refused(&Request {
        bug: Some("no-scale".into()),
        ..Request::default()
    });
    assert!(
        e.starts_with("--bug no-scale: this lesson runs a trained"),
        "{e}"
    );
    let e = refused(&asking(ModelRequest {
        layer: Some(2),
        ..ModelRequest::default()
    }));
    assert!(
        e.starts_with("--layer 2 is out of range: the checkpoint has 2 layer(s)"),
        "{e}"
    );
    // A lesson without a model takes none of the checkpoint flags.
    let tour = lesson::load("tour").unwrap();
    let e = build(
        &asking(ModelRequest {
            text: Some("the cat".into()),
            ..ModelRequest::default()
        }),
        Some(&tour),
        &Environment::default(),
    )
    .unwrap_err()
    .0;
    assert!(e.contains("this one runs random weights"), "{e}");
}
