//! `attnstep lesson NAME`: a lesson walked through the stepper (or printed whole with
//! `--all`), with the learner's progress kept between runs.

use std::io::Write;

use anyhow::Result;

use super::common;
use crate::cli::LessonArgs;
use crate::error;
use crate::lesson::progress::{self, Entry, QuizRecord, Store};
use crate::lesson::{self, Lesson};
use crate::numeric::Tensor;
use crate::plan::{self, Environment, Mode, Plan, Request};
use crate::stepper::{self, Options, Outcome, Position};
use crate::trace::Trace;

/// What `lesson`'s flags ask of the plan (also what the dry run checks).
pub(super) fn request(args: &LessonArgs) -> Request {
    Request {
        all: args.all,
        quiz: args.quiz,
        bug: args.bug.bug.clone(),
        variant: args.variant.clone(),
        ..common::request(
            &args.config,
            Some(&args.view),
            None,
            Some(args.guard.max_memory),
        )
    }
}

pub fn run(args: &LessonArgs, env: &Environment) -> Result<()> {
    let lesson = lesson::load(&args.name)?;
    let plan = plan::build(&request(args), Some(&lesson), env)?;
    common::warn_hidden_slip(&plan);
    take(&plan, &lesson, args.restart)
}

/// Takes `lesson` as `plan` says: printed whole (then it counts as read), or stepped through
/// from the start or from where the learner stopped (then where they stop is saved).
pub fn take(plan: &Plan, lesson: &Lesson, restart: bool) -> Result<()> {
    let runs = common::runs(plan)?;
    let trace = &runs[plan.variant].trace;
    let mut out = error::stdout();
    let pres = &lesson.presentation;
    let dir = progress::state_dir();
    if plan.mode == Mode::Print {
        stepper::print_all(&mut out, &runs, plan.variant, pres, &plan.view)?;
        out.flush()?;
        if let Some(d) = &dir {
            save(d, |s| s.mark_read(&lesson.progress_key));
        }
        return Ok(());
    }
    let store = match &dir {
        Some(d) => Store::load(d).unwrap_or_else(|e| {
            common::warn(format!("{e}; starting from the beginning"));
            Store::default()
        }),
        None => Store::default(),
    };
    let start = match store.resumable(&lesson.progress_key) {
        Some(e) if !restart && matches!(plan.mode, Mode::Step { .. }) => {
            offer_resume(&mut out, trace, lesson, e)?
        }
        _ => None,
    };
    let quiz = matches!(
        plan.mode,
        Mode::Step { quiz: true } | Mode::Lines { quiz: true }
    );
    let opts = Options {
        quiz,
        start,
        variant: plan.variant,
    };
    let outcome = match plan.mode {
        Mode::Lines { .. } => stepper::present_lines(
            &mut common::stdin_lines(),
            &mut out,
            &runs,
            pres,
            &plan.view,
            &opts,
        )?,
        _ => stepper::present(&mut out, &runs, pres, &plan.view, &opts)?,
    };
    out.flush()?;
    if let Some(d) = &dir {
        save(d, |s| s.record_walk(&lesson.progress_key, entry(&outcome)));
    }
    Ok(())
}

/// Applies a change to the saved progress; a failure is a warning, the lesson still ran.
fn save(dir: &std::path::Path, change: impl FnOnce(&mut Store)) {
    if let Err(e) = progress::update(dir, change) {
        common::warn(format!("your progress was not saved: {e}"));
    }
}

/// Asks whether to resume at a saved position that still exists in this run.
fn offer_resume(
    out: &mut dyn Write,
    trace: &Trace<Tensor>,
    lesson: &Lesson,
    saved: &Entry,
) -> Result<Option<Position>> {
    let Some(stage) = trace
        .steps
        .get(saved.step)
        .and_then(|s| s.stages.get(saved.stage))
    else {
        // The flags changed the run: the saved stage is not in it.
        return Ok(None);
    };
    let name = lesson
        .number
        .map_or(lesson.name.clone(), |n| format!("{n} ({})", lesson.name));
    let question = format!(
        "Resume lesson {name} at step {}, stage {} ({})? [Y/n] ",
        saved.step + 1,
        saved.stage + 1,
        stage.id
    );
    write!(out, "{question}")?;
    out.flush()?;
    Ok(answer_is_yes(&common::read_answer()?).then_some(Position {
        step: saved.step,
        stage: saved.stage,
    }))
}

fn answer_is_yes(line: &str) -> bool {
    !matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "n" | "no" | "q" | "quit"
    )
}

/// What a walk through the stepper leaves in the progress store.
fn entry(outcome: &Outcome) -> Entry {
    Entry {
        step: outcome.position.step,
        stage: outcome.position.stage,
        finished: outcome.finished,
        read: false,
        quiz: outcome.quiz.as_ref().map(|q| QuizRecord {
            correct: q.first_try,
            asked: q.asked,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yes_is_the_default_answer() {
        assert!(answer_is_yes("\n"));
        assert!(answer_is_yes("y\n"));
        assert!(!answer_is_yes("n\n"));
        assert!(!answer_is_yes(" No \n"));
    }

    #[test]
    fn a_walk_maps_to_a_progress_entry() {
        let outcome = Outcome {
            position: Position { step: 2, stage: 5 },
            finished: false,
            quiz: None,
        };
        assert_eq!(
            entry(&outcome),
            Entry {
                step: 2,
                stage: 5,
                ..Entry::default()
            }
        );
    }
}
