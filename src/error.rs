//! The kinds of failure the binary tells apart, and the exit status of each.
//!
//! - [`UsageError`]: a mistake in what the user asked for (a flag, a lesson file, a path, what
//!   is on standard input): status 2.
//! - A write to a closed pipe (`attnstep run | head`): status 0, nothing printed.
//! - Anything else (a full disk, a read error): status 1. Every I/O error names the file or
//!   stream it happened on ([`Labelled`], [`io_context`]).

use std::io::{self, Write};

/// A mistake in what the user asked for: reported with exit status 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The exit status for an error: 2 for bad input, 0 for a closed pipe, 1 otherwise.
pub fn exit_status(err: &anyhow::Error) -> u8 {
    if is_broken_pipe(err) {
        0
    } else if is_usage(err) {
        2
    } else {
        1
    }
}

/// True when the error is the user's mistake, also when it travelled inside an `io::Error`
/// (the stepper reads standard input through `io::BufRead`, which can only return those).
fn is_usage(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.is::<UsageError>()
            || e.downcast_ref::<io::Error>()
                .and_then(|io| io.get_ref())
                .is_some_and(|inner| inner.is::<UsageError>())
    })
}

/// True when the error is a write to a closed pipe.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            || e.downcast_ref::<serde_json::Error>()
                .and_then(|j| j.io_error_kind())
                .is_some_and(|k| k == io::ErrorKind::BrokenPipe)
    })
}

/// `err` with `what` in front (`writing to stdout: No space left on device`), same kind.
pub fn io_context(err: io::Error, what: &str) -> io::Error {
    io::Error::new(err.kind(), format!("{what}: {err}"))
}

/// A writer whose errors say what it writes to: `writing to stdout: …`.
pub struct Labelled<W> {
    inner: W,
    name: &'static str,
}

impl<W: Write> Labelled<W> {
    pub fn new(inner: W, name: &'static str) -> Self {
        Labelled { inner, name }
    }
}

impl<W: Write> Write for Labelled<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner
            .write(buf)
            .map_err(|e| io_context(e, &format!("writing to {}", self.name)))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner
            .flush()
            .map_err(|e| io_context(e, &format!("writing to {}", self.name)))
    }
}

/// Standard output, buffered, with errors that name it.
pub fn stdout() -> io::BufWriter<Labelled<io::StdoutLock<'static>>> {
    io::BufWriter::new(Labelled::new(io::stdout().lock(), "stdout"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        let usage: anyhow::Error = UsageError("bad".into()).into();
        assert_eq!(exit_status(&usage), 2);
        let wrapped: anyhow::Error =
            io::Error::new(io::ErrorKind::InvalidData, UsageError("long line".into())).into();
        assert_eq!(exit_status(&wrapped), 2);
        let pipe: anyhow::Error = io::Error::from(io::ErrorKind::BrokenPipe).into();
        assert_eq!(exit_status(&pipe), 0);
        let full: anyhow::Error = io::Error::other("disk full").into();
        assert_eq!(exit_status(&full), 1);
    }

    #[test]
    fn labelled_errors_name_the_stream_and_keep_the_kind() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(
                    io::ErrorKind::StorageFull,
                    "No space left on device",
                ))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let e = Labelled::new(Full, "stdout").write_all(b"x").unwrap_err();
        assert_eq!(e.to_string(), "writing to stdout: No space left on device");
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
    }
}
