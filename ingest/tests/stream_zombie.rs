//! The zombie of issue #19: the data directory and the server's log on one disk that fills up.
//! Every put then failed with `its writer stopped` until a restart, because the shard worker
//! logged the failed write, the log could not be written either, and `tracing-subscriber`'s
//! fallback `eprintln!` panicked on the full disk, ending the worker thread.
//!
//! The test runs itself again as a child process with the logging the server had (the fmt
//! subscriber with its defaults), a stream on [`MemFs`] whose capacity runs out and comes back,
//! and a log on the same "disk": its writes fail with `ENOSPC` while the stream's do, and its
//! stderr, where tracing-subscriber reports a failed log write, is `/dev/full`. The child
//! reports on stdout.

use std::{
    io,
    process::Stdio,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
};

use alleycat_ingest::stream::{
    DiskStream, ManualClock, MemFs, PutRecord, RecordErrorCode, Stream, StreamConfig,
};
use alleycat_testkit::child as rerun;
use bytes::Bytes;

const TEST: &str =
    "a_disk_full_for_the_log_too_leaves_the_shard_writers_storing_once_space_is_back";

#[test]
fn a_disk_full_for_the_log_too_leaves_the_shard_writers_storing_once_space_is_back() {
    if rerun::is_child(TEST) {
        child();
        return;
    }
    let dev_full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
    // Unlike other children, this one reports on stdout: its stderr is the full disk.
    let child = rerun::command(TEST)
        .stdout(Stdio::piped())
        .stderr(dev_full)
        .output()
        .expect("run the child");
    let report = String::from_utf8_lossy(&child.stdout);
    assert!(child.status.success(), "child failed ({}):\n{report}", child.status);
    assert!(report.contains("stored again after the disk had room"), "{report}");
}

fn record(n: usize) -> PutRecord {
    PutRecord {
        partition_key: format!("racer-{n}"),
        explicit_hash_key: None,
        data: Bytes::from(vec![b'x'; 1000]),
    }
}

/// Whether the disk holding the stream and the log is full.
static DISK_FULL: AtomicBool = AtomicBool::new(false);

/// The log file on the stream's disk: lines are dropped while there is room (nobody reads
/// them), and fail with `ENOSPC` while the disk is full.
struct LogOnTheSameDisk;

impl io::Write for LogOnTheSameDisk {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if DISK_FULL.load(Ordering::SeqCst) {
            return Err(io::Error::from_raw_os_error(28));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Fills the disk, frees it, and checks puts are stored again. Reports on stdout; a failed
/// check exits non-zero.
// Stdout is the child's only way to tell the parent what it saw: stderr is the full disk.
#[allow(clippy::print_stdout)]
fn child() {
    // The subscriber the server used (`fmt()` reports failed writes on stderr).
    tracing_subscriber::fmt().with_writer(|| LogOnTheSameDisk).init();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mem = MemFs::new();
        let config = StreamConfig { shards: 4, ..StreamConfig::default() };
        let stream = DiskStream::open_with(
            Arc::new(mem.clone()),
            Arc::new(ManualClock::new(1_767_225_600_000)),
            "/stream",
            config,
        )
        .expect("open");
        let out = stream.put_records((0..20).map(record).collect()).await.unwrap();
        assert_eq!(out.failed_record_count, 0, "{out:?}");
        println!("stored 20 records");

        mem.set_capacity(mem.used_bytes());
        DISK_FULL.store(true, Ordering::SeqCst);
        let out = stream.put_records((0..20).map(record).collect()).await.unwrap();
        println!("disk full: {} of 20 failed", out.failed_record_count);
        assert_eq!(out.failed_record_count, 20);

        mem.set_capacity(u64::MAX);
        DISK_FULL.store(false, Ordering::SeqCst);
        let out = stream.put_records((0..20).map(record).collect()).await.unwrap();
        for result in &out.records {
            if let Err(error) = result {
                println!("after space came back: {:?} {}", error.code, error.message);
                assert_ne!(error.code, RecordErrorCode::InternalFailure);
            }
        }
        assert_eq!(out.failed_record_count, 0);
        println!("stored again after the disk had room");
        stream.close().await;
    });
}
