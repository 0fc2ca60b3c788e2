//! The throwaway PostgreSQL: starts, answers, makes databases, and leaves nothing behind.

use alleycat_testkit::postgres::Postgres;

#[test]
fn a_throwaway_server_answers_and_is_gone_once_dropped() {
    let server = Postgres::start().unwrap();
    assert_eq!(server.psql("SELECT 1 + 1").unwrap(), "2");
    let url = server.create_database("made").unwrap();
    assert!(url.ends_with(&format!(":{}/made", server.port())), "{url}");
    assert!(server.psql("CREATE DATABASE made").is_err(), "a clear error from psql");
    let port = server.port();
    drop(server);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens on the port once dropped"
    );
}

#[test]
fn two_servers_run_side_by_side_on_their_own_ports() {
    let (a, b) = (Postgres::start().unwrap(), Postgres::start().unwrap());
    assert_ne!(a.port(), b.port());
    a.psql("CREATE TABLE only_in_a (x int)").unwrap();
    assert_eq!(
        b.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'").unwrap(),
        "0"
    );
    a.stop();
    assert_eq!(b.psql("SELECT 1").unwrap(), "1");
}
