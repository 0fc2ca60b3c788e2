//! A child process for the lease tests (`tests/lease.rs`): takes the pipeline lease in the
//! PostgreSQL database given as the first argument (on the advisory-lock key given as the second,
//! or the pipeline's), prints `held`, and keeps checking it every second; prints `lost` and exits
//! 1 when it is lost. The test SIGKILLs it to see another holder take over.

use std::{io::Write, str::FromStr};

use alleycat_ingest::lease::{self, PgLease, LEASE_KEY};
use sqlx::postgres::PgConnectOptions;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("usage: lease_holder <postgres-url> [key]");
    let key = args.next().map_or(LEASE_KEY, |k| k.parse().expect("the key is an i64"));
    let options = PgConnectOptions::from_str(&url).expect("a PostgreSQL URL");
    let lease = PgLease::with_key(options, key);
    let mut held = lease::acquire(&lease, lease::RETRY_INTERVAL).await;
    let mut out = std::io::stdout();
    writeln!(out, "held").and_then(|()| out.flush()).expect("stdout");
    let error = lease::until_lost(held.as_mut(), lease::CHECK_INTERVAL).await;
    writeln!(out, "lost: {error}").and_then(|()| out.flush()).expect("stdout");
    std::process::exit(1);
}
