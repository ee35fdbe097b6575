//! Faults: a PostgreSQL of the test's own stopped mid-run and started again, a reply
//! lost after the server committed, a missing table, a server that is not there.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use store_core::{Bytes, Delivery, Error, SetOptions, Store};
use store_postgres::testing::WireProxy;
use store_postgres::{PostgresStoreBuilder, TableLayout};

/// A PostgreSQL cluster of the test's own (initdb'd into a temporary directory, run as
/// the `postgres` user when the test runs as root, which PostgreSQL refuses), stopped
/// by pid.
struct LocalPostgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    child: Option<Child>,
}

fn as_postgres(cmd: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag]).output().ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    if id("-u") == Some(0) {
        let of = |flag: &str| -> u32 {
            let out = Command::new("id")
                .args([flag, "postgres"])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
        };
        cmd.uid(of("-u")).gid(of("-g"));
    }
    cmd
}

impl LocalPostgres {
    fn start(bin: &str) -> Self {
        let data = std::env::temp_dir().join(format!("fleetstate-pg-{}", fastrand::u64(..)));
        std::fs::create_dir_all(&data).unwrap();
        let _ = Command::new("chown").arg("postgres:").arg(&data).status();
        let ok = as_postgres(
            Command::new(PathBuf::from(bin).join("initdb"))
                .arg("-D")
                .arg(&data)
                .args(["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"])
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
        .status()
        .unwrap()
        .success();
        assert!(ok, "initdb in {}", data.display());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = LocalPostgres {
            bin: PathBuf::from(bin),
            data,
            port,
            child: None,
        };
        server.run();
        server
    }

    fn run(&mut self) {
        let child = as_postgres(
            Command::new(self.bin.join("postgres"))
                .arg("-D")
                .arg(&self.data)
                .args(["-p", &self.port.to_string(), "-h", "127.0.0.1", "-k"])
                .arg(&self.data)
                .args(["-c", "fsync=off"])
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
        .spawn()
        .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-q"])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("postgres on port {} did not start", self.port);
    }

    /// Fast shutdown (SIGINT to the postmaster, by pid): connections are closed.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    /// Immediate shutdown (SIGQUIT to the postmaster, by pid): every process exits at
    /// once without a checkpoint, and the next start runs crash recovery, as after a
    /// crash; committed transactions survive, nothing else does.
    fn crash(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-QUIT", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for LocalPostgres {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_server_is_unavailable_fast_and_the_same_store_recovers() {
    let Some(bin) = store_core::testing::service_url("FLEETSTATE_POSTGRES_BIN") else {
        return;
    };
    let mut server = tokio::task::spawn_blocking(move || LocalPostgres::start(&bin))
        .await
        .unwrap();
    let timeout = Duration::from_millis(500);
    let store = PostgresStoreBuilder::from_url(&server.url())
        .unwrap()
        .command_timeout(timeout)
        .connect_timeout(timeout)
        .pool_size(4)
        .create_schema(true)
        .build()
        .await
        .unwrap();
    assert_eq!(store.incr("fault", "c", 1, None).await.unwrap().value, 1);
    store
        .set(
            "fault",
            "k",
            Bytes::from_static(b"before"),
            SetOptions::always(),
        )
        .await
        .unwrap();

    let mut server = tokio::task::spawn_blocking(move || {
        server.stop();
        server
    })
    .await
    .unwrap();
    let bound = timeout * 3 + Duration::from_millis(500);
    for attempt in 0..10 {
        let started = Instant::now();
        let results = [
            store.get("fault", "k").await.map(drop),
            store.incr("fault", "c", 1, None).await.map(drop),
            store
                .set("fault", "n", Bytes::new(), SetOptions::if_absent())
                .await
                .map(drop),
        ];
        let took = started.elapsed();
        assert!(took < bound, "attempt {attempt}: three calls took {took:?}");
        for result in results {
            assert!(
                matches!(result, Err(Error::Unavailable { .. })),
                "attempt {attempt}: {result:?}"
            );
        }
    }

    let server = tokio::task::spawn_blocking(move || {
        server.run();
        server
    })
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match store.get("fault", "k").await {
            Ok(entry) => {
                assert_eq!(&entry.unwrap().value[..], b"before", "data survived");
                break;
            }
            Err(Error::Unavailable { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("store did not recover: {e:?}"),
        }
    }
    // No increment sent while the server was down was applied, none twice.
    assert_eq!(store.incr("fault", "c", 1, None).await.unwrap().value, 2);
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_replies_are_maybe_applied_and_never_resent() {
    let Some(url) = crate::services::url() else {
        return;
    };
    let direct = crate::services::connect(&url, &crate::services::default_layout()).await;
    let proxy = WireProxy::start(crate::services::host_port(&url))
        .await
        .unwrap();
    let store = PostgresStoreBuilder::from_url(&crate::services::through_proxy(&url, proxy.port()))
        .unwrap()
        .pool_size(1)
        .command_timeout(Duration::from_millis(500))
        .build()
        .await
        .unwrap();
    let ns = format!("at-most-once/{}", fastrand::u64(..));
    assert_eq!(store.incr(&ns, "c", 1, None).await.unwrap().value, 1);
    let written = store
        .set(&ns, "k", Bytes::from_static(b"v1"), SetOptions::always())
        .await
        .unwrap();
    proxy.cut_next_reply();
    match store.incr(&ns, "c", 1, None).await {
        Err(Error::Unavailable {
            delivery: Delivery::MaybeApplied,
            ..
        }) => {}
        other => panic!("a lost incr reply gave {other:?}"),
    }
    // Once a new connection is up (cutting earlier would cut its handshake instead).
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.get(&ns, "k").await.is_err() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The new connection prepares the statement first: a rejected compare-and-set does.
    let stale = SetOptions::if_version(store_core::raw::version(1));
    let rejected = store.set(&ns, "k", Bytes::new(), stale).await.unwrap();
    assert!(!rejected.is_written());
    proxy.cut_next_reply();
    let cas = SetOptions::if_version(written.version().unwrap());
    match store.set(&ns, "k", Bytes::from_static(b"v2"), cas).await {
        Err(Error::Unavailable {
            delivery: Delivery::MaybeApplied,
            ..
        }) => {}
        other => panic!("a lost compare-and-set reply gave {other:?}"),
    }
    // Each committed once: a re-send would count 3 or reject the write.
    assert_eq!(
        &direct.get(&ns, "c").await.unwrap().unwrap().value[..],
        b"2"
    );
    assert_eq!(
        &direct.get(&ns, "k").await.unwrap().unwrap().value[..],
        b"v2"
    );
    // The pool replaces the broken connection: the same store works on.
    assert_eq!(store.incr(&ns, "c", 1, None).await.unwrap().value, 3);
    direct.clear(&ns, "").await.unwrap();
}

#[tokio::test]
async fn a_missing_table_is_misconfigured_naming_it_and_the_fix() {
    let Some(url) = crate::services::url() else {
        return;
    };
    let layout = TableLayout::new(&format!("missing_{}", fastrand::u32(..))).unwrap();
    let err = PostgresStoreBuilder::from_url(&url)
        .unwrap()
        .layout(layout.clone())
        .build()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Misconfigured(_)), "{err:?}");
    assert!(
        text.contains(layout.table()) && text.contains("create_schema"),
        "{text}"
    );
    // A table dropped under a running store: the same error from the operation.
    let store = crate::services::connect(&url, &layout).await;
    let client = store.pool().get().await.unwrap();
    client
        .batch_execute(&format!("DROP TABLE \"{}\"", layout.table()))
        .await
        .unwrap();
    drop(client);
    let err = store.get("ns", "k").await.unwrap_err();
    assert!(matches!(err, Error::Misconfigured(_)), "{err:?}");
    assert!(err.to_string().contains(layout.table()), "{err}");
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_within_the_connect_timeout() {
    // Port 9 (discard) is never a PostgreSQL here.
    let started = Instant::now();
    let err = PostgresStoreBuilder::from_url("postgres://u@127.0.0.1:9/db?connect_timeout_ms=300")
        .unwrap()
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

/// The linearizability histories while the server crashes (immediate shutdown, crash
/// recovery on restart) mid-history: every history stays linearizable: a committed
/// write survives, one in flight may or may not have.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn histories_stay_linearizable_across_crash_and_restart() {
    let Some(bin) = store_core::testing::service_url("FLEETSTATE_POSTGRES_BIN") else {
        return;
    };
    let server = tokio::task::spawn_blocking(move || LocalPostgres::start(&bin))
        .await
        .unwrap();
    let url = server.url();
    let server = std::sync::Arc::new(std::sync::Mutex::new(server));
    let mut stores = Vec::new();
    for _ in 0..4 {
        let store = PostgresStoreBuilder::from_url(&url)
            .unwrap()
            .command_timeout(Duration::from_millis(500))
            .connect_timeout(Duration::from_millis(500))
            .pool_size(4)
            .create_schema(true)
            .build()
            .await
            .unwrap();
        stores.push(std::sync::Arc::new(store));
    }
    let crashes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let during = || {
        let (server, crashes) = (server.clone(), crashes.clone());
        async move {
            tokio::time::sleep(Duration::from_millis(fastrand::u64(5..40))).await;
            tokio::task::spawn_blocking(move || {
                let mut server = server.lock().unwrap_or_else(|p| p.into_inner());
                server.crash();
                crashes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                server.run();
            })
            .await
            .unwrap();
        }
    };
    let ns = format!("crash-restart/{}", fastrand::u64(..));
    let run = store_core::conformance::linearizability::check_while(&stores, &ns, 20, during)
        .await
        .unwrap_or_else(|story| panic!("across crashes: {story}"));
    eprintln!(
        "\nPostgreSQL across {} crashes: {run:?}",
        crashes.load(std::sync::atomic::Ordering::SeqCst)
    );
    assert!(
        run.open_ended + run.dropped > 0,
        "no operation met a crash: {run:?}"
    );
}
