//! Fuzz target: the whole command line up to the memory guard. The input is argv, arguments
//! separated by NUL bytes (any bytes, so arguments need not be UTF-8). Every command line must
//! resolve or be refused with a printable message; none may panic.
#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use attnstep::commands::dry::resolve_args;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let args: Vec<&[u8]> = data.split(|&b| b == 0).collect();
    // Lesson files are read by path: keep the fuzzer to bundled lessons and the working
    // directory rather than let it read any file on the machine.
    if args.iter().any(|a| a.contains(&b'/')) {
        return;
    }
    let argv: Vec<OsString> = std::iter::once(OsString::from("attnstep"))
        .chain(args.iter().map(|a| OsString::from_vec(a.to_vec())))
        .collect();
    if let Err(e) = resolve_args(&argv) {
        let msg = format!("{e:#}");
        assert!(
            !msg.chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t'),
            "message with a control character: {msg:?}"
        );
    }
});
