//! Test helpers (feature `testing`): a wire proxy in front of a PostgreSQL server that
//! counts the round trips clients make (each `Sync` or simple `Query` message the
//! frontend sends ends one) and can lose the server's next reply with the connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A loopback TCP proxy to a PostgreSQL server.
#[derive(Debug)]
pub struct WireProxy {
    port: u16,
    round_trips: Arc<AtomicUsize>,
    cut: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WireProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl WireProxy {
    /// Listens on a free loopback port and forwards every connection to `upstream`
    /// (`host:port`).
    pub async fn start(upstream: String) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let round_trips = Arc::new(AtomicUsize::new(0));
        let cut = Arc::new(AtomicBool::new(false));
        let (counted, armed) = (round_trips.clone(), cut.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(frontend(client_read, server_write, counted.clone()));
                tokio::spawn(backend(server_read, client_write, armed.clone()));
            }
        });
        Ok(WireProxy {
            port,
            round_trips,
            cut,
            task,
        })
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Round trips clients have made so far (`Sync` and `Query` messages).
    pub fn round_trips(&self) -> usize {
        self.round_trips.load(Ordering::SeqCst)
    }

    /// Loses the server's next reply on whichever connection it comes: the connection
    /// closes with the reply unsent (the statement ran).
    pub fn cut_next_reply(&self) {
        self.cut.store(true, Ordering::SeqCst);
    }
}

/// Client to server, counting the messages that end a round trip.
async fn frontend(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    counted: Arc<AtomicUsize>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    // Startup-phase messages (SSLRequest, StartupMessage) carry no type byte.
    let mut started = false;
    while let Ok(n @ 1..) = from.read(&mut buf).await {
        pending.extend_from_slice(&buf[..n]);
        loop {
            if !started {
                if pending.len() < 8 {
                    break;
                }
                let len =
                    u32::from_be_bytes([pending[0], pending[1], pending[2], pending[3]]) as usize;
                if pending.len() < len {
                    break;
                }
                let code = u32::from_be_bytes([pending[4], pending[5], pending[6], pending[7]]);
                // Protocol 3.0: the startup message; anything after it is typed.
                started = code == 196_608;
                pending.drain(..len);
                continue;
            }
            if pending.len() < 5 {
                break;
            }
            let len = u32::from_be_bytes([pending[1], pending[2], pending[3], pending[4]]) as usize;
            if pending.len() < len + 1 {
                break;
            }
            if matches!(pending[0], b'S' | b'Q') {
                counted.fetch_add(1, Ordering::SeqCst);
            }
            pending.drain(..len + 1);
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Server to client; drops the connection instead of a reply once `armed`.
async fn backend(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    armed: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buf).await {
        if armed.swap(false, Ordering::SeqCst) {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
