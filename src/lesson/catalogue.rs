//! The bundled course: the lesson files under `lessons/`, compiled in with `include_str!`, in
//! the order they are meant to be taken, and finding one by name or number.

use crate::error::UsageError;
use crate::lesson::source::{nearest, quoted};

/// A lesson compiled into the binary.
#[derive(Clone, Copy, Debug)]
pub struct Bundled {
    /// Short name used on the command line (`attnstep lesson gqa`) and in the progress store.
    pub name: &'static str,
    /// File name under `lessons/`, shown in error locations.
    pub file: &'static str,
    pub source: &'static str,
}

macro_rules! bundled {
    ($($name:literal => $file:literal),* $(,)?) => {
        &[$(Bundled {
            name: $name,
            file: $file,
            source: include_str!(concat!("../../lessons/", $file)),
        }),*]
    };
}

/// The bundled course, in the order it is meant to be taken.
pub const BUNDLED: &[Bundled] = bundled![
    "tour" => "01-tour.toml",
    "heads" => "02-heads.toml",
    "scores" => "03-scores.toml",
    "causal" => "04-causal.toml",
    "padding" => "05-padding.toml",
    "kv-cache" => "06-kv-cache.toml",
    "chunked-prefill" => "07-chunked-prefill.toml",
    "gqa" => "08-gqa.toml",
    "mqa" => "09-mqa.toml",
    "rope" => "10-rope.toml",
    "minimind2" => "11-minimind2.toml",
    "minimind3" => "12-minimind3.toml",
    "mha-gqa-mqa" => "13-mha-gqa-mqa.toml",
    "trained-heads" => "14-trained-heads.toml",
    "induction" => "15-induction.toml",
    "bug-scale" => "16-bug-scale.toml",
    "bug-softmax" => "17-bug-softmax.toml",
    "bug-causal" => "18-bug-causal.toml",
    "bug-rope" => "19-bug-rope.toml",
    "bug-repeat-kv" => "20-bug-repeat-kv.toml",
    "bug-view" => "21-bug-view.toml",
];

/// The course's sections, each named by its first lesson, with the heading `attnstep lessons`
/// prints above it.
pub const SECTIONS: &[(&str, &str)] = &[
    (
        "tour",
        "The course: thirteen lessons, from the first query to MiniMind's real attention.",
    ),
    (
        "trained-heads",
        "Trained attention: two lessons on a small trained MiniMind, whose heads have learnt \
         where to look.",
    ),
    (
        "bug-scale",
        "Debugging attention: six bug hunts, each a classic slip planted in the forward pass.",
    ),
];

/// The heading of the section that starts with the bundled lesson `name`, if one does.
pub fn section_starting_at(name: &str) -> Option<&'static str> {
    SECTIONS
        .iter()
        .find(|(first, _)| *first == name)
        .map(|(_, h)| *h)
}

/// Finds a bundled lesson by name (`gqa`, `kv_cache`, `08-gqa`) or number (`8`); the number
/// returned is 1-based.
pub fn find_bundled(name: &str) -> Option<(usize, &'static Bundled)> {
    let key = normalise(name);
    if let Ok(n) = key.parse::<usize>() {
        return (1..=BUNDLED.len())
            .contains(&n)
            .then(|| (n, &BUNDLED[n - 1]));
    }
    BUNDLED.iter().enumerate().find_map(|(i, b)| {
        let stem = b.file.trim_end_matches(".toml");
        (normalise(b.name) == key || normalise(stem) == key).then_some((i + 1, b))
    })
}

fn normalise(s: &str) -> String {
    s.trim().to_ascii_lowercase().replace('_', "-")
}

/// The error for a name that is no bundled lesson (`also_file`: nor a file on disk).
pub fn unknown_lesson(arg: &str, also_file: bool) -> UsageError {
    let names: Vec<&str> = BUNDLED.iter().map(|b| b.name).collect();
    let near = nearest(arg, &names)
        .map(|n| format!(" Did you mean \"{n}\"?"))
        .unwrap_or_default();
    let list = BUNDLED
        .iter()
        .enumerate()
        .map(|(i, b)| format!("{} {}", i + 1, b.name))
        .collect::<Vec<_>>()
        .join(", ");
    let (nor_file, or_path) = if also_file {
        (" and there is no such file", ", or a path to a .toml file")
    } else {
        ("", "")
    };
    UsageError(format!(
        "no bundled lesson is called {}{nor_file}.{near} The bundled lessons are: {list}. \
         Give a name or a number{or_path}.",
        quoted(arg)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_bundled_by_name_number_or_stem() {
        assert_eq!(find_bundled("gqa").unwrap().0, 8);
        assert_eq!(find_bundled("8").unwrap().1.name, "gqa");
        assert_eq!(find_bundled("kv_cache").unwrap().0, 6);
        assert_eq!(find_bundled("01-tour").unwrap().1.name, "tour");
        assert_eq!(find_bundled("13").unwrap().1.name, "mha-gqa-mqa");
        assert_eq!(find_bundled("14").unwrap().1.name, "trained-heads");
        assert_eq!(find_bundled("15").unwrap().1.name, "induction");
        assert_eq!(find_bundled("16").unwrap().1.name, "bug-scale");
        assert!(find_bundled("22").is_none());
        assert!(find_bundled("0").is_none());
        assert!(find_bundled("attention").is_none());
    }

    #[test]
    fn files_are_numbered_in_course_order() {
        for (i, b) in BUNDLED.iter().enumerate() {
            assert!(b.file.starts_with(&format!("{:02}-", i + 1)), "{}", b.file);
        }
    }

    #[test]
    fn every_section_starts_at_a_bundled_lesson_and_the_first_at_lesson_1() {
        assert_eq!(SECTIONS[0].0, BUNDLED[0].name);
        for (first, _) in SECTIONS {
            assert!(find_bundled(first).is_some(), "{first}");
        }
    }

    #[test]
    fn an_unknown_name_is_quoted_safely() {
        let e = unknown_lesson("-x\x1b[2J", true);
        assert!(
            e.0.starts_with("no bundled lesson is called \"-x\\u{1b}[2J\""),
            "{}",
            e.0
        );
    }
}
