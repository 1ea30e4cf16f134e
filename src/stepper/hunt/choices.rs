//! The answers a hunt offers for "which line is wrong", and the letters they are picked by.

use crate::bugs::{Bug, Line};

/// The four lines offered for "which line is wrong": the slip's and three others, in the
/// order they run in MiniMind (so where the answer sits changes from slip to slip).
pub(super) fn choices(bug: Bug) -> [Line; 4] {
    let right = bug.line();
    let others: Vec<Line> = Line::ALL.into_iter().filter(|&l| l != right).collect();
    let start = Bug::ALL.iter().position(|&b| b == bug).unwrap_or(0) * 3;
    let mut four = vec![right];
    four.extend((0..3).map(|i| others[(start + i * 2) % others.len()]));
    four.sort();
    four.dedup();
    let mut k = 0;
    while four.len() < 4 {
        if !four.contains(&others[k]) {
            four.push(others[k]);
        }
        k += 1;
    }
    four.sort();
    [four[0], four[1], four[2], four[3]]
}

pub(super) fn letter(i: usize) -> char {
    (b'a' + i as u8) as char
}
