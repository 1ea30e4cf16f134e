//! The navigation state machine of the stepper: which screen is showing (welcome, one stage of
//! one step, the end), which head and batch row the matrices show, and whether the help is open.
//!
//! It knows nothing about terminals or keys: front ends turn keys or typed lines into
//! [`Command`]s and ask [`Nav::apply`] to carry them out, so every rule here is tested directly.
//! Stage numbers the user sees count only the shown stages of the current step, from 1, as in
//! the status line (`stage 9/15`); heads and batch rows are shown from 1 as well.

use crate::presentation::Presentation;
use crate::trace::{StageId, Trace};

/// A stage of a step: `stage` indexes `trace.steps[step].stages` (not only the shown ones).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Position {
    pub step: usize,
    pub stage: usize,
}

/// What a walk can show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    /// The presentation's welcome text.
    Welcome,
    Stage(Position),
    /// The closing text and, with the quiz, the score.
    End,
}

/// Something the user asked for, whatever key or line it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Next,
    Back,
    /// Next, except that a front end showing a screen taller than the window first pages
    /// down through it (so a clicker reaches everything); here, the same as `Next`.
    PageDown,
    /// Back, except that a front end first pages up a scrolled screen; here, `Back`.
    PageUp,
    /// The first screen (the welcome, if there is one).
    First,
    /// The last screen (the end, if there is one).
    Last,
    /// Stage `n` (1-based) among the shown stages of the current step.
    Stage(usize),
    /// A stage by id, in the current step.
    StageId(StageId),
    /// Step `n` (1-based), at the same stage if that step shows it.
    Step(usize),
    NextHead,
    PrevHead,
    /// Head `n` (1-based).
    Head(usize),
    NextBatch,
    /// Batch row `n` (1-based).
    Batch(usize),
    ToggleHelp,
    /// Show or hide a planted slip's comparison with MiniMind's run (the walk's business).
    ToggleDiff,
    /// Scroll a screen taller than the window.
    ScrollDown,
    ScrollUp,
    Quit,
}

/// Why a command did nothing: shown to the user as is.
pub type Refusal = String;

/// The stepper's position and view state over a trace's shown stages.
#[derive(Clone, Debug)]
pub struct Nav {
    /// For each step, its shown stages as (index into the step's stages, id).
    steps: Vec<Vec<(usize, StageId)>>,
    screens: Vec<Screen>,
    current: usize,
    /// Query head shown in the matrices (0-based).
    pub head: usize,
    pub n_heads: usize,
    /// Batch row shown (0-based).
    pub batch: usize,
    pub bsz: usize,
    /// The help overlay is open.
    pub help: bool,
    /// Lines scrolled off the top of a tall screen.
    pub scroll: usize,
    /// Lines scrolled off the top of the help, kept apart so that opening and closing the
    /// help leaves a tall stage where it was.
    pub help_scroll: usize,
    /// The last screen has been reached at least once.
    pub reached_end: bool,
}

impl Nav {
    /// A walk over `steps` (for each step, the shown stages as (stage index, id)), with a
    /// welcome screen first and an end screen last when asked for. Head and batch row start at
    /// the given values, clamped to range.
    pub fn new(
        steps: Vec<Vec<(usize, StageId)>>,
        welcome: bool,
        end: bool,
        n_heads: usize,
        bsz: usize,
    ) -> Nav {
        let mut screens = Vec::new();
        if welcome {
            screens.push(Screen::Welcome);
        }
        for (step, shown) in steps.iter().enumerate() {
            for &(stage, _) in shown {
                screens.push(Screen::Stage(Position { step, stage }));
            }
        }
        if end {
            screens.push(Screen::End);
        }
        let mut nav = Nav {
            steps,
            screens,
            current: 0,
            head: 0,
            n_heads: n_heads.max(1),
            batch: 0,
            bsz: bsz.max(1),
            help: false,
            scroll: 0,
            help_scroll: 0,
            reached_end: false,
        };
        nav.note_end();
        nav
    }

    /// The walk a presentation makes over a trace.
    pub fn for_trace<T>(trace: &Trace<T>, pres: &Presentation, end: bool) -> Nav {
        let steps = trace
            .steps
            .iter()
            .map(|st| {
                st.stages
                    .iter()
                    .enumerate()
                    .filter(|(_, sg)| pres.shows(sg.id))
                    .map(|(i, sg)| (i, sg.id))
                    .collect()
            })
            .collect();
        Nav::new(
            steps,
            pres.welcome.is_some(),
            end,
            trace.config.num_attention_heads,
            trace.config.batch,
        )
    }

    pub fn screen(&self) -> Screen {
        self.screens
            .get(self.current)
            .copied()
            .unwrap_or(Screen::End)
    }

    /// True when there is nothing at all to show.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.screens.is_empty()
    }

    #[cfg(test)]
    pub fn screen_count(&self) -> usize {
        self.screens.len()
    }

    pub fn is_last(&self) -> bool {
        self.current + 1 >= self.screens.len()
    }

    /// The stage showing, or the one nearest it: the first stage on the welcome screen, the last
    /// on the end screen. `None` only when no stage is shown at all.
    pub fn position(&self) -> Option<Position> {
        let stage = |s: &Screen| match s {
            Screen::Stage(p) => Some(*p),
            _ => None,
        };
        match self.screen() {
            Screen::Stage(p) => Some(p),
            Screen::Welcome => self.screens.iter().find_map(stage),
            Screen::End => self.screens.iter().rev().find_map(stage),
        }
    }

    /// Where the current stage stands in its step: (1-based number among shown stages, count).
    pub fn stage_number(&self) -> Option<(usize, usize)> {
        let Screen::Stage(p) = self.screen() else {
            return None;
        };
        let shown = &self.steps[p.step];
        let k = shown.iter().position(|&(i, _)| i == p.stage)?;
        Some((k + 1, shown.len()))
    }

    /// Ids of the stages shown in step `step`.
    pub fn shown_ids(&self, step: usize) -> Vec<StageId> {
        self.steps
            .get(step)
            .map(|s| s.iter().map(|&(_, id)| id).collect())
            .unwrap_or_default()
    }

    /// Starts at `pos`, or at the first shown stage after it when it is not shown.
    pub fn start_at(&mut self, pos: Position) {
        let found = self
            .screens
            .iter()
            .position(|s| matches!(s, Screen::Stage(p) if *p >= pos))
            .or_else(|| {
                self.screens
                    .iter()
                    .rposition(|s| matches!(s, Screen::Stage(_)))
            });
        if let Some(i) = found {
            self.go(i);
        }
    }

    /// Sets head and batch row (0-based), clamped to range.
    pub fn set_view(&mut self, head: usize, batch: usize) {
        self.head = head.min(self.n_heads - 1);
        self.batch = batch.min(self.bsz - 1);
    }

    /// The scroll offset of what is showing: the help's while it is open, else the screen's.
    pub fn scroll_mut(&mut self) -> &mut usize {
        if self.help {
            &mut self.help_scroll
        } else {
            &mut self.scroll
        }
    }

    fn go(&mut self, index: usize) {
        if index != self.current {
            self.scroll = 0;
        }
        self.current = index;
        self.help = false;
        self.note_end();
    }

    fn note_end(&mut self) {
        if self.is_last() {
            self.reached_end = true;
        }
    }

    /// The screen index of the shown stage `k` (0-based) of step `step`.
    fn index_of(&self, step: usize, k: usize) -> Option<usize> {
        let &(stage, _) = self.steps.get(step)?.get(k)?;
        self.screens
            .iter()
            .position(|s| *s == Screen::Stage(Position { step, stage }))
    }

    /// The step the user is in: the current stage's, the first on the welcome, the last at the end.
    fn current_step(&self) -> Option<usize> {
        self.position().map(|p| p.step)
    }

    /// Carries out a command. `Quit` is the caller's business and is accepted without effect.
    pub fn apply(&mut self, cmd: &Command) -> Result<(), Refusal> {
        if self.screens.is_empty() {
            return Err("there is nothing to show".into());
        }
        match *cmd {
            Command::Next | Command::PageDown => {
                if self.is_last() {
                    return Err(
                        "this is the end of the walk: q quits, g goes back to the start".into(),
                    );
                }
                self.go(self.current + 1);
            }
            Command::Back | Command::PageUp => {
                if self.current == 0 {
                    return Err("this is the start of the walk: Space or → goes forward".into());
                }
                self.go(self.current - 1);
            }
            Command::First => self.go(0),
            Command::Last => self.go(self.screens.len() - 1),
            Command::Stage(n) => {
                let step = self.current_step().ok_or("there are no stages to go to")?;
                let count = self.steps[step].len();
                let index = n
                    .checked_sub(1)
                    .and_then(|k| self.index_of(step, k))
                    .ok_or_else(|| {
                        format!("no stage {n}: step {} has stages 1 to {count}", step + 1)
                    })?;
                self.go(index);
            }
            Command::StageId(id) => {
                let step = self.current_step().ok_or("there are no stages to go to")?;
                let k = self.steps[step]
                    .iter()
                    .position(|&(_, s)| s == id)
                    .ok_or_else(|| {
                        let ids: Vec<&str> =
                            self.shown_ids(step).iter().map(|s| s.as_str()).collect();
                        format!(
                            "stage '{id}' is not shown in step {}; its stages are: {}",
                            step + 1,
                            ids.join(", ")
                        )
                    })?;
                let index = self.index_of(step, k).expect("shown stage has a screen");
                self.go(index);
            }
            Command::Step(n) => {
                let total = self.steps.len();
                let target = n
                    .checked_sub(1)
                    .filter(|&s| s < total)
                    .ok_or_else(|| format!("no step {n}: this run has steps 1 to {total}"))?;
                if self.steps[target].is_empty() {
                    return Err(format!("step {n} shows no stages"));
                }
                // Stay on the same stage when the other step shows it, so a class can compare
                // the prefill and a decode step side by side.
                let same = match self.screen() {
                    Screen::Stage(p) => {
                        let id = self.steps[p.step]
                            .iter()
                            .find(|&&(i, _)| i == p.stage)
                            .map(|&(_, id)| id);
                        id.and_then(|id| self.steps[target].iter().position(|&(_, s)| s == id))
                    }
                    _ => None,
                };
                let index = self
                    .index_of(target, same.unwrap_or(0))
                    .expect("shown stage has a screen");
                self.go(index);
            }
            Command::NextHead => self.head = (self.head + 1) % self.n_heads,
            Command::PrevHead => self.head = (self.head + self.n_heads - 1) % self.n_heads,
            Command::Head(n) => {
                if n == 0 || n > self.n_heads {
                    return Err(format!(
                        "no head {n}: there are heads 1 to {}",
                        self.n_heads
                    ));
                }
                self.head = n - 1;
            }
            Command::NextBatch => self.batch = (self.batch + 1) % self.bsz,
            Command::Batch(n) => {
                if n == 0 || n > self.bsz {
                    return Err(format!(
                        "no batch row {n}: there are rows 1 to {}",
                        self.bsz
                    ));
                }
                self.batch = n - 1;
            }
            Command::ToggleHelp => {
                self.help = !self.help;
                self.help_scroll = 0;
            }
            // Front ends clamp the offset to what they draw.
            Command::ScrollDown => *self.scroll_mut() = self.scroll_mut().saturating_add(1),
            Command::ScrollUp => *self.scroll_mut() = self.scroll_mut().saturating_sub(1),
            Command::Quit | Command::ToggleDiff => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use StageId::*;

    /// Two steps: the first shows stages 0, 1, 2; the second 0 and 2 (as if stage 1 were
    /// hidden there), with ids that differ per step to exercise lookups.
    fn steps() -> Vec<Vec<(usize, StageId)>> {
        vec![
            vec![(0, Input), (1, Project), (2, Scores)],
            vec![(0, Input), (2, Scores)],
        ]
    }

    fn at(step: usize, stage: usize) -> Screen {
        Screen::Stage(Position { step, stage })
    }

    #[test]
    fn next_and_back_walk_every_screen_in_order() {
        let mut nav = Nav::new(steps(), true, true, 8, 2);
        let order = [
            Screen::Welcome,
            at(0, 0),
            at(0, 1),
            at(0, 2),
            at(1, 0),
            at(1, 2),
            Screen::End,
        ];
        assert_eq!(nav.screen(), order[0]);
        for want in &order[1..] {
            nav.apply(&Command::Next).unwrap();
            assert_eq!(nav.screen(), *want);
        }
        assert!(nav.apply(&Command::Next).is_err(), "nothing after the end");
        assert_eq!(nav.screen(), Screen::End);
        for want in order[..order.len() - 1].iter().rev() {
            nav.apply(&Command::Back).unwrap();
            assert_eq!(nav.screen(), *want);
        }
        assert!(
            nav.apply(&Command::Back).is_err(),
            "nothing before the start"
        );
        assert_eq!(nav.screen(), Screen::Welcome);
    }

    #[test]
    fn paging_commands_move_like_next_and_back() {
        let mut nav = Nav::new(steps(), false, false, 1, 1);
        nav.apply(&Command::PageDown).unwrap();
        assert_eq!(nav.screen(), at(0, 1));
        nav.apply(&Command::PageUp).unwrap();
        assert_eq!(nav.screen(), at(0, 0));
        assert!(nav.apply(&Command::PageUp).is_err());
    }

    #[test]
    fn without_welcome_and_end_the_walk_is_just_the_stages() {
        let mut nav = Nav::new(steps(), false, false, 1, 1);
        assert_eq!(nav.screen_count(), 5);
        assert_eq!(nav.screen(), at(0, 0));
        nav.apply(&Command::Last).unwrap();
        assert_eq!(nav.screen(), at(1, 2));
        assert!(nav.reached_end);
        nav.apply(&Command::First).unwrap();
        assert_eq!(nav.screen(), at(0, 0));
    }

    #[test]
    fn first_and_last_include_welcome_and_end() {
        let mut nav = Nav::new(steps(), true, true, 1, 1);
        nav.apply(&Command::Last).unwrap();
        assert_eq!(nav.screen(), Screen::End);
        assert_eq!(nav.position(), Some(Position { step: 1, stage: 2 }));
        nav.apply(&Command::First).unwrap();
        assert_eq!(nav.screen(), Screen::Welcome);
        assert_eq!(nav.position(), Some(Position { step: 0, stage: 0 }));
    }

    #[test]
    fn stage_numbers_count_the_shown_stages_of_the_step() {
        let mut nav = Nav::new(steps(), false, false, 1, 1);
        assert_eq!(nav.stage_number(), Some((1, 3)));
        nav.apply(&Command::Step(2)).unwrap();
        assert_eq!(nav.screen(), at(1, 0));
        assert_eq!(nav.stage_number(), Some((1, 2)));
        nav.apply(&Command::Next).unwrap();
        // Stage index 2 of step 2 is its second shown stage.
        assert_eq!(nav.stage_number(), Some((2, 2)));
    }

    #[test]
    fn jump_by_number_stays_in_the_current_step_and_checks_bounds() {
        let mut nav = Nav::new(steps(), false, false, 1, 1);
        nav.apply(&Command::Stage(3)).unwrap();
        assert_eq!(nav.screen(), at(0, 2));
        nav.apply(&Command::Step(2)).unwrap();
        nav.apply(&Command::Stage(1)).unwrap();
        assert_eq!(nav.screen(), at(1, 0));
        let err = nav.apply(&Command::Stage(3)).unwrap_err();
        assert_eq!(err, "no stage 3: step 2 has stages 1 to 2");
        assert!(nav.apply(&Command::Stage(0)).is_err());
        assert_eq!(nav.screen(), at(1, 0), "a refused jump does not move");
    }

    #[test]
    fn jump_by_id_finds_the_stage_in_the_current_step() {
        let mut nav = Nav::new(steps(), true, false, 1, 1);
        // From the welcome screen an id means the first step.
        nav.apply(&Command::StageId(Scores)).unwrap();
        assert_eq!(nav.screen(), at(0, 2));
        nav.apply(&Command::Step(2)).unwrap();
        assert_eq!(nav.screen(), at(1, 2), "step jump keeps the stage");
        let err = nav.apply(&Command::StageId(Project)).unwrap_err();
        assert!(err.contains("'project' is not shown in step 2"), "{err}");
        assert!(err.contains("input, scores"), "{err}");
    }

    #[test]
    fn step_jump_falls_back_to_the_first_stage_and_checks_bounds() {
        let mut nav = Nav::new(steps(), false, false, 1, 1);
        nav.apply(&Command::Stage(2)).unwrap(); // project, not shown in step 2
        nav.apply(&Command::Step(2)).unwrap();
        assert_eq!(nav.screen(), at(1, 0));
        assert_eq!(
            nav.apply(&Command::Step(3)).unwrap_err(),
            "no step 3: this run has steps 1 to 2"
        );
        assert!(nav.apply(&Command::Step(0)).is_err());
    }

    #[test]
    fn heads_and_batch_rows_wrap_and_check_bounds() {
        let mut nav = Nav::new(steps(), false, false, 8, 2);
        nav.apply(&Command::PrevHead).unwrap();
        assert_eq!(
            nav.head, 7,
            "previous from the first head wraps to the last"
        );
        nav.apply(&Command::NextHead).unwrap();
        nav.apply(&Command::NextHead).unwrap();
        assert_eq!(nav.head, 1);
        nav.apply(&Command::Head(8)).unwrap();
        assert_eq!(nav.head, 7);
        assert_eq!(
            nav.apply(&Command::Head(9)).unwrap_err(),
            "no head 9: there are heads 1 to 8"
        );
        assert!(nav.apply(&Command::Head(0)).is_err());
        assert_eq!(nav.head, 7);
        nav.apply(&Command::NextBatch).unwrap();
        assert_eq!(nav.batch, 1);
        nav.apply(&Command::NextBatch).unwrap();
        assert_eq!(nav.batch, 0, "batch rows cycle");
        nav.apply(&Command::Batch(2)).unwrap();
        assert_eq!(nav.batch, 1);
        assert!(nav.apply(&Command::Batch(3)).is_err());
        // Head and batch survive moving between stages.
        nav.apply(&Command::Next).unwrap();
        assert_eq!((nav.head, nav.batch), (7, 1));
    }

    #[test]
    fn view_is_clamped_to_the_config() {
        let mut nav = Nav::new(steps(), false, false, 4, 1);
        nav.set_view(9, 3);
        assert_eq!((nav.head, nav.batch), (3, 0));
    }

    #[test]
    fn help_toggles_and_closes_on_a_move() {
        let mut nav = Nav::new(steps(), false, false, 1, 1);
        nav.apply(&Command::ToggleHelp).unwrap();
        assert!(nav.help);
        nav.apply(&Command::ToggleHelp).unwrap();
        assert!(!nav.help);
        nav.apply(&Command::ToggleHelp).unwrap();
        nav.apply(&Command::Next).unwrap();
        assert!(!nav.help);
    }

    #[test]
    fn the_help_scrolls_on_its_own_and_leaves_the_screen_where_it_was() {
        let mut nav = Nav::new(steps(), false, false, 1, 1);
        for _ in 0..3 {
            nav.apply(&Command::ScrollDown).unwrap();
        }
        nav.apply(&Command::ToggleHelp).unwrap();
        assert_eq!(*nav.scroll_mut(), 0, "the help opens at its top");
        nav.apply(&Command::ScrollDown).unwrap();
        assert_eq!((nav.help_scroll, nav.scroll), (1, 3));
        nav.apply(&Command::ToggleHelp).unwrap();
        assert_eq!(
            *nav.scroll_mut(),
            3,
            "closing the help keeps the screen's scroll"
        );
        nav.apply(&Command::ToggleHelp).unwrap();
        assert_eq!(nav.help_scroll, 0, "and the help opens at its top again");
    }

    #[test]
    fn scrolling_resets_on_a_new_screen() {
        let mut nav = Nav::new(steps(), false, false, 1, 1);
        nav.apply(&Command::ScrollUp).unwrap();
        assert_eq!(nav.scroll, 0);
        nav.apply(&Command::ScrollDown).unwrap();
        nav.apply(&Command::ScrollDown).unwrap();
        assert_eq!(nav.scroll, 2);
        nav.apply(&Command::NextHead).unwrap();
        assert_eq!(nav.scroll, 2, "same screen, same scroll");
        nav.apply(&Command::Next).unwrap();
        assert_eq!(nav.scroll, 0);
    }

    #[test]
    fn start_at_skips_to_the_next_shown_stage() {
        let mut nav = Nav::new(steps(), true, true, 1, 1);
        nav.start_at(Position { step: 1, stage: 1 }); // hidden in step 2
        assert_eq!(nav.screen(), at(1, 2));
        nav.start_at(Position { step: 0, stage: 1 });
        assert_eq!(nav.screen(), at(0, 1));
        nav.start_at(Position { step: 9, stage: 0 }); // past the end: the last stage
        assert_eq!(nav.screen(), at(1, 2));
    }

    #[test]
    fn reaching_the_last_screen_is_remembered() {
        let mut nav = Nav::new(steps(), false, true, 1, 1);
        assert!(!nav.reached_end);
        nav.apply(&Command::Last).unwrap();
        nav.apply(&Command::First).unwrap();
        assert!(nav.reached_end);
    }

    #[test]
    fn a_walk_with_nothing_shown_refuses_politely() {
        let mut nav = Nav::new(vec![vec![], vec![]], false, false, 1, 1);
        assert!(nav.is_empty());
        assert!(nav.apply(&Command::Next).is_err());
        assert_eq!(nav.position(), None);
        // With only a welcome there are no stages to jump to.
        let mut nav = Nav::new(vec![vec![]], true, false, 1, 1);
        assert!(nav.apply(&Command::Stage(1)).is_err());
        assert!(nav.apply(&Command::Step(1)).is_err());
    }
}
