//! A throwaway PostgreSQL 15 server for tests, from Debian's binaries.
//!
//! [`Postgres::start`] runs `initdb` into a temporary directory (trust authentication, user
//! `postgres`, no fsync), starts `postgres` on a free loopback port with its socket in the same
//! directory, and returns once it accepts connections (`pg_isready` asked until a deadline).
//! [`Postgres::url`] is its URL; [`Postgres::create_database`] makes a fresh database in it so
//! one server can serve several cases. Dropping it stops the server (immediate shutdown, then
//! SIGKILL) and removes the directory.
//!
//! initdb and postgres refuse to run as root, and CI runs as root: then both run as the
//! `postgres` system user that Debian's package creates (the child drops to its uid and gid
//! before exec, so the process the test holds is postgres itself and killing it leaves nothing
//! behind), and the directory is given to that user. Otherwise they run as the current user.
//!
//! The binaries are looked for in [`DEFAULT_BIN_DIR`], or in `ALLEYCAT_POSTGRES_BIN` when set.

use std::{
    fs,
    io::{self, Read},
    net::TcpListener,
    os::unix::{fs::MetadataExt, process::CommandExt},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// Where Debian's `postgresql-15` package puts the server binaries.
pub const DEFAULT_BIN_DIR: &str = "/usr/lib/postgresql/15/bin";
/// How long the server may take to accept connections after it was started.
pub const START_DEADLINE: Duration = Duration::from_secs(60);
/// The superuser name of the test cluster.
pub const USER: &str = "postgres";
/// How often readiness and exit are asked for while waiting.
const POLL: Duration = Duration::from_millis(20);
/// Ports tried when the free port was taken between finding and binding it.
const PORT_ATTEMPTS: usize = 5;

/// A running throwaway PostgreSQL server.
#[derive(Debug)]
pub struct Postgres {
    child: Option<Child>,
    port: u16,
    bin: PathBuf,
    dir: tempfile::TempDir,
    settings: Vec<String>,
}

/// The uid and gid to run the server as, when the test runs as root.
fn run_as() -> io::Result<Option<(u32, u32)>> {
    if fs::metadata("/proc/self")?.uid() != 0 {
        return Ok(None);
    }
    let passwd = fs::read_to_string("/etc/passwd")?;
    let entry = passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&USER) && fields.len() > 3)
        .ok_or_else(|| {
            io::Error::other(
                "running as root and there is no `postgres` user to run PostgreSQL as: \
                 install Debian's postgresql package (scripts/setup.sh)",
            )
        })?;
    let number = |s: &str| s.parse::<u32>().map_err(io::Error::other);
    Ok(Some((number(entry[2])?, number(entry[3])?)))
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn command(bin: &Path, name: &str, user: Option<(u32, u32)>) -> Command {
    let mut command = Command::new(bin.join(name));
    if let Some((uid, gid)) = user {
        command.uid(uid).gid(gid);
    }
    command.env("LC_ALL", "C.UTF-8").env_remove("PGDATA");
    command
}

impl Postgres {
    /// Starts a fresh server and waits until it accepts connections.
    pub fn start() -> io::Result<Self> {
        Self::start_with(&[])
    }

    /// [`start`](Self::start) with server settings on top of the test defaults, e.g.
    /// `[("fsync", "on"), ("synchronous_commit", "on")]` for a benchmark of durable commits.
    pub fn start_with(settings: &[(&str, &str)]) -> io::Result<Self> {
        let bin = std::env::var_os("ALLEYCAT_POSTGRES_BIN")
            .map_or_else(|| PathBuf::from(DEFAULT_BIN_DIR), PathBuf::from);
        if !bin.join("postgres").is_file() {
            return Err(io::Error::other(format!(
                "no PostgreSQL server binaries in {}: install Debian's postgresql package \
                 (scripts/setup.sh), or set ALLEYCAT_POSTGRES_BIN",
                bin.display()
            )));
        }
        let user = run_as()?;
        let dir = tempfile::Builder::new().prefix("alleycat-pg-").tempdir()?;
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))?;
        }
        let data = dir.path().join("data");
        let output = command(&bin, "initdb", user)
            .arg("-D")
            .arg(&data)
            .args(["-U", USER, "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
            .stdin(Stdio::null())
            .output()?;
        if !output.status.success() {
            return Err(io::Error::other(format!(
                "initdb failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        let settings = settings.iter().map(|(name, value)| format!("{name}={value}")).collect();
        let mut server = Self { child: None, port: 0, bin, dir, settings };
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            server.port = free_port()?;
            match server.run(user) {
                Ok(()) => return Ok(server),
                Err(error) => {
                    server.stop_child();
                    last_error = Some(error);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("PostgreSQL did not start")))
    }

    /// Starts `postgres` on `self.port` and waits until it is ready or has exited.
    fn run(&mut self, user: Option<(u32, u32)>) -> io::Result<()> {
        let log_path = self.dir.path().join(format!("postgres-{}.log", self.port));
        let log = fs::File::create(&log_path)?;
        let child = command(&self.bin, "postgres", user)
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-p", &self.port.to_string(), "-h", "127.0.0.1", "-k"])
            .arg(self.dir.path())
            // A test database: durability is not the point, speed is.
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"])
            .args(["-c", "max_connections=200", "-c", "shared_buffers=16MB"])
            // Later settings win over the defaults above.
            .args(self.settings.iter().flat_map(|setting| ["-c", setting.as_str()]))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        self.child = Some(child);
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().transpose()) {
                let status = status?;
                let mut text = String::new();
                fs::File::open(&log_path)?.read_to_string(&mut text)?;
                self.child = None;
                return Err(io::Error::other(format!("postgres exited ({status}): {text}")));
            }
            if self.is_ready()? {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "PostgreSQL did not accept connections within {START_DEADLINE:?}"
                )));
            }
            std::thread::sleep(POLL);
        }
    }

    fn is_ready(&self) -> io::Result<bool> {
        let status = Command::new(self.bin.join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", USER])
            .stdin(Stdio::null())
            .status()?;
        Ok(status.success())
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of the database `name` on this server.
    pub fn url_of(&self, name: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{name}", self.port)
    }

    /// The URL of the `postgres` database.
    pub fn url(&self) -> String {
        self.url_of("postgres")
    }

    /// Runs `sql` in the `postgres` database with `psql` (stopping at the first error); returns
    /// what it printed, unaligned, without headers.
    pub fn psql(&self, sql: &str) -> io::Result<String> {
        self.psql_in("postgres", sql)
    }

    /// [`psql`](Self::psql) in the database `database`.
    pub fn psql_in(&self, database: &str, sql: &str) -> io::Result<String> {
        let url = self.url_of(database);
        let output = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", &url, "-c", sql])
            .stdin(Stdio::null())
            .output()?;
        if !output.status.success() {
            return Err(io::Error::other(format!(
                "psql failed on {sql:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// Creates the empty database `name` and returns its URL.
    pub fn create_database(&self, name: &str) -> io::Result<String> {
        self.psql(&format!("CREATE DATABASE \"{name}\""))?;
        Ok(self.url_of(name))
    }

    /// Ends every session of `application_name` (as `pg_terminate_backend` does when an
    /// operator kills them); returns how many were ended.
    pub fn terminate(&self, application_name: &str) -> io::Result<usize> {
        let ended = self.psql(&format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = '{}'",
            application_name.replace('\'', "''")
        ))?;
        ended.parse().map_err(io::Error::other)
    }

    /// Stops the server now and removes its directory.
    pub fn stop(mut self) {
        self.stop_child();
    }

    fn stop_child(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        // SIGQUIT is PostgreSQL's immediate shutdown: the postmaster ends its backends too.
        let quit = Command::new("kill")
            .args(["-QUIT", &child.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while quit.as_ref().is_ok_and(|s| s.success()) && Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(POLL);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop_child();
    }
}
