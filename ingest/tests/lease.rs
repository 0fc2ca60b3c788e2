//! The pipeline lease against a real PostgreSQL (started by the testkit): one holder at a time,
//! takeover when the holder's session is terminated or its process is SIGKILLed, and a holder
//! that loses its session reports it.

use std::{
    io::{BufRead, BufReader, Write},
    str::FromStr,
    time::Duration,
};

use alleycat_ingest::lease::{self, AlwaysHeld, Lease, LeaseError, PgLease};
use alleycat_testkit::{child, postgres::Postgres};
use sqlx::postgres::PgConnectOptions;
use tokio::time::timeout;

/// The child process's test (see [`holder_child`]).
const HOLDER: &str = "holder_child";

/// How long a takeover may take ("within seconds").
const TAKEOVER: Duration = Duration::from_secs(5);

fn pg_lease(server: &Postgres) -> PgLease {
    PgLease::new(PgConnectOptions::from_str(&server.url()).unwrap())
}

#[tokio::test]
async fn only_one_of_two_holders_holds_the_lease_at_a_time() {
    let server = Postgres::start().unwrap();
    let (a, b) = (pg_lease(&server), pg_lease(&server));
    let held = a.try_acquire().await.unwrap().expect("the first asker gets the lease");
    assert!(b.try_acquire().await.unwrap().is_none(), "a second holder while the first holds it");
    assert!(a.try_acquire().await.unwrap().is_none(), "not even the same lease twice");
    held.release().await;
    let mut held = b.try_acquire().await.unwrap().expect("free again once released");
    held.check().await.unwrap();
    assert!(a.try_acquire().await.unwrap().is_none());
    // Leases on other keys are independent.
    let other = PgLease::with_key(PgConnectOptions::from_str(&server.url()).unwrap(), 42);
    assert!(other.try_acquire().await.unwrap().is_some());
}

#[tokio::test]
async fn a_holder_whose_session_is_terminated_reports_the_loss_and_another_takes_over_within_seconds(
) {
    let server = Postgres::start().unwrap();
    let (a, b) = (pg_lease(&server), pg_lease(&server));
    let mut held = a.try_acquire().await.unwrap().unwrap();
    held.check().await.unwrap();
    assert_eq!(server.terminate("alleycat-lease").unwrap(), 1);
    let error = timeout(TAKEOVER, lease::until_lost(held.as_mut(), lease::CHECK_INTERVAL))
        .await
        .expect("the holder notices the loss within seconds");
    assert!(matches!(error, LeaseError::Database(_)), "{error:?}");
    let mut taken = timeout(TAKEOVER, lease::acquire(&b, lease::RETRY_INTERVAL))
        .await
        .expect("the other takes over within seconds");
    taken.check().await.unwrap();
}

#[tokio::test]
async fn when_the_holder_process_is_killed_another_server_takes_over_within_seconds() {
    let server = Postgres::start().unwrap();
    let mut child = child::command(HOLDER).env("LEASE_HOLDER_URL", server.url()).spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "held");
    let other = pg_lease(&server);
    assert!(other.try_acquire().await.unwrap().is_none(), "the child holds it");
    child.kill().unwrap(); // SIGKILL: no chance to give the lease up.
    child.wait().unwrap();
    let mut taken = timeout(TAKEOVER, lease::acquire(&other, lease::RETRY_INTERVAL))
        .await
        .expect("another holder within seconds of the kill");
    taken.check().await.unwrap();
}

#[tokio::test]
async fn without_a_shared_database_the_lease_is_always_held() {
    let mut held = AlwaysHeld.try_acquire().await.unwrap().unwrap();
    held.check().await.unwrap();
    assert!(AlwaysHeld.try_acquire().await.unwrap().is_some());
}

/// Not a test on its own: the child process of the SIGKILL test (run by [`child::command`]).
/// Takes the pipeline lease in the PostgreSQL database `LEASE_HOLDER_URL`, says `held`, and
/// keeps checking it every second; says `lost` and exits 1 when it is lost.
#[test]
fn holder_child() {
    if !child::is_child(HOLDER) {
        return;
    }
    let url = std::env::var("LEASE_HOLDER_URL").expect("LEASE_HOLDER_URL");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let lease = PgLease::new(PgConnectOptions::from_str(&url).expect("a PostgreSQL URL"));
        let mut held = lease::acquire(&lease, lease::RETRY_INTERVAL).await;
        let mut out = std::io::stderr();
        writeln!(out, "held").and_then(|()| out.flush()).expect("stderr");
        let error = lease::until_lost(held.as_mut(), lease::CHECK_INTERVAL).await;
        writeln!(out, "lost: {error}").and_then(|()| out.flush()).expect("stderr");
        std::process::exit(1);
    });
}
