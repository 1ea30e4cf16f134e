//! The navigation rules without a terminal.

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
fn stage_numbers_count_every_stage_of_the_step() {
    let mut nav = Nav::new(steps(), false, false, 1, 1);
    assert_eq!(nav.stage_number(), Some((1, 3)));
    nav.apply(&Command::Step(2)).unwrap();
    assert_eq!(nav.screen(), at(1, 0));
    assert_eq!(nav.stage_number(), Some((1, 3)));
    nav.apply(&Command::Next).unwrap();
    // Stage index 2 of step 2 is its third stage, though only its second shown one.
    assert_eq!(nav.stage_number(), Some((3, 3)));
    // A trace says how many stages a step has beyond the last shown one.
    let nav = Nav::new(steps(), false, false, 1, 1).with_totals(vec![14, 14]);
    assert_eq!(nav.stage_number(), Some((1, 14)));
}

#[test]
fn jump_by_number_follows_the_shown_numbers_and_checks_bounds() {
    let mut nav = Nav::new(steps(), false, false, 1, 1);
    nav.apply(&Command::Stage(3)).unwrap();
    assert_eq!(nav.screen(), at(0, 2));
    nav.apply(&Command::Step(2)).unwrap();
    nav.apply(&Command::Stage(1)).unwrap();
    assert_eq!(nav.screen(), at(1, 0));
    nav.apply(&Command::Stage(3)).unwrap();
    assert_eq!(nav.screen(), at(1, 2), "stage 3 keeps its number in step 2");
    let err = nav.apply(&Command::Stage(2)).unwrap_err();
    assert_eq!(
        err,
        "stage 2 is not part of this walk; step 2 shows: 1 input, 3 scores"
    );
    let err = nav.apply(&Command::Stage(4)).unwrap_err();
    assert_eq!(err, "no stage 4: step 2 has stages 1 to 3");
    assert!(nav.apply(&Command::Stage(0)).is_err());
    assert_eq!(nav.screen(), at(1, 2), "a refused jump does not move");
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
    nav.apply(&Command::Head(7)).unwrap();
    assert_eq!(nav.head, 7, "heads are 0-based, as in the tables");
    assert_eq!(
        nav.apply(&Command::Head(8)).unwrap_err(),
        "no head 8: the heads are 0 to 7"
    );
    nav.apply(&Command::Head(0)).unwrap();
    assert_eq!(nav.head, 0);
    nav.apply(&Command::Head(7)).unwrap();
    nav.apply(&Command::NextBatch).unwrap();
    assert_eq!(nav.batch, 1);
    nav.apply(&Command::NextBatch).unwrap();
    assert_eq!(nav.batch, 0, "batch rows cycle");
    nav.apply(&Command::Batch(1)).unwrap();
    assert_eq!(nav.batch, 1);
    assert_eq!(
        nav.apply(&Command::Batch(2)).unwrap_err(),
        "no batch row 2: the rows are 0 to 1"
    );
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
