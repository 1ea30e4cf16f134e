//! Files and streams read and written safely.
//!
//! - [`read_limited`]: a whole regular file, at most so many bytes. A FIFO, a device such as
//!   `/dev/zero` or a directory is refused before anything is read (a FIFO is opened without
//!   waiting for a writer), so a lesson file or `progress.json` can neither block nor exhaust
//!   memory.
//! - [`replace_atomically`]: a file written to a temporary file in the same directory and
//!   renamed over the target (`tempfile`'s `persist`), so a full disk or a crash leaves the old
//!   file or the new one, never half of one, and two writers never share a temporary name.
//! - [`LineLimit`]: standard input read by lines, each at most so long (`run </dev/zero` must
//!   not grow a line forever).

use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufRead, Read, Write};
use std::path::{Path, PathBuf};

use crate::error::UsageError;
use crate::text::printable_line;

/// Why a file could not be read.
#[derive(Debug)]
pub enum ReadProblem {
    NotFound,
    /// Not a regular file: what it is instead ("a directory", "a FIFO", …).
    NotRegular(&'static str),
    TooLarge {
        limit: u64,
    },
    Io(io::Error),
}

/// A failed read of `path`, which `what` describes ("lesson file", "progress file").
#[derive(Debug)]
pub struct ReadError {
    pub what: &'static str,
    pub path: PathBuf,
    pub problem: ReadProblem,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = printable_line(&self.path.to_string_lossy()).into_owned();
        match &self.problem {
            ReadProblem::NotFound => write!(f, "cannot read {} {path}: no such file", self.what),
            ReadProblem::NotRegular(kind) => write!(
                f,
                "cannot read {} {path}: it is {kind}, not a regular file",
                self.what
            ),
            ReadProblem::TooLarge { limit } => write!(
                f,
                "cannot read {} {path}: it is larger than {}, more than a {} can need",
                self.what,
                crate::memory::human_bytes(u128::from(*limit)),
                self.what
            ),
            ReadProblem::Io(e) => write!(f, "reading {} {path}: {e}", self.what),
        }
    }
}

impl std::error::Error for ReadError {}

/// What a file that is not a regular file is, in words.
fn kind_of(meta: &fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
}

/// Opens `path` for reading without blocking on a FIFO that has no writer.
fn open_for_reading(path: &Path) -> io::Result<File> {
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    options.open(path)
}

/// Reads the regular file at `path` whole, refusing anything else and anything over `limit`
/// bytes.
pub fn read_limited(path: &Path, limit: u64, what: &'static str) -> Result<Vec<u8>, ReadError> {
    let fail = |problem| ReadError {
        what,
        path: path.to_owned(),
        problem,
    };
    let file = open_for_reading(path).map_err(|e| {
        fail(if e.kind() == io::ErrorKind::NotFound {
            ReadProblem::NotFound
        } else {
            ReadProblem::Io(e)
        })
    })?;
    let meta = file.metadata().map_err(|e| fail(ReadProblem::Io(e)))?;
    if !meta.is_file() {
        return Err(fail(ReadProblem::NotRegular(kind_of(&meta))));
    }
    if meta.len() > limit {
        return Err(fail(ReadProblem::TooLarge { limit }));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // The file may grow between the check and the read: read one byte past the limit to see.
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(ReadProblem::Io(e)))?;
    if bytes.len() as u64 > limit {
        return Err(fail(ReadProblem::TooLarge { limit }));
    }
    Ok(bytes)
}

/// Checks that `path` can be replaced by a regular file: its directory exists and it is not a
/// directory, FIFO or device. What is wrong is the user's mistake (a bad `-o`).
pub fn check_writable_target(path: &Path, flag: &str) -> Result<(), UsageError> {
    let shown = printable_line(&path.to_string_lossy()).into_owned();
    if let Ok(meta) = fs::metadata(path)
        && !meta.is_file()
    {
        return Err(UsageError(format!(
            "{flag} {shown}: it is {}; give the path of a regular file to write",
            kind_of(&meta)
        )));
    }
    let dir = parent_dir(path);
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(UsageError(format!(
            "{flag} {shown}: {} is not a directory",
            printable_line(&dir.to_string_lossy())
        ))),
        Err(_) => Err(UsageError(format!(
            "{flag} {shown}: the directory {} does not exist",
            printable_line(&dir.to_string_lossy())
        ))),
    }
}

/// The directory a file at `path` lives in (`.` for a bare name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Writes `path` through `write` into a temporary file beside it, then renames it into place.
/// On any error the temporary file is removed and `path` is left as it was. A directory that
/// refuses new files is reported as a [`UsageError`] inside the `io::Error`.
pub fn replace_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let dir = parent_dir(path);
    let mut builder = tempfile::Builder::new();
    builder.prefix(".attnstep-").suffix(".tmp");
    #[cfg(unix)]
    {
        // As a newly created file would be (the umask applies), not tempfile's private 0600.
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(0o666));
    }
    // A directory the user cannot write in is a bad path, the user's to change (status 2).
    // tempfile's own message ends with the temporary name, which means nothing to the user.
    let tmp = builder.tempfile_in(dir).map_err(|e| {
        let kind = e.kind();
        io::Error::new(
            kind,
            UsageError(format!(
                "cannot create a file in {}: {}",
                printable_line(&dir.to_string_lossy()),
                io::Error::from(kind)
            )),
        )
    })?;
    // Written through the plain `File`, whose errors are the system's own.
    let mut out = io::BufWriter::new(tmp.as_file());
    write(&mut out)?;
    out.flush()?;
    drop(out);
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Standard input (or any reader) read by lines of at most `max` bytes: a longer line is an
/// error instead of a buffer that grows for as long as the input lasts.
pub struct LineLimit<R> {
    inner: R,
    max: usize,
    /// Bytes handed out since the last newline.
    run: usize,
    /// Where the newline is in the slice the last `fill_buf` handed out (it ends there).
    newline_at: Option<usize>,
    name: &'static str,
}

impl<R: BufRead> LineLimit<R> {
    pub fn new(inner: R, max: usize, name: &'static str) -> Self {
        LineLimit {
            inner,
            max,
            run: 0,
            newline_at: None,
            name,
        }
    }
}

impl<R: BufRead> Read for LineLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for LineLimit<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.run > self.max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                UsageError(format!(
                    "reading {}: a line is longer than {} bytes; attnstep reads one short \
                     command per line there (n, b, q, a stage number, a shape)",
                    self.name, self.max
                )),
            ));
        }
        let name = self.name;
        let (max, run) = (self.max, self.run);
        let buf = self.inner.fill_buf().map_err(|e| io_error_on(e, name))?;
        // Hand out up to the first newline, and no more than the limit allows (plus one byte,
        // to notice the overrun on the next call).
        self.newline_at = buf.iter().position(|&b| b == b'\n');
        let allowed = match self.newline_at {
            Some(i) => i + 1,
            None => buf.len().min(max + 1 - run.min(max)),
        };
        Ok(&buf[..allowed])
    }

    fn consume(&mut self, amount: usize) {
        match self.newline_at.take() {
            Some(i) if amount > i => self.run = amount - i - 1,
            _ => self.run += amount,
        }
        self.inner.consume(amount);
    }
}

fn io_error_on(e: io::Error, name: &str) -> io::Error {
    if e.kind() == io::ErrorKind::IsADirectory {
        io::Error::new(
            e.kind(),
            UsageError(format!("reading {name}: it is a directory")),
        )
    } else {
        crate::error::io_context(e, &format!("reading {name}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("attnstep-files-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn reads_small_regular_files_and_refuses_the_rest() {
        let dir = temp("read");
        let f = dir.join("a.toml");
        fs::write(&f, "hello").unwrap();
        assert_eq!(read_limited(&f, 5, "lesson file").unwrap(), b"hello");
        let e = read_limited(&f, 4, "lesson file").unwrap_err();
        assert!(matches!(e.problem, ReadProblem::TooLarge { limit: 4 }));
        let e = read_limited(&dir, 100, "lesson file").unwrap_err();
        assert!(
            e.to_string()
                .ends_with("it is a directory, not a regular file"),
            "{e}"
        );
        let e = read_limited(&dir.join("nope"), 100, "lesson file").unwrap_err();
        assert!(matches!(e.problem, ReadProblem::NotFound));
        #[cfg(unix)]
        {
            let e = read_limited(Path::new("/dev/zero"), 100, "lesson file").unwrap_err();
            assert!(e.to_string().contains("a device"), "{e}");
        }
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn atomic_replacement_keeps_the_old_file_when_writing_fails() {
        let dir = temp("atomic");
        let f = dir.join("out.json");
        fs::write(&f, "old").unwrap();
        let err = replace_atomically(&f, |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("disk full"))
        });
        assert!(err.is_err());
        assert_eq!(fs::read_to_string(&f).unwrap(), "old");
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary file left"
        );
        replace_atomically(&f, |w| w.write_all(b"new")).unwrap();
        assert_eq!(fs::read_to_string(&f).unwrap(), "new");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn writable_targets() {
        let dir = temp("target");
        assert!(check_writable_target(&dir.join("x.json"), "-o").is_ok());
        let e = check_writable_target(&dir, "-o").unwrap_err();
        assert!(e.0.contains("it is a directory"), "{}", e.0);
        let e = check_writable_target(&dir.join("no/x.json"), "-o").unwrap_err();
        assert!(e.0.contains("does not exist"), "{}", e.0);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn lines_are_bounded() {
        let mut ok = LineLimit::new(&b"n\nnext\n"[..], 8, "standard input");
        let mut line = String::new();
        ok.read_line(&mut line).unwrap();
        assert_eq!(line, "n\n");
        line.clear();
        ok.read_line(&mut line).unwrap();
        assert_eq!(line, "next\n");
        let zeros = io::repeat(0).take(1 << 20);
        let mut long = LineLimit::new(io::BufReader::new(zeros), 64, "standard input");
        let mut line = String::new();
        let e = long.read_line(&mut line).unwrap_err();
        assert!(e.to_string().contains("longer than 64 bytes"), "{e}");
        assert!(line.len() <= 65 + 8192);
    }
}
