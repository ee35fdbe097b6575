//! Where a benchmark's client and server run on a small machine.

use std::process::Command;

/// Benchmarks only: this process on the first CPU, the server process `server_pid` on
/// the others, so the client and the server it measures stop competing for cores, as
/// they never do when the server runs on its own machine. Dropping it lets both run
/// anywhere again.
///
/// On a 2-core machine a server-side cost (a Lua script, say) otherwise shows up twice
/// in a client's throughput: as the server's own work and as CPU taken from the client.
/// Benchmarks print both placements. Uses `taskset` (util-linux) with `-a`, so every
/// thread of each process moves; threads started later inherit the placement.
#[derive(Debug)]
pub struct CoreSplit {
    server_pid: u32,
    all: String,
}

impl CoreSplit {
    /// Splits the cores when the server is a local process (`server_pid` is `Some`),
    /// or says why it cannot.
    pub fn for_server(server_pid: Option<u32>) -> Result<Self, String> {
        Self::new(server_pid.ok_or("the server is not a local process")?)
    }

    /// Splits the cores, or says why it cannot (one CPU, no `taskset`, not permitted).
    pub fn new(server_pid: u32) -> Result<Self, String> {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        if cpus < 2 {
            return Err("one CPU: nothing to split".into());
        }
        let all = format!("0-{}", cpus - 1);
        let split = CoreSplit { server_pid, all };
        pin(std::process::id(), "0")?;
        pin(server_pid, &format!("1-{}", cpus - 1))?;
        Ok(split)
    }
}

impl Drop for CoreSplit {
    fn drop(&mut self) {
        // Best effort: a failure here leaves a placement that only costs speed.
        let _ = pin(std::process::id(), &self.all);
        let _ = pin(self.server_pid, &self.all);
    }
}

fn pin(pid: u32, cpus: &str) -> Result<(), String> {
    let out = Command::new("taskset")
        .args(["-a", "-p", "-c", cpus, &pid.to_string()])
        .output()
        .map_err(|e| format!("taskset: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "taskset -a -p -c {cpus} {pid}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
