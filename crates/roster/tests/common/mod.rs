//! What the binary's tests share: databases on either backend, `roster serve` processes,
//! and a small HTTP/1.1 client over plain sockets.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// Declares one test body (`fn name(db: Db)`) that runs once per backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name($crate::common::Db::sqlite())
            }

            #[test]
            fn postgres() {
                super::$name($crate::common::Db::postgres())
            }
        }
    )*};
}

/// A database of a test's own.
pub struct Db {
    pub url: String,
    storage: Storage,
}

enum Storage {
    Sqlite(tempfile::TempDir),
    Postgres { admin_url: String, schema: String },
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

async fn admin_client(url: &str) -> tokio_postgres::Client {
    let (client, connection) =
        tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
}

impl Db {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("roster.db").display());
        Self { url, storage: Storage::Sqlite(dir) }
    }

    /// A fresh schema on the server named by ROSTER_TEST_POSTGRES_URL; never skipped.
    pub fn postgres() -> Self {
        let admin_url = std::env::var("ROSTER_TEST_POSTGRES_URL").unwrap_or_else(|_| {
            panic!(
                "ROSTER_TEST_POSTGRES_URL is not set: run the suite with scripts/test (see README)"
            )
        });
        let schema = format!("t_{}", roster_core::GroupId::generate().expect("random"));
        block_on(async {
            admin_client(&admin_url)
                .await
                .batch_execute(&format!("CREATE SCHEMA {schema}"))
                .await
                .expect("create schema");
        });
        let url = format!("{admin_url}?options=-csearch_path%3D{schema}");
        Self { url, storage: Storage::Postgres { admin_url, schema } }
    }

    /// Whether `needle` appears anywhere in what the database stores.
    pub fn contains(&self, needle: &str) -> bool {
        match &self.storage {
            Storage::Sqlite(dir) => std::fs::read_dir(dir.path()).expect("dir").any(|entry| {
                let bytes = std::fs::read(entry.expect("entry").path()).expect("read");
                bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
            }),
            Storage::Postgres { admin_url, schema } => block_on(async {
                let client = admin_client(admin_url).await;
                let tables =
                    ["organizations", "users", "org_members", "tokens", "guests", "groups"];
                for table in tables {
                    let rows = client
                        .query(&format!("SELECT t::text FROM {schema}.{table} t"), &[])
                        .await
                        .expect("dump");
                    if rows.iter().any(|row| row.get::<_, String>(0).contains(needle)) {
                        return true;
                    }
                }
                false
            }),
        }
    }
}

pub fn roster() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_roster"));
    command.env_remove("ROSTER_DATABASE").env_remove("ROSTER_LISTEN");
    command
}

/// A running `roster serve`, stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Server {
    child: Child,
    pub addr: String,
    /// What it printed before it started listening.
    pub banner: Vec<String>,
}

impl Server {
    pub fn start(db: &str) -> Self {
        Self::start_with(db, &[])
    }

    /// With extra `roster serve` options.
    pub fn start_with(db: &str, options: &[&str]) -> Self {
        Self::spawn(db, options, Stdio::null())
    }

    /// With its log (stderr) written to `log`.
    pub fn start_logging_to(db: &str, options: &[&str], log: &std::path::Path) -> Self {
        Self::spawn(db, options, std::fs::File::create(log).expect("log file").into())
    }

    fn spawn(db: &str, options: &[&str], stderr: Stdio) -> Self {
        let mut child = roster()
            .args(["serve", "--listen", "127.0.0.1:0", "--database", db, "--pool-size", "8"])
            .args(options)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn");
        let stdout = child.stdout.take().expect("stdout");
        let mut banner = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("line");
            if let Some(rest) = line.strip_prefix("Roster is listening on http://") {
                let addr = rest.split_whitespace().next().expect("addr").to_owned();
                return Self { child, addr, banner };
            }
            banner.push(line);
        }
        let status = child.wait();
        panic!("serve exited before listening ({status:?}): {banner:?}");
    }

    pub fn printed(&self, prefix: &str) -> Option<String> {
        self.banner.iter().find_map(|line| line.strip_prefix(prefix)).map(str::to_owned)
    }

    /// SIGTERM, then the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        self.signal("-TERM");
        self.wait()
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// The exit status, once it has exited.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().expect("wait")
    }
}

/// A failing test must not leave a server behind.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer: status, headers (lowercased names) and JSON body (`Null` when empty).
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// One request on a fresh connection, as Tallyfy's clients send them.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Answer {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         X-Tallyfy-Client: APIClient\r\nConnection: close\r\n"
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    let body = body.unwrap_or_default();
    request.push_str(&format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    stream.write_all(request.as_bytes()).expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("head/body");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let body = if body.trim().is_empty() {
        Value::Null
    } else {
        // Not every answer is JSON (`/metrics` is text): those come back as a string.
        serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()))
    };
    Answer { status, headers, body }
}

/// A PostgreSQL cluster of a test's own, which the test may stop and start under a running
/// server (the shared one of `scripts/test` must stay up for every other test). Needs the
/// server binaries, as `scripts/with-postgres` does (`PG_BIN` overrides where they are);
/// as root the server runs as the `postgres` user. Removed when dropped.
pub struct PgCluster {
    bin: std::path::PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
}

impl PgCluster {
    pub fn start() -> Self {
        let bin = std::env::var_os("PG_BIN").map(std::path::PathBuf::from).unwrap_or_else(|| {
            let mut found: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
                .expect("PostgreSQL's server binaries (/usr/lib/postgresql, or set PG_BIN)")
                .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
                .filter(|bin| bin.join("initdb").exists())
                .collect();
            found.sort_by_key(|bin| {
                bin.parent().and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok()).unwrap_or(0)
            });
            found.pop().expect("no PostgreSQL server binaries under /usr/lib/postgresql")
        });
        let dir = tempfile::tempdir().expect("tempdir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let cluster = Self { bin, dir, port };
        if cluster.is_root() {
            let status = Command::new("chown")
                .args(["postgres"])
                .arg(cluster.dir.path())
                .status()
                .expect("chown");
            assert!(status.success(), "chown postgres");
        }
        let data = cluster.data();
        cluster.run("initdb", &["-D", &data, "-U", "postgres", "--auth=trust", "-E", "UTF8"]);
        cluster.start_server();
        cluster
    }

    fn is_root(&self) -> bool {
        Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let program = self.bin.join(tool);
        let mut command = if self.is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        let output = command.args(args).output().expect(tool);
        assert!(
            output.status.success(),
            "{tool} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start_server(&self) {
        let settings = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log").display().to_string();
        self.run("pg_ctl", &["-D", &self.data(), "-l", &log, "-w", "-o", &settings, "start"]);
    }

    /// A fast shutdown: every connection is cut, new ones are refused.
    pub fn stop_server(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data();
        let program = self.bin.join("pg_ctl");
        let args = ["-D", data.as_str(), "-m", "immediate", "stop"];
        let _ = if self.is_root() {
            Command::new("runuser").args(["-u", "postgres", "--"]).arg(program).args(args).output()
        } else {
            Command::new(program).args(args).output()
        };
    }
}
