//! A real S3-compatible server for the S3 tests: moto's `moto_server`, started on a free
//! loopback port and killed when the guard drops (also when a test panics).
//!
//! It comes from `scripts/setup.sh`, which installs moto into `.tools/venv`; set
//! `ALLEYCAT_MOTO_SERVER` to use another `moto_server`. Without it the tests fail, saying so:
//! they never skip. Shared by the ingest and server tests (the server's include this file).
#![allow(dead_code)]

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use alleycat_ingest::objects::S3Config;

/// The variable naming the `moto_server` to run.
pub const MOTO_SERVER_VAR: &str = "ALLEYCAT_MOTO_SERVER";
/// Test credentials (moto accepts any).
pub const ACCESS_KEY_ID: &str = "alleycat-test-key";
/// Test credentials (moto accepts any).
pub const SECRET_ACCESS_KEY: &str = "alleycat-test-secret";
/// How long moto may take to start on a busy machine.
const START_LIMIT: Duration = Duration::from_secs(60);

/// A running `moto_server`; dropping it kills the process.
pub struct Moto {
    child: Child,
    /// Its URL, `http://127.0.0.1:<port>`.
    pub endpoint: String,
}

fn moto_server() -> PathBuf {
    std::env::var_os(MOTO_SERVER_VAR).map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/venv/bin/moto_server")
    })
}

impl Moto {
    /// Starts moto on a port the OS picks and waits (with a limit) until it says where.
    pub fn start() -> Self {
        let program = moto_server();
        assert!(
            program.is_file(),
            "moto_server not found at {}: run scripts/setup.sh (it installs moto into \
             .tools/venv), or set {MOTO_SERVER_VAR} to a moto_server",
            program.display()
        );
        let mut child = Command::new(&program)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        // Werkzeug logs `Running on http://127.0.0.1:<port>` to stderr; keep draining it after
        // that so moto never blocks on a full pipe.
        let stderr = child.stderr.take().expect("piped stderr");
        let (found, port) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("http://127.0.0.1:").nth(1) {
                    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    let _ = found.send(digits);
                }
            }
        });
        let mut moto = Self { child, endpoint: String::new() };
        let port = port.recv_timeout(START_LIMIT).unwrap_or_else(|_| {
            panic!(
                "{} did not say which port it listens on within {START_LIMIT:?}",
                program.display()
            )
        });
        moto.endpoint = format!("http://127.0.0.1:{port}");
        moto
    }

    /// Creates `bucket` (moto checks no signatures, so a bare `PUT /<bucket>` does).
    pub fn create_bucket(&self, bucket: &str) {
        let address = self.endpoint.trim_start_matches("http://");
        let mut connection = TcpStream::connect(address).expect("moto accepts connections");
        connection.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(
            connection,
            "PUT /{bucket} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        connection.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "creating bucket {bucket}: {answer}");
    }

    /// Settings for `bucket` on this server.
    pub fn s3_config(&self, bucket: &str) -> S3Config {
        S3Config {
            endpoint: Some(self.endpoint.clone()),
            access_key_id: Some(ACCESS_KEY_ID.into()),
            secret_access_key: Some(SECRET_ACCESS_KEY.into()),
            allow_http: true,
            ..S3Config::new(bucket)
        }
    }

    /// The `ALLEYCAT_*` variables that point `alleycat` at `location` on this server.
    pub fn alleycat_env(&self, location: &str) -> Vec<(&'static str, String)> {
        vec![
            ("ALLEYCAT_OBJECT_STORE", location.to_owned()),
            ("ALLEYCAT_S3_ENDPOINT", self.endpoint.clone()),
            ("ALLEYCAT_S3_ACCESS_KEY_ID", ACCESS_KEY_ID.to_owned()),
            ("ALLEYCAT_S3_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.to_owned()),
            ("ALLEYCAT_S3_ALLOW_HTTP", "true".to_owned()),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
