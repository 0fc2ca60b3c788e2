//! The `alleycat` binary as the tests and benchmarks start it, and what it delivered.
//!
//! [`serve`] starts `alleycat serve` on a free port (unless told otherwise) and returns once the
//! server logged the line that gives its address (`… address=127.0.0.1:PORT`). [`delivered`]
//! reads every record out of the delivered objects under a data directory, so that a test can
//! compare them with what was acknowledged.

use std::{
    ffi::OsStr,
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

/// How long a server may take to print its address (a 40,000-racer roster is generated first).
pub const START_LIMIT: Duration = Duration::from_secs(120);

/// Starts `binary serve` with `env` on top of the defaults a test needs (`ALLEYCAT_PORT=0`,
/// `ALLEYCAT_LOG=info`, `NO_COLOR=1`; `env` may override them) and returns it with its address.
/// Its logs are drained on a thread, so it never blocks on a full pipe; warnings and errors are
/// passed on to this process's stderr.
///
/// # Panics
/// When the binary cannot be started or prints no address within [`START_LIMIT`].
pub fn serve<K, V>(binary: &Path, env: impl IntoIterator<Item = (K, V)>) -> (Child, SocketAddr)
where
    K: AsRef<OsStr>,
    V: AsRef<OsStr>,
{
    let mut child = Command::new(binary)
        .arg("serve")
        .env("ALLEYCAT_PORT", "0")
        .env("ALLEYCAT_LOG", "info")
        .env("NO_COLOR", "1")
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
    let stderr = child.stderr.take().expect("stderr is piped");
    let (found, address) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            // The web server's line, not the Kinesis API's (which is logged first when on).
            let web = !line.contains("Kinesis");
            if let Some(rest) = line.split("address=").nth(1).filter(|_| web) {
                let _ = found.send(rest.split_whitespace().next().unwrap_or_default().to_owned());
            } else if line.contains(" ERROR ") || line.contains(" WARN ") {
                eprintln!("server: {line}");
            }
        }
    });
    let address = address
        .recv_timeout(START_LIMIT)
        .unwrap_or_else(|_| panic!("{} printed no address", binary.display()));
    let address = address.parse().unwrap_or_else(|e| panic!("address {address:?}: {e}"));
    (child, address)
}

/// Every (race, racer, second) in the delivered objects under `data` (`delivery/**.gz`), with
/// repeats.
pub fn delivered(data: &Path) -> Vec<(u64, u64, u64)> {
    let mut found = Vec::new();
    let mut dirs = vec![data.join("delivery")];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "gz") {
                let gz = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                found.extend(events_in(&gz));
            }
        }
    }
    found
}

/// Every (race, racer, second) in one delivered object (gzip NDJSON).
///
/// # Panics
/// When it is not gzip NDJSON of delivered events.
pub fn events_in(gz: &[u8]) -> Vec<(u64, u64, u64)> {
    let ndjson = alleycat_domain::gzip::gunzip_members(gz, usize::MAX).expect("gzip");
    String::from_utf8(ndjson)
        .expect("UTF-8 text")
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            let field = |name: &str| v[name].as_u64().unwrap_or_else(|| panic!("{name} in {line}"));
            (field("raceId"), field("racerId"), field("second"))
        })
        .collect()
}
