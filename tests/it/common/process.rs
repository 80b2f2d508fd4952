//! The service as a child process of the built binary, for tests that kill
//! it the hard way.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use super::PATIENCE;

/// A `tracking` process listening on a free port.
pub struct ServiceProcess {
    child: Child,
    pub addr: SocketAddr,
}

impl ServiceProcess {
    /// Starts the binary with `args` (plus `--listen 127.0.0.1:0`) and waits
    /// until it says where it listens.
    pub fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tracking"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the tracking binary");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
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
            }
        });
        let addr = rx
            .recv_timeout(PATIENCE)
            .expect("the service to say where it listens")
            .parse()
            .expect("a socket address");
        Self { child, addr }
    }

    /// Runs the binary to its end; returns exit success and stderr.
    pub fn run_to_exit(args: &[&str]) -> (bool, String) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tracking"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the tracking binary");
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
                }
                return (status.success(), stderr);
            }
            if started.elapsed() > PATIENCE {
                let _ = child.kill();
                panic!("the service did not exit within {PATIENCE:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no shutdown code runs, nothing is handed over.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
