//! The service as a child process of the built binary, for tests that kill
//! it the hard way, stop it with a signal, or read what it logs.
//!
//! Every child starts with the test's environment minus `TRACKING_*`, so a
//! developer who exported `TRACKING_REDIS_URL` or `TRACKING_JWT_SECRET` (as
//! the README suggests) runs the same suite as CI.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Child, Command, ExitStatus, Stdio},
    sync::{mpsc, Arc, Mutex},
    time::{Duration, Instant},
};

use super::PATIENCE;

/// The `tracking` binary, with no `TRACKING_*` variable inherited.
pub fn tracking_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tracking"));
    test_support::without_tracking_env(&mut command);
    command
}

/// The `tracking` binary with its wall clock moved by `offset` (`"+30s"`,
/// `"-30s"`) through libfaketime, preloaded into the process itself (the
/// `faketime` command forks, and a killed wrapper would leave the service
/// running). Its monotonic clock, which its timers use, is left alone.
pub fn skewed_command(offset: &str) -> Command {
    let arch = std::env::consts::ARCH;
    let library = [
        format!("/usr/lib/{arch}-linux-gnu/faketime/libfaketimeMT.so.1"),
        format!("/usr/lib/{arch}-linux-gnu/faketime/libfaketime.so.1"),
        "/usr/lib/faketime/libfaketimeMT.so.1".to_owned(),
    ]
    .into_iter()
    .find(|path| std::path::Path::new(path).exists())
    .expect("libfaketime (Debian: apt-get install faketime; the README's test command does)");
    let mut command = tracking_command();
    command
        .env("LD_PRELOAD", library)
        .env("FAKETIME", offset)
        .env("DONT_FAKE_MONOTONIC", "1");
    command
}

/// Lines a child printed on stdout, with when each arrived.
#[derive(Debug, Default)]
pub struct Log {
    lines: Vec<(Instant, String)>,
}

impl Log {
    /// How many lines arrived within `window` before now.
    pub fn lines_within(&self, window: Duration) -> usize {
        let since = Instant::now() - window;
        self.lines.iter().filter(|(at, _)| *at >= since).count()
    }

    /// How many lines at WARN or ERROR arrived within `window` before now.
    pub fn warnings_within(&self, window: Duration) -> usize {
        let since = Instant::now() - window;
        self.lines
            .iter()
            .filter(|(at, l)| *at >= since && (l.contains(" WARN ") || l.contains(" ERROR ")))
            .count()
    }

    /// Whether any line so far contains `text`.
    pub fn contains(&self, text: &str) -> bool {
        self.lines.iter().any(|(_, l)| l.contains(text))
    }

    /// Every line, for failure messages.
    pub fn text(&self) -> String {
        self.lines
            .iter()
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A `tracking` process listening on a free port.
pub struct ServiceProcess {
    child: Child,
    pub addr: SocketAddr,
    pub log: Arc<Mutex<Log>>,
}

impl ServiceProcess {
    /// Starts the binary with `args` (plus `--listen 127.0.0.1:0`) and waits
    /// until it says where it listens.
    pub fn start(args: &[&str]) -> Self {
        Self::launch(tracking_command(), args)
    }

    /// Like [`ServiceProcess::start`], with the wall clock moved by `offset`
    /// (see [`skewed_command`]).
    pub fn start_with_clock_offset(offset: &str, args: &[&str]) -> Self {
        Self::launch(skewed_command(offset), args)
    }

    /// Like [`ServiceProcess::start`], with the process's open-file limit
    /// (soft and hard) set to `limit`.
    pub fn start_with_fd_limit(limit: u64, args: &[&str]) -> Self {
        use std::os::unix::process::CommandExt;
        let mut command = tracking_command();
        // SAFETY: setrlimit is async-signal-safe and touches no memory of
        // the parent.
        unsafe {
            command.pre_exec(move || {
                let rlimit = libc::rlimit {
                    rlim_cur: limit,
                    rlim_max: limit,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &rlimit) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        Self::launch(command, args)
    }

    /// Like [`ServiceProcess::start`], from a command the caller set up
    /// (an environment variable of its own, say).
    pub fn launch_with(command: Command, args: &[&str]) -> Self {
        Self::launch(command, args)
    }

    fn launch(mut command: Command, args: &[&str]) -> Self {
        // `info`, unless the caller chose a filter of its own.
        if !command.get_envs().any(|(name, _)| name == "RUST_LOG") {
            command.env("RUST_LOG", "info");
        }
        let mut child = command
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the tracking binary");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        let log = Arc::new(Mutex::new(Log::default()));
        let lines = log.clone();
        // Read every line so the child never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let addr = rest
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    let _ = tx.send(addr);
                }
                if let Ok(mut log) = lines.lock() {
                    // Bounded: a runaway child cannot eat the test's memory.
                    if log.lines.len() < 200_000 {
                        log.lines.push((Instant::now(), line));
                    }
                }
            }
        });
        let addr = match rx.recv_timeout(PATIENCE) {
            Ok(addr) => addr.parse().expect("a socket address"),
            Err(_) => {
                let _ = child.kill();
                panic!("the service did not say where it listens within {PATIENCE:?}")
            }
        };
        Self { child, addr, log }
    }

    /// Runs the binary to its end; returns exit success and stderr.
    pub fn run_to_exit(args: &[&str]) -> (bool, String) {
        let mut child = tracking_command()
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the tracking binary");
        let status = wait_for(&mut child, PATIENCE)
            .unwrap_or_else(|| panic!("the service did not exit within {PATIENCE:?}"));
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
        }
        (status.success(), stderr)
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM: the service's graceful shutdown.
    pub fn terminate(&self) {
        signal(self.child.id(), libc::SIGTERM);
    }

    /// Waits up to `limit` for the process to exit.
    pub fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        wait_for(&mut self.child, limit)
    }

    /// SIGKILL: no shutdown code runs, nothing is handed over.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `sig` to a process.
pub fn signal(pid: u32, sig: libc::c_int) {
    let pid = libc::pid_t::try_from(pid).expect("pid");
    // SAFETY: kill(2) with a pid we spawned; no memory is involved.
    let done = unsafe { libc::kill(pid, sig) };
    assert_eq!(done, 0, "kill({pid}, {sig})");
}

fn wait_for(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return Some(status);
        }
        if started.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
