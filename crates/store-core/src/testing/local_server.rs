//! A server process of a test's own, for tests that kill and restart it.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Tests only: a server process (`redis-server`, say) on a free loopback port, that the
/// test may stop and restart on the same port; killed when dropped. `{port}` in the
/// arguments stands for the port.
///
/// Panics when the program cannot be started or does not accept connections within
/// 10 seconds: in a test, that is the failure to report.
#[derive(Debug)]
pub struct LocalServer {
    program: String,
    args: Vec<String>,
    port: u16,
    child: Option<Child>,
}

impl LocalServer {
    /// Starts `program` with `args` on a free port and waits until it accepts
    /// connections.
    pub async fn start(program: &str, args: &[&str]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let mut server = LocalServer {
            program: program.to_owned(),
            args: args
                .iter()
                .map(|a| a.replace("{port}", &port.to_string()))
                .collect(),
            port,
            child: None,
        };
        server.restart().await;
        server
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the process and reaps it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the same command again, on the same port (stopping it first if running),
    /// and waits until it accepts connections.
    pub async fn restart(&mut self) {
        self.stop();
        let child = Command::new(&self.program)
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{} on PATH (installed by `cargo xtask services up`): {e}",
                    self.program
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "{} did not accept connections on port {} within 10 s",
                self.program,
                self.port
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.stop();
    }
}
