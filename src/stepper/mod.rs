//! Front ends that walk a trace stage by stage: the interactive stepper and the printer.
//!
//! [`present`] picks how to walk from the [`Terminal`] ([`front`] holds the rule):
//!
//! - standard input and output both terminals, and `TERM` set to something other than `dumb`:
//!   the one-key stepper in raw mode ([`term`]), redrawn in place;
//! - standard input not a terminal (a script, a test, a pipe, `/dev/null`), or a terminal that
//!   cannot draw in place (`TERM=dumb` or unset: an editor's shell buffer, a screen reader
//!   setup): line mode ([`mod@line`]), one command per line, each screen printed below the last; it
//!   never waits for a key nobody can press, and with no input at all it prints the whole walk;
//! - standard input a terminal but output not (`attnstep run | less`): everything printed at
//!   once ([`print_all`]), since nobody can see a stepper; except with the quiz, which then runs
//!   in line mode so the learner can still type answers.
//!
//! The walk is: the presentation's welcome, every shown stage of every step (with its notes),
//! and an end screen with the closing text and the quiz score. A lesson with variants is
//! several [`Run`]s, one per named configuration; the walk shows one at a time and `v` switches.
//! The pieces: [`nav`] the pure navigation state machine, [`keys`] the key map, [`quiz`] the
//! quiz, [`walk`] the walk's state, [`screen`] the text of its screens, [`fit`] fitting a screen
//! to the window, [`session`] the terminal while the stepper owns it (signals, suspend,
//! restoring).

pub mod fit;
pub mod hunt;
pub mod keys;
pub mod line;
pub mod nav;
pub mod quiz;
mod run;
pub mod screen;
pub mod session;
pub mod term;
mod typed;
pub mod walk;

use std::io::{self, Write};

use anyhow::Result;

pub use nav::Position;
pub use run::{Options, Outcome, Run};

use crate::presentation::{Context, Presentation};
use crate::render::{self, View};
use crate::terminal::Terminal;
use walk::Walk;

/// How a walk is presented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Front {
    /// The raw-mode stepper, drawn in place ([`term`]).
    FullScreen,
    /// One typed command per line ([`mod@line`]).
    Lines,
    /// Everything printed at once ([`print_all`]).
    PrintAll,
}

/// The rule of the module doc: how to walk on `terminal`, with or without the quiz.
pub fn front(terminal: &Terminal, quiz: bool) -> Front {
    if terminal.full_screen() {
        Front::FullScreen
    } else if !terminal.stdout_tty && terminal.stdin_tty && !quiz {
        Front::PrintAll
    } else {
        Front::Lines
    }
}

/// Walks the trace for a reader, interactively when a person is at a terminal (see the module
/// doc for how the mode is chosen). The head and batch row start at the view's.
pub fn present(
    out: &mut dyn Write,
    runs: &[Run],
    pres: &Presentation,
    view: &View,
    opts: &Options,
) -> Result<Outcome> {
    match front(crate::terminal::current(), opts.quiz) {
        Front::FullScreen => {
            let mut walk = Walk::new(runs, pres, view, opts);
            term::run(out, &mut walk)?;
            Ok(walk.outcome())
        }
        Front::Lines => present_lines(&mut io::stdin().lock(), out, runs, pres, view, opts),
        Front::PrintAll => print_all_to_the_end(out, runs, opts.variant, pres, view),
    }
}

/// [`print_all`], and the outcome of a walk that went to the last stage.
fn print_all_to_the_end(
    out: &mut dyn Write,
    runs: &[Run],
    variant: usize,
    pres: &Presentation,
    view: &View,
) -> Result<Outcome> {
    print_all(out, runs, variant, pres, view)?;
    let trace = &runs[variant].trace;
    let last = trace
        .steps
        .iter()
        .enumerate()
        .flat_map(|(i, st)| {
            st.stages
                .iter()
                .enumerate()
                .filter(|(_, sg)| pres.shows(sg.id))
                .map(move |(j, _)| Position { step: i, stage: j })
        })
        .last()
        .unwrap_or(Position { step: 0, stage: 0 });
    Ok(Outcome {
        position: last,
        finished: true,
        quiz: None,
    })
}

/// Line mode on any input: what [`present`] does when standard input is not a terminal (or a
/// dumb one).
pub fn present_lines(
    input: &mut dyn io::BufRead,
    out: &mut dyn Write,
    runs: &[Run],
    pres: &Presentation,
    view: &View,
    opts: &Options,
) -> Result<Outcome> {
    let mut walk = Walk::new(runs, pres, view, opts);
    line::run(input, out, &mut walk)?;
    Ok(walk.outcome())
}

/// Prints run `variant` whole: the welcome (with the premise warning and the variants), every
/// shown stage of every step with its notes, and the closing.
pub fn print_all(
    out: &mut dyn Write,
    runs: &[Run],
    variant: usize,
    pres: &Presentation,
    view: &View,
) -> io::Result<()> {
    let run = &runs[variant];
    let trace = &run.trace;
    let view = View {
        row_tokens: pres
            .rows_for(&trace.config)
            .map(|r| std::sync::Arc::new(r.to_vec())),
        ..view.clone()
    };
    let context = |step: usize| Context {
        trace,
        step,
        head: view.head,
        batch: view.batch,
        variant: run.name.as_deref(),
    };
    let text = |out: &mut dyn Write, t: &str| -> io::Result<()> {
        for line in screen::wrap(t.trim_matches('\n'), view.width) {
            writeln!(out, "{line}")?;
        }
        writeln!(out)
    };
    if let Some(title) = &pres.title {
        let pal = view.palette();
        writeln!(out, "{}\n", pal.paint(title, render::palette::Role::Banner))?;
    }
    let welcome = screen::welcome_text(runs, variant, pres, &context(0), false);
    if !welcome.is_empty() {
        text(out, &welcome)?;
    }
    for (i, step) in trace.steps.iter().enumerate() {
        for (j, stage) in step.stages.iter().enumerate() {
            if !pres.shows(stage.id) {
                continue;
            }
            let shown = screen::stage_text(pres, &context(i), j, &view, view.width);
            writeln!(out, "{shown}")?;
        }
    }
    if let Some(c) = pres.closing_at(&context(trace.steps.len() - 1)) {
        text(out, &c)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigSpec;
    use crate::numeric::Tensor;
    use crate::presentation::{Hint, Note, Scope, Steps};
    use crate::trace::{StageId, Trace};

    /// 4 heads, 2 KV heads, hidden 16, a prefill of 3 tokens and one decode step.
    fn trace() -> Trace<Tensor> {
        let cfg = ConfigSpec {
            hidden_size: Some(16),
            num_attention_heads: Some(4),
            num_key_value_heads: Some(2),
            steps: Some(vec![3, 1]),
            ..ConfigSpec::default()
        }
        .resolve()
        .unwrap();
        crate::forward::trace(&cfg, &mut crate::numeric::Numeric::new(1))
    }

    fn lesson() -> Presentation {
        Presentation {
            title: Some("GQA in two steps".into()),
            welcome: Some("Welcome: watch the KV heads.".into()),
            notes: vec![
                Note {
                    stage: StageId::RepeatKv,
                    scope: Scope::default(),
                    text: "Each KV head serves {n_rep} query heads; head {head} reads KV head \
                           {kv_head}."
                        .into(),
                    prose: None,
                },
                Note {
                    stage: StageId::Scores,
                    scope: Scope {
                        steps: Steps::Only(vec![1]),
                        ..Scope::default()
                    },
                    text: "One query row now.".into(),
                    prose: None,
                },
            ],
            hints: vec![Hint {
                stage: StageId::RepeatKv,
                scope: Scope::default(),
                kind: None,
                text: "Count the {n_heads} query heads.".into(),
            }],
            stages: Some(vec![StageId::RepeatKv, StageId::Scores]),
            closing: Some("That was GQA.".into()),
            ..Presentation::default()
        }
    }

    fn run(pres: &Presentation, input: &str, opts: &Options) -> (String, Outcome) {
        let runs = Run::single(trace());
        let mut out = Vec::new();
        let outcome = present_lines(
            &mut input.as_bytes(),
            &mut out,
            &runs,
            pres,
            &View {
                head: 2,
                ..View::default()
            },
            opts,
        )
        .unwrap();
        (String::from_utf8(out).unwrap(), outcome)
    }

    #[test]
    fn the_front_follows_the_terminal() {
        let term = |stdin_tty, stdout_tty, term: Option<&str>| Terminal {
            stdin_tty,
            stdout_tty,
            term: term.map(String::from),
            ..Terminal::default()
        };
        let xterm = Some("xterm-256color");
        assert_eq!(front(&term(true, true, xterm), false), Front::FullScreen);
        assert_eq!(front(&term(true, true, xterm), true), Front::FullScreen);
        // A terminal that cannot draw in place still takes typed commands.
        for t in [None, Some(""), Some("dumb")] {
            assert_eq!(front(&term(true, true, t), false), Front::Lines, "{t:?}");
        }
        assert_eq!(front(&term(false, true, xterm), false), Front::Lines);
        assert_eq!(front(&term(false, false, xterm), false), Front::Lines);
        assert_eq!(front(&term(true, false, xterm), false), Front::PrintAll);
        assert_eq!(front(&term(true, false, xterm), true), Front::Lines);
    }

    #[test]
    fn a_lesson_walk_shows_welcome_notes_and_closing_in_order() {
        let (out, outcome) = run(&lesson(), "", &Options::default());
        assert!(
            out.starts_with("GQA in two steps\n\nWelcome: watch the KV heads.\n[welcome · n to start · ? help]\n"),
            "{out}"
        );
        let at = |s: &str| out.find(s).unwrap_or_else(|| panic!("{s} missing: {out}"));
        // Only the two chosen stages, numbered as the banner numbers them (6 and 8 of 13), in
        // each of the two steps; head 2 (0-based) from the view.
        assert!(
            at("[stage 6/13 repeat_kv · step 1/2 prefill (pos 0..2) · head 2 of 0…3")
                < at("[stage 8/13 scores · step 1/2 prefill (pos 0..2)")
        );
        assert!(
            at("[stage 8/13 scores · step 2/2 decode (pos 3) · head 2 of 0…3")
                < at("That was GQA.")
        );
        // 4 query heads over 2 KV heads: n_rep 2, and head 2 reads KV head 2 / 2 = 1.
        assert_eq!(
            out.matches("Each KV head serves 2 query heads; head 2 reads KV head 1.")
                .count(),
            2
        );
        assert_eq!(
            out.matches("One query row now.").count(),
            1,
            "note for step 2 only"
        );
        assert!(
            at("One query row now.") > at("[stage 6/13 repeat_kv · step 2/2"),
            "the step-2 note is with step 2"
        );
        assert!(outcome.finished);
        assert_eq!(outcome.position, Position { step: 1, stage: 7 });
        assert_eq!(outcome.quiz, None);
    }

    #[test]
    fn quitting_early_reports_where_the_walk_stopped() {
        let (_, outcome) = run(&lesson(), "n\nn\nq\n", &Options::default());
        assert!(!outcome.finished);
        // welcome → repeat_kv (index 5: no qk_norm) → scores (index 7) of the prefill.
        assert_eq!(outcome.position, Position { step: 0, stage: 7 });
    }

    #[test]
    fn a_start_position_resumes_past_the_welcome() {
        let opts = Options {
            start: Some(Position { step: 1, stage: 5 }),
            ..Options::default()
        };
        let (out, outcome) = run(&lesson(), "q\n", &opts);
        assert!(!out.contains("Welcome"), "{out}");
        assert!(
            out.contains("[stage 6/13 repeat_kv · step 2/2 decode (pos 3)"),
            "{out}"
        );
        assert_eq!(outcome.position, Position { step: 1, stage: 5 });
    }

    #[test]
    fn the_lesson_quiz_uses_its_hints_and_reports_the_score() {
        let opts = Options {
            quiz: true,
            ..Options::default()
        };
        // repeat_kv: [bsz=1, kv_len=3, n_heads=4, head_dim=4]; scores: [1, 4, 3, 3]. Axes of
        // equal size are named.
        let script =
            "n\nh\n1 3 4 4\n1 3 n_heads=4 head_dim=4\nn\n1 4 3 4\n1 4 seq_len=3 kv_len=3\nq\n";
        let (out, outcome) = run(&lesson(), script, &opts);
        assert!(out.contains("hint: Count the 4 query heads."), "{out}");
        assert!(
            out.contains("? the sizes are right; now say which is which: two axes have size 4")
        );
        assert!(out.contains("✓ right: xk_repeat is [bsz=1, kv_len=3, n_heads=4, head_dim=4]"));
        let score = outcome.quiz.unwrap();
        assert_eq!(score.to_string(), "1/2 first try");
        assert_eq!(score.missed_text(), "step 1 scores (scores)");
        assert!(
            out.ends_with("Quiz: 1/2 first try\nmissed: step 1 scores (scores)\n"),
            "{out}"
        );
    }
}
