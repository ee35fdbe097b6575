//! A TCP fault proxy a test puts between a store and its server: added latency and
//! jitter, connections cut mid-request (the request forwarded, the reply never),
//! black-holed connections (nothing forwarded until the client gives up) and connection
//! resets, each drawn per forwarded chunk with the probabilities in force.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The faults a [`FaultProxy`] injects. Probabilities are per chunk of bytes forwarded
/// from client to server (a request, or part of one).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Faults {
    /// Added to every chunk, both ways.
    pub latency: Duration,
    /// Up to this much more, uniformly at random.
    pub jitter: Duration,
    /// Forward the request, then close both connections before any reply: the server
    /// may have applied it, the client cannot know.
    pub cut: f64,
    /// Forward nothing more either way and hold the connection open: the client waits
    /// for its timeout.
    pub black_hole: f64,
    /// Reset the client's connection (RST) without forwarding the request.
    pub reset: f64,
}

impl Faults {
    /// No faults: a plain forwarder.
    pub fn none() -> Self {
        Faults::default()
    }

    /// A mix for fault histories: 0–2 ms of latency, and one chunk in `one_in` cut, one
    /// black-holed and one reset.
    pub fn mixed(one_in: u32) -> Self {
        let p = 1.0 / f64::from(one_in.max(1));
        Faults {
            latency: Duration::ZERO,
            jitter: Duration::from_millis(2),
            cut: p,
            black_hole: p,
            reset: p,
        }
    }
}

/// What the proxy has done, for a test to check that faults happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FaultCounts {
    /// Connections accepted.
    pub connections: u64,
    /// Requests forwarded whose connection was then cut.
    pub cuts: u64,
    /// Connections black-holed.
    pub black_holes: u64,
    /// Connections reset.
    pub resets: u64,
}

#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    cuts: AtomicU64,
    black_holes: AtomicU64,
    resets: AtomicU64,
}

/// A TCP proxy on a free loopback port forwarding to `upstream`, injecting [`Faults`].
/// Dropping it stops accepting and closes every connection.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    faults: Arc<Mutex<Faults>>,
    counters: Arc<Counters>,
    /// Bumped to close every open connection; dropped to stop everything.
    generation: watch::Sender<u64>,
    accept: tokio::task::JoinHandle<()>,
}

enum Verdict {
    Forward,
    Cut,
    BlackHole,
    Reset,
}

impl FaultProxy {
    /// Starts forwarding `127.0.0.1:<free port>` to `upstream`, without faults.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let faults = Arc::new(Mutex::new(Faults::none()));
        let counters = Arc::new(Counters::default());
        let (generation, watcher) = watch::channel(0u64);
        let accept = {
            let (faults, counters) = (faults.clone(), counters.clone());
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    counters.connections.fetch_add(1, Ordering::Relaxed);
                    let (faults, counters, watcher) =
                        (faults.clone(), counters.clone(), watcher.clone());
                    tokio::spawn(async move {
                        if let Ok(server) = TcpStream::connect(upstream).await {
                            pump(client, server, faults, counters, watcher).await;
                        }
                    });
                }
            })
        };
        Ok(FaultProxy {
            addr,
            faults,
            counters,
            generation,
            accept,
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Injects `faults` from now on (open connections included).
    pub fn set(&self, faults: Faults) {
        *self.faults.lock().unwrap_or_else(|p| p.into_inner()) = faults;
    }

    /// Closes every open connection now (as a server restart would).
    pub fn cut_all(&self) {
        self.generation.send_modify(|g| *g += 1);
    }

    /// What the proxy has done so far.
    pub fn counts(&self) -> FaultCounts {
        FaultCounts {
            connections: self.counters.connections.load(Ordering::Relaxed),
            cuts: self.counters.cuts.load(Ordering::Relaxed),
            black_holes: self.counters.black_holes.load(Ordering::Relaxed),
            resets: self.counters.resets.load(Ordering::Relaxed),
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.generation.send_modify(|g| *g += 1);
    }
}

fn delay(faults: &Faults) -> Duration {
    let jitter = faults.jitter.as_micros() as u64;
    let extra = if jitter == 0 {
        0
    } else {
        fastrand::u64(..=jitter)
    };
    faults.latency + Duration::from_micros(extra)
}

fn verdict(faults: &Faults) -> Verdict {
    let roll = fastrand::f64();
    if roll < faults.cut {
        Verdict::Cut
    } else if roll < faults.cut + faults.black_hole {
        Verdict::BlackHole
    } else if roll < faults.cut + faults.black_hole + faults.reset {
        Verdict::Reset
    } else {
        Verdict::Forward
    }
}

async fn pump(
    client: TcpStream,
    server: TcpStream,
    faults: Arc<Mutex<Faults>>,
    counters: Arc<Counters>,
    mut generation: watch::Receiver<u64>,
) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let current = || *faults.lock().unwrap_or_else(|p| p.into_inner());
    // Set when the connection is black-holed: both directions stop forwarding.
    let (hole_tx, hole_rx) = watch::channel(false);
    let upstream = async {
        let mut buf = vec![0; 64 * 1024];
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let faults = current();
            tokio::time::sleep(delay(&faults)).await;
            match verdict(&faults) {
                Verdict::Forward => {
                    if server_write.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
                Verdict::Cut => {
                    let _ = server_write.write_all(&buf[..n]).await;
                    counters.cuts.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Verdict::BlackHole => {
                    counters.black_holes.fetch_add(1, Ordering::Relaxed);
                    let _ = hole_tx.send(true);
                    // Swallow whatever comes until the client gives up and closes.
                    while let Ok(1..) = client_read.read(&mut buf).await {}
                    return;
                }
                Verdict::Reset => {
                    counters.resets.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
        }
    };
    let downstream = async {
        let mut buf = vec![0; 64 * 1024];
        let mut hole = hole_rx;
        loop {
            let read = tokio::select! {
                read = server_read.read(&mut buf) => Some(read),
                _ = hole.changed() => None,
            };
            let n = match read {
                Some(Ok(0) | Err(_)) => return,
                Some(Ok(n)) => n,
                None => continue,
            };
            if *hole.borrow() {
                // Black-holed: replies are swallowed until the server closes.
                continue;
            }
            tokio::time::sleep(delay(&current())).await;
            if client_write.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    let start = *generation.borrow_and_update();
    tokio::select! {
        () = upstream => {}
        () = downstream => {}
        _ = generation.wait_for(|g| *g != start) => {}
    }
    // Dropping the halves closes both connections, the client's with RST (linger 0):
    // a reset, or a cut the client cannot mistake for an orderly close.
    if let Ok(client) = client_read.reunite(client_write) {
        let _ = socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO));
    }
}
