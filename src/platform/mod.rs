//! What differs between the systems dcd runs on, in one place: [`unix`] (Linux, macOS) and
//! [`windows`] implement the same small set of functions, and everything else in dcd is the
//! same code on every platform (docs/building.md, "Every platform"). Nothing here knows dcd:
//! it adapts the operating system, and the layers above decide what to do with it.
//!
//! - the terminal: its size, and switching a Windows console to the VT sequences dcd draws with;
//! - stop requests: SIGINT, SIGTERM and SIGHUP, or Ctrl-C, Ctrl-Break and a closed console;
//! - files: opening for reading without blocking on a FIFO, what a non-regular file is, the
//!   Unix permission bits (Windows has none to set), a file's identity, symbolic links;
//! - the user's home directory, the program that opens a URL in a browser, and the
//!   certificates the system trusts beyond the files dcd reads itself.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as os;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as os;

pub use os::{
    FileId, UNTRUSTED_CA_ADVICE, enable_vt, file_id, file_mode, home_dir, non_regular_kind,
    open_browser, open_read, private_dir, set_create_mode, symlink, system_roots, terminal_size,
    watch_stops, zip_mode,
};

/// An output stream of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// What the operating system asked the process to stop for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopRequest {
    /// SIGINT; Ctrl-C in a Windows console.
    Interrupt,
    /// SIGTERM; Ctrl-Break in a Windows console (what CI runners send to end a job there).
    Terminate,
    /// SIGHUP; the Windows console closed, the user logging off, the system shutting down.
    Hangup,
}
