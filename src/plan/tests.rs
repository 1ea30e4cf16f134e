//! The plan builder without a terminal: modes, refusals, wording, colour and width.

use clap::Parser;

use super::*;
use crate::cli::{Cli, Command, LessonArgs, RunArgs};

fn run_args(args: &[&str]) -> RunArgs {
    let argv = ["attnstep", "run"].into_iter().chain(args.iter().copied());
    match Cli::try_parse_from(argv).unwrap().command {
        Some(Command::Run(r)) => r,
        _ => unreachable!(),
    }
}

fn lesson_args(args: &[&str]) -> LessonArgs {
    let argv = ["attnstep", "lesson"]
        .into_iter()
        .chain(args.iter().copied());
    match Cli::try_parse_from(argv).unwrap().command {
        Some(Command::Lesson(l)) => l,
        _ => unreachable!(),
    }
}

fn run_request(r: &RunArgs) -> Request<'_> {
    Request {
        config: &r.config,
        view: Some(&r.view),
        select: Some(&r.select),
        max_memory: Some(r.guard.max_memory),
        all: r.all,
        quiz: r.quiz,
    }
}

fn lesson_request(l: &LessonArgs) -> Request<'_> {
    Request {
        config: &l.config,
        view: Some(&l.view),
        select: None,
        max_memory: Some(l.guard.max_memory),
        all: l.all,
        quiz: l.quiz,
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

fn plan(args: &[&str], env: &Environment) -> Result<Plan, UsageError> {
    build(&run_request(&run_args(args)), None, env)
}

#[test]
fn quiz_with_printing_is_refused_alike_for_run_and_lesson() {
    let run = plan(&["--all", "--quiz"], &tty()).unwrap_err();
    let l = lesson_args(&["tour", "--all", "--quiz"]);
    let tour = lesson::load("tour").unwrap();
    let lesson = build(&lesson_request(&l), Some(&tour), &tty()).unwrap_err();
    assert_eq!(run, lesson);
    assert_eq!(run.0, QUIZ_WITH_PRINT);
    assert_eq!(
        plan(&["--stage", "softmax", "--quiz"], &tty())
            .unwrap_err()
            .0,
        QUIZ_WITH_PRINT
    );
}

#[test]
fn the_mode_follows_the_streams() {
    let pipe = Environment::default();
    let into_pager = Environment {
        stdout_terminal: false,
        ..tty()
    };
    let cases = [
        (&[][..], tty(), Mode::Step { quiz: false }),
        (&["--quiz"][..], tty(), Mode::Step { quiz: true }),
        (&[][..], pipe.clone(), Mode::Lines { quiz: false }),
        (&["--quiz"][..], pipe, Mode::Lines { quiz: true }),
        (&[][..], into_pager.clone(), Mode::Print),
        (&["--quiz"][..], into_pager, Mode::Lines { quiz: true }),
        (&["--all"][..], tty(), Mode::Print),
        (&["--step", "1"][..], tty(), Mode::Print),
    ];
    for (args, env, want) in cases {
        assert_eq!(plan(args, &env).unwrap().mode, want, "{args:?} {env:?}");
    }
    let dumb = Environment {
        term: Some("dumb".into()),
        ..tty()
    };
    assert_eq!(plan(&[], &dumb).unwrap().mode, Mode::Lines { quiz: false });
}

#[test]
fn a_directory_on_stdin_is_refused_only_when_it_would_be_read() {
    let env = Environment {
        stdin_directory: true,
        ..Environment::default()
    };
    let e = plan(&[], &env).unwrap_err();
    assert!(e.0.starts_with("standard input is a directory"), "{}", e.0);
    assert!(plan(&["--all"], &env).is_ok());
}

#[test]
fn config_errors_name_the_flags_the_user_gave() {
    let e = plan(&["--steps", "3,1", "--attention-mask", "011"], &tty()).unwrap_err();
    assert!(
        e.0.starts_with("--attention-mask row 0 has 3 entries"),
        "{}",
        e.0
    );
    // head_dim derived from flags: the advice names the flags, not --head-dim.
    let e = plan(&["--hidden-size", "28", "--num-heads", "4"], &tty()).unwrap_err();
    assert!(
        e.0.contains("change --hidden-size or --num-heads"),
        "{}",
        e.0
    );
    assert!(!e.0.contains("Use an even"), "{}", e.0);
    let e = plan(&["--head-dim", "7"], &tty()).unwrap_err();
    assert!(e.0.ends_with("Use an even --head-dim"), "{}", e.0);
    let e = plan(&["--hidden-size", "0"], &tty()).unwrap_err();
    assert!(
        e.0.starts_with("hidden_size must be at least 1 (got 0)"),
        "{}",
        e.0
    );
    assert!(
        e.0.ends_with("set --hidden-size to a positive number"),
        "{}",
        e.0
    );
    let e = plan(&["--rope-theta", "1e-300"], &tty()).unwrap_err();
    assert!(
        e.0.starts_with("--rope-theta must be a number from"),
        "{}",
        e.0
    );
}

#[test]
fn flags_go_over_the_lesson_and_the_lessons_view_applies_while_it_exists() {
    let l = lesson_args(&["gqa", "--num-kv-heads", "1"]);
    let gqa = lesson::load("gqa").unwrap();
    let p = build(&lesson_request(&l), Some(&gqa), &tty()).unwrap();
    assert_eq!(p.config.num_key_value_heads, 1);
    assert_eq!(
        p.config.num_attention_heads,
        gqa.spec.resolve().unwrap().num_attention_heads
    );
    let l = lesson_args(&["padding", "--seq-len", "3"]);
    let padding = lesson::load("padding").unwrap();
    let e = build(&lesson_request(&l), Some(&padding), &tty()).unwrap_err();
    assert!(
        e.0.starts_with("lessons/05-padding.toml:") && e.0.contains("attention_mask row 0"),
        "{}",
        e.0
    );
    assert!(
        e.0.ends_with("(the lesson's value, with --seq-len from the command line)"),
        "{}",
        e.0
    );
}

#[test]
fn colour_and_width_come_from_the_environment_and_flags() {
    let p = plan(&[], &tty()).unwrap();
    assert!(p.view.color);
    assert_eq!(p.view.width, 120);
    let no = Environment {
        no_color: Some("1".into()),
        ..tty()
    };
    assert!(!plan(&[], &no).unwrap().view.color);
    assert!(plan(&["--color", "always"], &no).unwrap().view.color);
    let huge = Environment {
        columns: Some("18446744073709551615".into()),
        ..tty()
    };
    assert_eq!(plan(&[], &huge).unwrap().view.width, crate::text::MAX_WIDTH);
    assert!(!plan(&[], &Environment::default()).unwrap().view.color);
}

#[test]
fn token_labels_lose_their_control_characters() {
    let p = plan(&["--seq-len", "2", "--tokens", "a\x1b]0;x\x07 b"], &tty()).unwrap();
    let tokens = p.config.tokens.unwrap();
    assert_eq!(
        tokens,
        vec!["a\\u{1b}]0;x\\u{7}".to_owned(), "b".to_owned()]
    );
}

#[test]
fn view_and_selection_are_checked() {
    let e = plan(&["--head", "4"], &tty()).unwrap_err();
    assert!(e.0.starts_with("--head 4 is out of range"), "{}", e.0);
    let e = plan(&["--steps", "3,1", "--step", "3"], &tty()).unwrap_err();
    assert!(e.0.starts_with("--step 3 is out of range"), "{}", e.0);
    let p = plan(&["--stage", "2", "--max-memory", "1PiB"], &tty()).unwrap();
    assert_eq!(p.selection.stage, Some(StageId::Project));
    assert_eq!(p.max_memory, Some(1 << 50));
}
