//! The navigation state machine of the stepper: which screen is showing (welcome, one stage of
//! one step, the end), which head and batch row the matrices show, and whether the help is open.
//!
//! It knows nothing about terminals or keys: front ends turn keys or typed lines into
//! [`Command`]s and ask [`Nav::apply`] to carry them out, so every rule here is tested directly.
//!
//! One numbering everywhere: a stage's number is its place among all the stages of its step,
//! from 1, as the stage banner, the status line (`stage 9/14`), `--stage 9` and the resume
//! prompt count it; a lesson that shows only some stages skips numbers rather than renumbering,
//! and typing the number of a stage it leaves out says so. Heads and batch rows are PyTorch's
//! 0-based indices, as in the tables (`h=1`) and `--head 1`.

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
    /// Stage `n` (1-based) of the current step, counting every stage of the step.
    Stage(usize),
    /// A stage by id, in the current step.
    StageId(StageId),
    /// Step `n` (1-based), at the same stage if that step shows it.
    Step(usize),
    NextHead,
    PrevHead,
    /// Head `n` (0-based).
    Head(usize),
    NextBatch,
    /// Batch row `n` (0-based).
    Batch(usize),
    /// The next variant of a lesson that has several (the walk carries it out).
    NextVariant,
    /// The variant with this name.
    Variant(String),
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
    /// For each step, how many stages it has in all (shown or not).
    totals: Vec<usize>,
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
    /// 0. A step is taken to have stages up to its last shown one, unless [`Nav::with_totals`]
    /// says how many it has.
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
        let totals = steps
            .iter()
            .map(|s| s.iter().map(|&(i, _)| i + 1).max().unwrap_or(0))
            .collect();
        let mut nav = Nav {
            steps,
            totals,
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

    /// The walk a presentation makes over a trace, with a welcome and an end screen when asked.
    pub fn for_trace<T>(trace: &Trace<T>, pres: &Presentation, welcome: bool, end: bool) -> Nav {
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
            welcome,
            end,
            trace.config.num_attention_heads,
            trace.config.batch,
        )
        .with_totals(trace.steps.iter().map(|s| s.stages.len()).collect())
    }

    /// How many stages each step has in all (for numbering and for refusing a hidden one).
    pub fn with_totals(mut self, totals: Vec<usize>) -> Nav {
        self.totals = totals;
        self
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

    /// Where the current stage stands in its step: (its 1-based number among all the step's
    /// stages, how many there are), as the stage banner counts.
    pub fn stage_number(&self) -> Option<(usize, usize)> {
        let Screen::Stage(p) = self.screen() else {
            return None;
        };
        Some((p.stage + 1, self.totals.get(p.step).copied().unwrap_or(0)))
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

    /// Goes to step `n` (1-based), at the same stage when that step shows it, so a class can
    /// compare the prefill and a decode step side by side.
    fn go_to_step(&mut self, n: usize) -> Result<(), Refusal> {
        let total = self.steps.len();
        let target = n
            .checked_sub(1)
            .filter(|&s| s < total)
            .ok_or_else(|| format!("no step {n}: this run has steps 1 to {total}"))?;
        if self.steps[target].is_empty() {
            return Err(format!("step {n} shows no stages"));
        }
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
        Ok(())
    }

    /// The screen of stage number `n` (1-based among all the step's stages), or why not.
    fn stage_index(&self, step: usize, n: usize) -> Result<usize, Refusal> {
        let total = self.totals.get(step).copied().unwrap_or(0);
        if n == 0 || n > total {
            return Err(format!(
                "no stage {n}: step {} has stages 1 to {total}",
                step + 1
            ));
        }
        let k = self.steps[step].iter().position(|&(i, _)| i == n - 1);
        k.and_then(|k| self.index_of(step, k)).ok_or_else(|| {
            let shown: Vec<String> = self.steps[step]
                .iter()
                .map(|&(i, id)| format!("{} {id}", i + 1))
                .collect();
            format!(
                "stage {n} is not part of this walk; step {} shows: {}",
                step + 1,
                shown.join(", ")
            )
        })
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
                let index = self.stage_index(step, n)?;
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
            Command::Step(n) => self.go_to_step(n)?,
            Command::NextHead => self.head = (self.head + 1) % self.n_heads,
            Command::PrevHead => self.head = (self.head + self.n_heads - 1) % self.n_heads,
            Command::Head(n) => {
                if n >= self.n_heads {
                    return Err(format!(
                        "no head {n}: the heads are 0 to {}",
                        self.n_heads - 1
                    ));
                }
                self.head = n;
            }
            Command::NextBatch => self.batch = (self.batch + 1) % self.bsz,
            Command::Batch(n) => {
                if n >= self.bsz {
                    return Err(format!(
                        "no batch row {n}: the rows are 0 to {}",
                        self.bsz - 1
                    ));
                }
                self.batch = n;
            }
            Command::NextVariant | Command::Variant(_) => {
                return Err("this walk has no variants to switch between".into());
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
mod tests;
