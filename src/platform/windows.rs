//! The Windows side of [`super`].
//!
//! The console is asked through its API (size, VT mode, control events); files have no Unix
//! permission bits, FIFOs or devices a path can name, so those parts are plain.

use super::{StopRequest, Stream};
use std::fs::{DirBuilder, File, Metadata, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use windows_sys::Win32::Foundation::{HANDLE, INVALID_HANDLE_VALUE};
use windows_sys::Win32::System::Console::{
    CONSOLE_SCREEN_BUFFER_INFO, CTRL_BREAK_EVENT, CTRL_C_EVENT, ENABLE_VIRTUAL_TERMINAL_PROCESSING,
    GetConsoleMode, GetConsoleScreenBufferInfo, GetStdHandle, STD_ERROR_HANDLE, STD_OUTPUT_HANDLE,
    SetConsoleCtrlHandler, SetConsoleMode,
};

fn handle(stream: Stream) -> Option<HANDLE> {
    let which = match stream {
        Stream::Stdout => STD_OUTPUT_HANDLE,
        Stream::Stderr => STD_ERROR_HANDLE,
    };
    // SAFETY: GetStdHandle only reads the process's standard handle table.
    let h = unsafe { GetStdHandle(which) };
    (!h.is_null() && h != INVALID_HANDLE_VALUE).then_some(h)
}

/// Columns and rows of the console window on `stream`, if it is a console.
pub fn terminal_size(stream: Stream) -> Option<(usize, usize)> {
    let h = handle(stream)?;
    // SAFETY: an all-zero CONSOLE_SCREEN_BUFFER_INFO is valid; the call fills the one we own.
    let mut info: CONSOLE_SCREEN_BUFFER_INFO = unsafe { std::mem::zeroed() };
    // SAFETY: `h` is this process's handle; `info` is ours to fill.
    if unsafe { GetConsoleScreenBufferInfo(h, &mut info) } == 0 {
        return None;
    }
    let w = info.srWindow;
    let cols = i32::from(w.Right) - i32::from(w.Left) + 1;
    let rows = i32::from(w.Bottom) - i32::from(w.Top) + 1;
    (cols > 0).then_some((cols as usize, rows.max(1) as usize))
}

/// Switches the console on `stream` to VT processing (colour and cursor sequences), as
/// Windows 10 and later consoles and Windows Terminal support; false when it is no console or
/// the console cannot (then dcd writes the plain log form).
pub fn enable_vt(stream: Stream) -> bool {
    let Some(h) = handle(stream) else {
        return false;
    };
    let mut mode = 0;
    // SAFETY: `h` is this process's handle; `mode` is ours to fill.
    if unsafe { GetConsoleMode(h, &mut mode) } == 0 {
        return false;
    }
    if mode & ENABLE_VIRTUAL_TERMINAL_PROCESSING != 0 {
        return true;
    }
    // SAFETY: as above; only the console's mode changes.
    unsafe { SetConsoleMode(h, mode | ENABLE_VIRTUAL_TERMINAL_PROCESSING) != 0 }
}

/// The callback of [`watch_stops`]: the console calls [`on_ctrl`] on a thread of its own.
static ON_STOP: OnceLock<Box<dyn Fn(StopRequest) + Send + Sync>> = OnceLock::new();

/// How long a closed console waits for the process to end by itself before Windows ends it
/// (Windows allows about 5 s).
const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_millis(4500);

unsafe extern "system" fn on_ctrl(event: u32) -> windows_sys::core::BOOL {
    let stop = match event {
        CTRL_C_EVENT => StopRequest::Interrupt,
        CTRL_BREAK_EVENT => StopRequest::Terminate,
        _ => StopRequest::Hangup,
    };
    if let Some(on) = ON_STOP.get() {
        on(stop);
    }
    if stop == StopRequest::Hangup {
        // Returning lets Windows end the process at once: give dcd's own exit path (the
        // re-attach hint, its exit code, the temporary files) the time it needs first.
        std::thread::sleep(CLOSE_GRACE);
    }
    1
}

/// Calls `on` for every Ctrl-C (an interrupt), Ctrl-Break (a terminate) and console close,
/// log-off or shutdown (a hangup). False when the handler cannot be installed.
pub fn watch_stops(on: impl Fn(StopRequest) + Send + 'static) -> bool {
    let on = std::sync::Mutex::new(on);
    if ON_STOP
        .set(Box::new(move |s| {
            if let Ok(f) = on.lock() {
                f(s);
            }
        }))
        .is_err()
    {
        return false;
    }
    // SAFETY: `on_ctrl` is a plain function that lives as long as the process.
    unsafe { SetConsoleCtrlHandler(Some(on_ctrl), 1) != 0 }
}

/// Opens `path` for reading. Windows has no FIFO a path can name (pipes live under
/// `\\.\pipe\`, which is no regular file and is refused by its type). With `follow_links`
/// false, a symbolic link is not followed: `Ok(None)`, as for a directory.
pub fn open_read(path: &Path, follow_links: bool) -> io::Result<Option<File>> {
    if !follow_links && std::fs::symlink_metadata(path)?.file_type().is_symlink() {
        return Ok(None);
    }
    // A directory cannot be opened as a file here (access denied): it is no file to read.
    if std::fs::metadata(path)?.is_dir() {
        return Ok(None);
    }
    OpenOptions::new().read(true).open(path).map(Some)
}

/// Nothing on Windows is a FIFO, socket or device by path.
pub fn non_regular_kind(_m: &Metadata) -> Option<&'static str> {
    None
}

/// Windows keeps no Unix permission bits: files are created as the directory's ACL says.
pub fn set_create_mode(o: &mut OpenOptions, _mode: u32) -> &mut OpenOptions {
    o
}

/// A directory under the user's profile is private by its ACL already.
pub fn private_dir(b: &mut DirBuilder) -> &mut DirBuilder {
    b
}

/// Windows keeps no Unix permission bits.
pub fn file_mode(_m: &Metadata) -> Option<u32> {
    None
}

/// The permission bits a file of an app bundle is zipped with: `rwxr-xr-x` for every file,
/// as Windows keeps no execute bit and an app's executables must stay executable (data
/// files gain an execute bit they do not use).
pub fn zip_mode(_m: &Metadata) -> u32 {
    0o100_755
}

/// What tells files apart (the volume and file index are not in stable std): when the file
/// was created, and its canonical path. The creation time comes with the file, so the
/// metadata of an open file and of whatever is at its path now agree only while it is the
/// same file; the path tells two files created at once apart.
pub type FileId = (Option<std::time::SystemTime>, PathBuf);

pub fn file_id(m: &Metadata, path: &Path) -> FileId {
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    (m.created().ok(), canonical)
}

/// A symbolic link `link` → `target` (a directory link when the target, resolved beside the
/// link, is a directory). Windows lets only administrators and Developer Mode create them.
pub fn symlink(target: &Path, link: &Path) -> io::Result<()> {
    let resolved = link.parent().unwrap_or(Path::new(".")).join(target);
    let made = if resolved.is_dir() {
        std::os::windows::fs::symlink_dir(target, link)
    } else {
        std::os::windows::fs::symlink_file(target, link)
    };
    made.map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "{e} (Windows lets only administrators, or Developer Mode, create symbolic links)"
            ),
        )
    })
}

/// The home directory: `USERPROFILE` (where the TypeScript CLI's `os.homedir()` points), else
/// `HOME`.
pub fn home_dir() -> Option<PathBuf> {
    ["USERPROFILE", "HOME"]
        .iter()
        .filter_map(std::env::var_os)
        .find(|h| !h.to_string_lossy().trim().is_empty())
        .map(PathBuf::from)
}

/// Opens `url` in the default browser through the URL protocol handler (no shell: a `&` in
/// the URL stays part of it).
pub fn open_browser(url: &str) -> bool {
    std::process::Command::new("rundll32.exe")
        .args(["url.dll,FileProtocolHandler", url])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}

/// What to do when a server's certificate has an issuer dcd does not trust: behind a
/// TLS-inspecting proxy, its CA, which belongs in the Windows certificate store dcd reads.
pub const UNTRUSTED_CA_ADVICE: &str = "the certificate's issuer is not trusted: behind a \
     TLS-inspecting proxy, install its CA in the Windows certificate store (Trusted Root \
     Certification Authorities), or name it in SSL_CERT_FILE";

/// The roots of the Windows certificate store (where a TLS-inspecting proxy's root is
/// installed); unreadable ones are left out.
pub fn system_roots() -> Vec<rustls::pki_types::CertificateDer<'static>> {
    rustls_native_certs::load_native_certs().certs
}
