//! The terminal while the stepper owns it: raw mode, the alternate screen and a hidden cursor,
//! given back on every way out, handed to the shell for a suspend and taken again on resume;
//! and the wait for the next key, which also notices a terminal that hung up.
//!
//! Ways out, and who gives the terminal back:
//!
//! - `q`, Esc, Ctrl-C (a key in raw mode), an error, the terminal hanging up: the [`Session`]
//!   guard, dropped by the loop.
//! - A panic: a panic hook, before the message is printed, so the message is readable.
//! - SIGINT, SIGTERM, SIGHUP (Unix): the loop sees the signal within one input slice (100 ms),
//!   ends the walk and gives the terminal back; then the process dies of that same signal (the
//!   default action, re-raised), so a shell reports 130, 143 or 129, and a script running
//!   attnstep stops as it would for any program. If the loop is busy and has not given the
//!   terminal back within [`GRACE`], the signal thread does it and ends the process the same way;
//!   a second such signal does so at once.
//!
//! Suspend (Unix): Ctrl-Z (a key in raw mode) and SIGTSTP give the terminal back and stop the
//! process; SIGCONT, after any stop (also an uncatchable SIGSTOP), takes the terminal again —
//! raw mode re-applied, since the shell may have reset it — and the loop redraws.
//!
//! Outside a walk these signals keep their default actions.

use std::io;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

use crossterm::event::{self, Event};
use crossterm::style::{Attribute, SetAttribute};
use crossterm::{cursor, queue, terminal};

/// How long the signal thread lets a busy loop take to give the terminal back after SIGINT,
/// SIGTERM or SIGHUP before it does so itself.
pub const GRACE: Duration = Duration::from_millis(500);

/// Raw mode and the alternate screen are on, and ours to give back.
static OWNED: AtomicBool = AtomicBool::new(false);
/// A walk is running: the signals below are the loop's business, not their defaults.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The terminating signal received during the walk, or 0.
static QUIT: AtomicI32 = AtomicI32::new(0);
/// SIGTSTP arrived: suspend.
static STOP: AtomicBool = AtomicBool::new(false);
/// SIGCONT arrived: take the terminal again and redraw.
static CONT: AtomicBool = AtomicBool::new(false);
static SETUP: Once = Once::new();

/// Writes straight to standard output's file descriptor. The panic hook and the signal thread
/// restore the terminal while the main thread may hold the lock on `io::stdout()` (the app
/// writes through a locked, buffered stdout for the whole run); going through the lock would
/// wait forever from another thread.
#[cfg(unix)]
fn write_raw(bytes: &[u8]) {
    let fd = rustix::stdio::stdout();
    let mut rest = bytes;
    while !rest.is_empty() {
        match rustix::io::write(fd, rest) {
            Ok(0) => break,
            Ok(n) => rest = &rest[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => break,
        }
    }
}

#[cfg(not(unix))]
fn write_raw(bytes: &[u8]) {
    use std::io::Write;
    let mut out = io::stdout();
    let _ = out.write_all(bytes);
    let _ = out.flush();
}

/// Turns raw mode on, switches to the alternate screen and hides the cursor.
fn take() -> io::Result<()> {
    terminal::enable_raw_mode()?;
    OWNED.store(true, Ordering::SeqCst);
    let mut seq = Vec::new();
    queue!(seq, terminal::EnterAlternateScreen, cursor::Hide)?;
    write_raw(&seq);
    Ok(())
}

/// Puts the terminal back: attributes reset, cursor shown, main screen, cooked mode. Does
/// nothing if it is not ours, so every way out can call it.
pub fn give_back() {
    if OWNED.swap(false, Ordering::SeqCst) {
        let mut seq = Vec::new();
        let _ = queue!(
            seq,
            SetAttribute(Attribute::Reset),
            cursor::Show,
            terminal::LeaveAlternateScreen
        );
        write_raw(&seq);
        let _ = terminal::disable_raw_mode();
    }
}

/// Ends the process as `signal` would have: by its default action, re-raised (Unix), else
/// with status 128 + the signal's number.
pub fn die_of(signal: i32) -> ! {
    #[cfg(unix)]
    {
        let _ = signal_hook::low_level::emulate_default_handler(signal);
    }
    std::process::exit(128 + signal)
}

/// What a signal asks of the loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// SIGINT, SIGTERM or SIGHUP (the number): end the walk, then [`die_of`] it.
    Quit(i32),
    /// SIGTSTP: [`Session::suspend`].
    Suspend,
    /// SIGCONT: [`Session::resume`] and redraw.
    Resume,
}

/// The terminal, owned by the stepper for as long as this lives.
pub struct Session {
    _private: (),
}

impl Session {
    /// Takes the terminal (raw mode, alternate screen, hidden cursor).
    pub fn start() -> io::Result<Session> {
        SETUP.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                give_back();
                previous(info);
            }));
            #[cfg(unix)]
            signals::listen();
        });
        QUIT.store(0, Ordering::SeqCst);
        STOP.store(false, Ordering::SeqCst);
        CONT.store(false, Ordering::SeqCst);
        ACTIVE.store(true, Ordering::SeqCst);
        let session = Session { _private: () };
        take()?;
        Ok(session)
    }

    /// The most urgent thing a signal asked for since the last call, if any.
    pub fn request(&self) -> Option<Request> {
        match QUIT.load(Ordering::SeqCst) {
            0 => {}
            sig => return Some(Request::Quit(sig)),
        }
        if STOP.swap(false, Ordering::SeqCst) {
            Some(Request::Suspend)
        } else if CONT.swap(false, Ordering::SeqCst) {
            Some(Request::Resume)
        } else {
            None
        }
    }

    /// Gives the terminal back and stops the process as SIGTSTP's default would; once it is
    /// continued, takes the terminal again. On systems without job control, does nothing.
    pub fn suspend(&self) -> io::Result<()> {
        #[cfg(unix)]
        {
            give_back();
            // Stops here until SIGCONT (signal-hook raises SIGSTOP, which cannot be caught).
            let _ = signal_hook::low_level::emulate_default_handler(signal_hook::consts::SIGTSTP);
            self.resume()?;
        }
        Ok(())
    }

    /// Takes the terminal again after the process was stopped and continued.
    pub fn resume(&self) -> io::Result<()> {
        CONT.store(false, Ordering::SeqCst);
        // The shell may have put the terminal back in cooked mode while the process was stopped,
        // and crossterm applies raw mode only when it believes it is off: turn it off first.
        if OWNED.swap(false, Ordering::SeqCst) {
            let _ = terminal::disable_raw_mode();
        }
        take()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        give_back();
        ACTIVE.store(false, Ordering::SeqCst);
    }
}

/// What the terminal had for the loop.
#[derive(Debug)]
pub enum Input {
    Event(Event),
    /// Nothing within the wait.
    Idle,
    /// The terminal hung up or cannot be read: nobody is there any more.
    Gone,
}

/// Waits up to `wait` for the next key or resize.
///
/// crossterm reads the terminal level-triggered here (its `use-dev-tty` source: poll(2), not
/// mio's edge-triggered epoll, which left the rest of a paste longer than 1 KiB in the kernel
/// until another key arrived). That source reads nothing with a zero timeout, so the wait is
/// at least a millisecond. A hung-up terminal is checked first: reading it would only return
/// end-of-file or an error for ever.
pub fn next_input(wait: Duration) -> Input {
    if hung_up() {
        return Input::Gone;
    }
    match event::poll(wait.max(Duration::from_millis(1))) {
        Ok(true) => match event::read() {
            Ok(e) => Input::Event(e),
            Err(_) => Input::Gone,
        },
        Ok(false) => Input::Idle,
        Err(_) => Input::Gone,
    }
}

/// True when standard input (the terminal crossterm reads) has hung up or is no longer open.
#[cfg(unix)]
fn hung_up() -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let stdin = rustix::stdio::stdin();
    let mut fds = [PollFd::new(&stdin, PollFlags::IN)];
    let now = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    match poll(&mut fds, Some(&now)) {
        Ok(0) | Err(rustix::io::Errno::INTR) => false,
        Ok(_) => fds[0]
            .revents()
            .intersects(PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL),
        Err(_) => true,
    }
}

#[cfg(not(unix))]
fn hung_up() -> bool {
    false
}

/// The signal thread (Unix).
#[cfg(unix)]
mod signals {
    use std::sync::atomic::Ordering;
    use std::time::Instant;

    use signal_hook::consts::{SIGCONT, SIGHUP, SIGINT, SIGTERM, SIGTSTP};
    use signal_hook::iterator::Signals;
    use signal_hook::low_level::emulate_default_handler;

    use super::{ACTIVE, CONT, GRACE, OWNED, QUIT, STOP, die_of, give_back};

    /// Starts the thread that turns signals into requests for the loop. Once started, it stays
    /// for the life of the process and gives the signals their default actions outside a walk.
    pub fn listen() {
        let Ok(mut signals) = Signals::new([SIGINT, SIGTERM, SIGHUP, SIGTSTP, SIGCONT]) else {
            return;
        };
        let _ = std::thread::Builder::new()
            .name("attnstep-signals".into())
            .spawn(move || {
                for sig in signals.forever() {
                    if !ACTIVE.load(Ordering::SeqCst) {
                        if sig != SIGCONT {
                            let _ = emulate_default_handler(sig);
                        }
                        continue;
                    }
                    match sig {
                        SIGTSTP => STOP.store(true, Ordering::SeqCst),
                        SIGCONT => CONT.store(true, Ordering::SeqCst),
                        _ if QUIT
                            .compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst)
                            .is_ok() =>
                        {
                            watch(sig)
                        }
                        // A second terminating signal: the user means it.
                        _ => {
                            give_back();
                            die_of(sig);
                        }
                    }
                }
            });
    }

    /// Gives the loop [`GRACE`] to notice `sig` and give the terminal back; if it has not (it
    /// is busy), restores the terminal from here and ends the process.
    fn watch(sig: i32) {
        let deadline = Instant::now() + GRACE;
        while OWNED.load(Ordering::SeqCst) && Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        if OWNED.load(Ordering::SeqCst) {
            give_back();
            die_of(sig);
        }
    }
}
