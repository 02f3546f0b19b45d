//! Shared helpers for the integration tests, compiled once into their one binary: run the
//! real `dcd` binary hermetically (no CI markers, no API key, a private config dir, scaled
//! time), optionally under a pseudo-terminal; re-run a test in a process of its own.
//!
//! Beside this file: the loopback fakes (`fake_cloud/`, `fake_realtime/`, also loaded by the
//! `fake-cloud` and `realtime-bench` examples with `iso.rs` and `url.rs`, which they share),
//! `lib.rs` (every library item the tests call directly), `client_thread.rs` (the realtime
//! client thread run in-process) and `rng.rs` (the seeded generator of the property tests).

pub mod client_thread;
pub mod download_host;
pub mod fake_cloud;
pub mod fake_realtime;
pub mod iso;
pub mod lib;
pub mod rng;
pub mod url;

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "dcd-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The variables a test must not inherit from the machine besides the CI markers
/// (`lib::CI_VARS`): credentials, colour, proxy and dcd settings.
const SCRUB: &[&str] = &[
    "DEVICE_CLOUD_API_KEY",
    "NO_COLOR",
    "CLICOLOR",
    "CLICOLOR_FORCE",
    "FORCE_COLOR",
    "DCD_MANIFEST_URL",
    "DCD_TIME_SCALE",
    "DCD_CONFIG_DIR",
    "XDG_CONFIG_HOME",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    "GITHUB_STEP_SUMMARY",
    "DCD_NO_REALTIME",
    "COLUMNS",
];

/// A `dcd` command with a hermetic environment: its own config dir (kept alive by the
/// returned [`TempDir`]), `DCD_TIME_SCALE=0.01`, no CI markers, no key, and no update check
/// (a test of it removes `DCD_NO_UPDATE_CHECK` and points `DCD_MANIFEST_URL` at a fake).
pub fn dcd() -> (Command, TempDir) {
    let dir = TempDir::new();
    let c = dcd_in(dir.path());
    (c, dir)
}

/// `dcd status --watch --upload-id <upload_id> --json` at `DCD_TIME_SCALE` `scale`, in a
/// home of its own: the wait, with its one JSON document on stdout. Credentials are the
/// caller's (a session through [`write_config`], or an API key).
pub fn status_watch_json(upload_id: &str, scale: &str) -> (Command, TempDir) {
    let (mut c, dir) = dcd();
    c.env("DCD_TIME_SCALE", scale)
        .args(["status", "--watch", "--upload-id", upload_id, "--json"]);
    (c, dir)
}

/// [`dcd`] with `home` as its home directory (configuration in `home/config`), for a command
/// that outlives the function that makes it: the caller's own [`TempDir`] removes it.
pub fn dcd_in(home: &Path) -> Command {
    hermetic(start(&dcd_bin()), home)
}

/// The dcd binary the end-to-end tests drive: this build's, or `DCD_TEST_BIN` — another
/// platform's build of the same tree, started through `DCD_TEST_RUNNER` (`qemu-aarch64` for
/// the arm64 Linux binary; docs/building.md, "Testing the other platforms").
pub fn dcd_bin() -> PathBuf {
    std::env::var_os("DCD_TEST_BIN")
        .filter(|b| !b.is_empty())
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_dcd")), PathBuf::from)
}

/// A command that starts the program `bin` the way this test run starts dcd: through
/// `DCD_TEST_RUNNER` (an emulator) when it is set.
pub fn start(bin: &Path) -> Command {
    match std::env::var_os("DCD_TEST_RUNNER").filter(|r| !r.is_empty()) {
        Some(runner) => {
            let mut c = Command::new(runner);
            c.arg(bin);
            c
        }
        None => Command::new(bin),
    }
}

/// [`dcd_in`], the binary run with at most `bytes` of address space (`ulimit -v` in `sh`,
/// then `exec`): an allocation past it fails, so a parser that expands its input without a
/// budget aborts instead of taking the machine's memory.
pub fn dcd_in_memory(home: &Path, bytes: u64) -> Command {
    let mut c = Command::new("sh");
    c.args(["-c", "ulimit -v \"$0\" && exec \"$@\""])
        .arg((bytes >> 10).to_string());
    if let Some(runner) = std::env::var_os("DCD_TEST_RUNNER").filter(|r| !r.is_empty()) {
        c.arg(runner);
    }
    c.arg(dcd_bin());
    hermetic(c, home)
}

/// The hermetic environment of [`dcd`] on `c`.
fn hermetic(mut c: Command, home: &Path) -> Command {
    for k in lib::CI_VARS.iter().chain(SCRUB) {
        c.env_remove(k);
    }
    c.env("DCD_CONFIG_DIR", home.join("config"))
        .env("HOME", home)
        .env("DCD_TIME_SCALE", "0.01")
        .env("DCD_NO_UPDATE_CHECK", "1")
        .env("RUST_BACKTRACE", "0")
        .env("TERM", "xterm-256color")
        .stdin(Stdio::null());
    c
}

/// What a finished run printed.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Output {
    /// Fails with the whole output when the exit code differs.
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "unexpected exit code\n{self}");
        self
    }
    /// No panic text, no backtrace.
    pub fn assert_no_panic(&self) -> &Self {
        for s in [&self.stdout, &self.stderr] {
            assert!(
                !s.contains("panicked") && !s.contains("RUST_BACKTRACE"),
                "panic text\n{self}"
            );
        }
        self
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {} after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// Runs to completion (killing it after `limit`) and captures both streams.
pub fn run(mut c: Command, limit: Duration) -> Output {
    let child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn dcd");
    collect(child, limit)
}

/// Waits for a child started with piped stdout and stderr (killing it after `limit`) and
/// captures both streams; `elapsed` counts from this call.
pub fn collect(mut child: std::process::Child, limit: Duration) -> Output {
    let start = Instant::now();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!(
                "dcd did not finish within {limit:?}\nstdout so far: {}",
                t_out.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        code: status.code().unwrap_or(-1),
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
        elapsed: start.elapsed(),
    }
}

/// Runs under a pseudo-terminal (stdout, stderr and stdin all on the pty slave, the child a
/// session leader with it as controlling terminal) and returns everything it wrote.
pub fn run_pty(c: Command, cols: u16, rows: u16, limit: Duration) -> (i32, String) {
    run_pty_answering(c, cols, rows, limit, &[])
}

/// [`run_pty`], typing each answer once the output so far contains its prompt (in order).
pub fn run_pty_answering(
    mut c: Command,
    cols: u16,
    rows: u16,
    limit: Duration,
    answers: &[(&str, &str)],
) -> (i32, String) {
    let (mut master, slave) = unsafe {
        let mut m = 0;
        let mut s = 0;
        let mut ws: libc::winsize = std::mem::zeroed();
        ws.ws_col = cols;
        ws.ws_row = rows;
        assert_eq!(
            libc::openpty(&mut m, &mut s, std::ptr::null_mut(), std::ptr::null(), &ws),
            0
        );
        use std::os::fd::FromRawFd;
        // openpty's fds are inheritable: a child another test spawns meanwhile (they share
        // this process under `cargo test`) would hold the slave open and delay our EIO.
        for fd in [m, s] {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
        (std::fs::File::from_raw_fd(m), std::fs::File::from_raw_fd(s))
    };
    let start = Instant::now();
    unsafe {
        c.stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave.try_clone().unwrap())
            .pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::ioctl(0, libc::TIOCSCTTY as _, 0);
                Ok(())
            });
    }
    let mut child = c.spawn().expect("spawn dcd on a pty");
    drop(slave);
    drop(c);
    let mut writer = master.try_clone().unwrap();
    let mut pending: Vec<(String, String)> = answers
        .iter()
        .map(|(p, a)| (p.to_string(), a.to_string()))
        .collect();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        // EIO once every slave fd is closed ends the read.
        while let Ok(n) = master.read(&mut chunk) {
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some((prompt, answer)) = pending.first()
                && String::from_utf8_lossy(&buf).contains(prompt.as_str())
            {
                use std::io::Write;
                let _ = writer.write_all(answer.as_bytes());
                pending.remove(0);
            }
        }
        buf
    });
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("dcd did not finish within {limit:?} on a pty");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let bytes = reader.join().unwrap();
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

/// Polls `f` every 5 ms until it holds; fails after 10 s, saying what it waited for.
pub fn wait_for(what: &str, f: impl Fn() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Writes a `config.json` into the command's config dir.
pub fn write_config(dir: &TempDir, body: &str) {
    let d = dir.path().join("config");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("config.json"), body).unwrap();
}

/// A logged-in session for the fake cloud at `api_url` (Realtime unreachable).
pub fn session_config(api_url: &str, token: &str, org: &str, expires_at: i64) -> String {
    session_json(api_url, "http://127.0.0.1:9", token, org, expires_at)
}

/// A logged-in session, valid for an hour, for the fake cloud at `api_url` and the fake
/// Realtime server at `supabase_url`.
pub fn realtime_session_config(
    api_url: &str,
    supabase_url: &str,
    token: &str,
    org: &str,
) -> String {
    session_json(api_url, supabase_url, token, org, unix_now() + 3600)
}

fn session_json(
    api_url: &str,
    supabase_url: &str,
    token: &str,
    org: &str,
    expires_at: i64,
) -> String {
    serde_json::json!({
        "version": 1, "env": "dev", "api_url": api_url,
        "supabase_url": supabase_url,
        "session": {"access_token": token, "refresh_token": "refresh-secret-value",
                    "expires_at": expires_at, "user_email": "dev@example.com", "user_id": "u-1"},
        "current_org_id": org, "current_org_name": "Acme"
    })
    .to_string()
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Marks a test binary run by [`rerun_in_own_process`]; its value is the test it runs.
const OWN_PROCESS: &str = "DCD_TEST_OWN_PROCESS";

/// True in the child process [`rerun_in_own_process`] started.
pub fn in_own_process() -> bool {
    std::env::var_os(OWN_PROCESS).is_some()
}

/// Runs one test again in a process of its own and fails if it fails there.
///
/// nextest runs every test in a process of its own, but `cargo test` runs them as threads of
/// one process. A test that needs process-wide state (an environment variable the library
/// reads, `RUSAGE_CHILDREN`) starts with `if !in_own_process() { return
/// rerun_in_own_process(module_path!(), "its_name", &env); }`: this runs the test binary
/// filtered to exactly that test, with `env` set at spawn (`None` removes the variable), never
/// on this process.
pub fn rerun_in_own_process(module: &str, test: &str, env: &[(&str, Option<&str>)]) {
    // `module_path!()` starts with the crate name, which test filters leave out.
    let module = module.split_once("::").map_or("", |(_, m)| m);
    let name = if module.is_empty() {
        test.to_string()
    } else {
        format!("{module}::{test}")
    };
    let mut c = Command::new(std::env::current_exe().expect("the test binary"));
    c.args([name.as_str(), "--exact", "--include-ignored", "--nocapture"])
        .arg("--test-threads=1")
        .env(OWN_PROCESS, &name)
        .stdin(Stdio::null());
    for (k, v) in env {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    let out = c.output().expect("re-run the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{name} in its own process: {}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        out.status
    );
    print!("{stdout}");
    eprint!("{stderr}");
}

/// A child running under a pseudo-terminal that the test can resize while it runs: what the
/// child wrote is collected as it arrives, and [`LivePty::resize`] marks where in that stream
/// the terminal changed size.
pub struct LivePty {
    master: std::fs::File,
    child: std::process::Child,
    output: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl LivePty {
    /// Spawns `c` on a new pty of `cols` × `rows`, as session leader with the pty as its
    /// controlling terminal (so a resize sends it SIGWINCH).
    pub fn spawn(mut c: Command, cols: u16, rows: u16) -> LivePty {
        let (master, slave) = unsafe {
            let mut m = 0;
            let mut s = 0;
            let mut ws: libc::winsize = std::mem::zeroed();
            ws.ws_col = cols;
            ws.ws_row = rows;
            assert_eq!(
                libc::openpty(&mut m, &mut s, std::ptr::null_mut(), std::ptr::null(), &ws),
                0
            );
            use std::os::fd::FromRawFd;
            (std::fs::File::from_raw_fd(m), std::fs::File::from_raw_fd(s))
        };
        unsafe {
            c.stdin(slave.try_clone().unwrap())
                .stdout(slave.try_clone().unwrap())
                .stderr(slave.try_clone().unwrap())
                .pre_exec(|| {
                    if libc::setsid() < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    libc::ioctl(0, libc::TIOCSCTTY as _, 0);
                    Ok(())
                });
        }
        let child = c.spawn().expect("spawn dcd on a pty");
        drop(slave);
        let output = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = output.clone();
        let mut from = master.try_clone().unwrap();
        let reader = std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            // EIO once every slave fd is closed ends the read.
            while let Ok(n) = from.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        });
        LivePty {
            master,
            child,
            output,
            reader: Some(reader),
        }
    }

    /// The child's process id (to send it a signal).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything written so far.
    pub fn output(&self) -> Vec<u8> {
        self.output.lock().unwrap().clone()
    }

    /// Waits until the output contains `needle` (as text), at most `limit`.
    pub fn wait_for(&self, needle: &str, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if String::from_utf8_lossy(&self.output()).contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// Resizes the terminal (TIOCSWINSZ on the master; the kernel sends SIGWINCH to the
    /// child's process group, and so does this, for good measure). Returns how many bytes
    /// had arrived before the resize: the terminal saw those at the old size.
    pub fn resize(&self, cols: u16, rows: u16) -> usize {
        use std::os::fd::AsRawFd;
        let out = self.output.lock().unwrap();
        unsafe {
            let mut ws: libc::winsize = std::mem::zeroed();
            ws.ws_col = cols;
            ws.ws_row = rows;
            assert_eq!(
                libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws),
                0
            );
            libc::kill(-(self.child.id() as i32), libc::SIGWINCH);
        }
        out.len()
    }

    /// Waits for the child to exit (killing it after `limit`) and for its last output.
    pub fn finish(mut self, limit: Duration) -> (i32, Vec<u8>) {
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                panic!(
                    "dcd did not finish within {limit:?} on a pty\n{}",
                    String::from_utf8_lossy(&self.output())
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        (status.code().unwrap_or(-1), self.output())
    }
}

/// Limits the size of every file the command writes to `bytes` (RLIMIT_FSIZE): a write past
/// it fails with EFBIG, as on a full disk. SIGXFSZ is ignored so the write returns the error.
pub fn limit_file_size(c: &mut Command, bytes: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit and signal are async-signal-safe; nothing else runs in pre_exec.
    unsafe {
        c.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// The names in `dir`, sorted.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// `tests/conformance/`: the pinned npm packages the conformance tests run.
pub fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}

/// Node is on PATH and `modules` are installed in `tests/conformance/` (running its
/// `install.sh` once per test process if needed). Otherwise prints a visible SKIPPED line
/// naming `what` and returns false.
pub fn node_ready(what: &str, modules: &[&str]) -> bool {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !node {
        eprintln!("SKIPPED: {what} (node not found)");
        return false;
    }
    let dir = conformance_dir();
    INSTALL.call_once(
        || match Command::new("sh").arg(dir.join("install.sh")).output() {
            Ok(o) => eprint!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => eprintln!("conformance: could not run install.sh: {e}"),
        },
    );
    let installed = modules.iter().all(|m| {
        dir.join("node_modules")
            .join(m)
            .join("package.json")
            .is_file()
    });
    if !installed {
        eprintln!("SKIPPED: {what} (modules not installed)");
    }
    installed
}
