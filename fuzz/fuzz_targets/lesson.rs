//! Fuzz target: the lesson parser. Any bytes, as a lesson file's contents, must give a lesson
//! or a located usage error; neither may carry a control character to the terminal.
#![no_main]

use attnstep::lesson::format::parse;
use attnstep::lesson::source::Source;
use libfuzzer_sys::fuzz_target;

/// Newlines and tabs are layout; any other control character would reach the terminal.
fn safe(text: &str) -> bool {
    !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
}

fuzz_target!(|data: &[u8]| {
    let result = Source::from_bytes("fuzz.toml", data).and_then(parse);
    match result {
        Ok(lesson) => {
            // Notes and hints are shown through the stepper, which may template them; the
            // texts the lesson itself keeps are checked here.
            let texts = [
                Some(&lesson.title),
                Some(&lesson.summary),
                lesson.covers.as_ref(),
            ];
            for t in texts.into_iter().flatten() {
                assert!(safe(t), "lesson text with a control character: {t:?}");
            }
            if let Some(tokens) = &lesson.spec.tokens {
                assert!(
                    safe(tokens),
                    "token labels with a control character: {tokens:?}"
                );
            }
        }
        Err(e) => {
            assert!(e.0.starts_with("fuzz.toml:"), "unlocated error: {}", e.0);
            assert!(safe(&e.0), "message with a control character: {:?}", e.0);
        }
    }
});
