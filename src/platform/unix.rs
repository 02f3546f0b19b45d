//! The Unix side of [`super`]: Linux and macOS.

use super::{StopRequest, Stream};
use std::fs::{DirBuilder, File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Columns and rows of the terminal on `stream`, if it is one.
pub fn terminal_size(stream: Stream) -> Option<(usize, usize)> {
    let fd = match stream {
        Stream::Stdout => 1,
        Stream::Stderr => 2,
    };
    // SAFETY: TIOCGWINSZ fills a winsize struct we own.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        (libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) == 0 && ws.ws_col > 0)
            .then_some((ws.ws_col as usize, ws.ws_row.max(1) as usize))
    }
}

/// A Unix terminal reads VT sequences as it is.
pub fn enable_vt(_stream: Stream) -> bool {
    true
}

/// Calls `on` for every SIGINT, SIGTERM and SIGHUP, from a thread of its own. False when the
/// handlers cannot be installed (a signal then ends the process the default way).
pub fn watch_stops(on: impl Fn(StopRequest) + Send + 'static) -> bool {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return false;
    };
    std::thread::spawn(move || {
        for sig in signals.forever() {
            on(match sig {
                SIGTERM => StopRequest::Terminate,
                SIGHUP => StopRequest::Hangup,
                _ => StopRequest::Interrupt,
            });
        }
    });
    true
}

/// Opens `path` for reading without blocking: a FIFO nobody writes to is opened at once (and
/// refused by its type), never waited on. With `follow_links` false, a symbolic link is not
/// followed: `Ok(None)`. (`OpenOptions` adds `O_CLOEXEC` itself.) A directory opens, and is
/// refused by its type.
pub fn open_read(path: &Path, follow_links: bool) -> io::Result<Option<File>> {
    let mut flags = libc::O_NONBLOCK;
    if !follow_links {
        flags |= libc::O_NOFOLLOW;
    }
    match OpenOptions::new().read(true).custom_flags(flags).open(path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if !follow_links && e.raw_os_error() == Some(libc::ELOOP) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What a path that is neither a regular file nor a directory nor a link is, for messages:
/// `Some("a FIFO")`, a socket, a device; `None` for the ordinary kinds.
pub fn non_regular_kind(m: &Metadata) -> Option<&'static str> {
    let t = m.file_type();
    if t.is_fifo() {
        Some("a FIFO")
    } else if t.is_socket() {
        Some("a socket")
    } else if t.is_char_device() || t.is_block_device() {
        Some("a device")
    } else {
        None
    }
}

/// New files are created with the permission bits `mode` (less the umask).
pub fn set_create_mode(o: &mut OpenOptions, mode: u32) -> &mut OpenOptions {
    o.mode(mode)
}

/// New directories are private to the user (0700).
pub fn private_dir(b: &mut DirBuilder) -> &mut DirBuilder {
    b.mode(0o700)
}

/// A file's permission bits (`0o644`).
pub fn file_mode(m: &Metadata) -> Option<u32> {
    Some(m.permissions().mode() & 0o7777)
}

/// The permission bits a file of an app bundle is zipped with: its own.
pub fn zip_mode(m: &Metadata) -> u32 {
    m.permissions().mode()
}

/// What tells files apart: device and inode (`path` is not needed on Unix).
pub type FileId = (u64, u64);

pub fn file_id(m: &Metadata, _path: &Path) -> FileId {
    (m.dev(), m.ino())
}

/// A symbolic link `link` → `target`.
pub fn symlink(target: &Path, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

/// The home directory: `HOME` when it is set and not blank.
pub fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.to_string_lossy().trim().is_empty())
        .map(PathBuf::from)
}

/// Starts the system's opener on `url`, detached: `open` on macOS, `xdg-open` elsewhere.
pub fn open_browser(url: &str) -> bool {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}

/// What to do when a server's certificate has an issuer dcd does not trust: behind a
/// TLS-inspecting proxy, its CA. A Mac keeps that CA in the keychain, which dcd does not read
/// (docs/config.md, "TLS trust"): the advice says how to hand it over.
pub const UNTRUSTED_CA_ADVICE: &str = if cfg!(target_os = "macos") {
    "the certificate's issuer is not trusted: behind a TLS-inspecting proxy, export its CA from \
     the keychain and name it in SSL_CERT_FILE: security find-certificate -a -p \
     /Library/Keychains/System.keychain > ~/dcd-ca.pem && export SSL_CERT_FILE=~/dcd-ca.pem"
} else {
    "the certificate's issuer is not trusted: behind a TLS-inspecting proxy, add its CA with \
     SSL_CERT_FILE or SSL_CERT_DIR"
};

/// Roots the system trusts beyond its bundle files: none on Unix, where `net::tls` reads the
/// system's bundle files and directories itself (macOS's `/etc/ssl/cert.pem` among them).
pub fn system_roots() -> Vec<rustls::pki_types::CertificateDer<'static>> {
    Vec::new()
}
