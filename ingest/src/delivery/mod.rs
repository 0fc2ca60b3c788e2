//! The Firehose-like delivery stage: reads every shard of the stream as the named consumer
//! [`CONSUMER`], transforms each record ([`transform`]), buffers by size and time, and stores each
//! batch as one gzip NDJSON object through `object_store`.
//!
//! # Promises
//!
//! - **Buffering hints, whichever first**: the buffer is flushed when it holds
//!   [`DeliveryConfig::buffer_bytes`] of lines (default [`DEFAULT_BUFFER_BYTES`], 1 MiB), or
//!   [`DeliveryConfig::interval`] after the first record entered it (default
//!   [`DEFAULT_INTERVAL`], 60 s), on the clock even if nothing else arrives; and on shutdown.
//! - **Objects**: `delivery/YYYY/MM/DD/HH/<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid>.gz`
//!   (UTC, from the arrival time of the batch's oldest record), gzip (RFC 1952, readable by
//!   `gzip -d`) of newline-delimited JSON, one [`transform::DeliveredEvent`] per line. Records
//!   that fail the transform go to the same name under `processing-failed/`, one
//!   [`transform::FailedRecord`] per line (Firehose's fields plus shard and sequence number).
//! - **Checkpoint after durable storage**: a shard is checkpointed up to the last record of a
//!   batch only after the batch's objects are stored (the local store fsyncs). A failed write
//!   is retried with backoff, keeping the batch, for up to [`DeliveryConfig::max_retry`]
//!   (default: the stream's retention); reading pauses meanwhile (backpressure), so nothing is
//!   skipped.
//! - **Order**: each shard is read in sequence order and batches are stored and checkpointed
//!   one after another, so records are never reordered within a shard. After a reshard, a
//!   child shard is read only once its parents are read to their end
//!   ([`crate::stream::lineage`], as the KCL does), so one racer's records stay in order too.
//!   Checkpoints are per shard: a closed parent whose checkpoint is its last record (or that
//!   is empty) is found finished at once on restart, and its children go on from theirs.
//! - **At least once**: a crash between storing an object and checkpointing re-delivers those
//!   records in a new object; the merge counts each (race, racer, second) once, so the
//!   duplicates are harmless.
//!
//! Delivery tells the merge about each stored object on a channel ([`Delivery::notify`]); it
//! never waits for the merge.

pub mod batch;
pub mod naming;
pub mod transform;

use std::{future::Future, sync::Arc, time::Duration};

use alleycat_domain::{gzip::gzip, DEFAULT_RACE_SECONDS};
use object_store::{path::Path, ObjectStore, ObjectStoreExt, PutPayload};
use tokio::{
    sync::{mpsc, watch},
    time::Instant,
};
use tracing::{debug, info, warn};
use uuid::Uuid;

use crate::{
    objects::{DELIVERY_PREFIX, FAILED_PREFIX},
    stream::{
        lineage::{self, Lineage, ShardRead},
        Clock, ShardId, StartingPosition, Stream, StreamError, SystemClock, DEFAULT_RETENTION,
        MAX_RECORDS_PER_GET,
    },
};
use batch::{Batch, Page};

/// The stream consumer name delivery reads and checkpoints as.
pub const CONSUMER: &str = "delivery";
/// Default size hint: flush when this many bytes of lines are buffered (Firehose: 1 MiB).
pub const DEFAULT_BUFFER_BYTES: usize = 1024 * 1024;
/// Default interval hint: flush this long after the first record entered the buffer
/// (Firehose's default, 60 s).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// Default stream name in object names.
pub const DEFAULT_STREAM_NAME: &str = "alleycat";
/// Default delivery-stream version in object names.
pub const DEFAULT_VERSION: u32 = 1;
/// Default records per read.
pub const DEFAULT_READ_LIMIT: usize = MAX_RECORDS_PER_GET;
/// Default wait at the tip of a shard for new records.
pub const DEFAULT_READ_WAIT: Duration = Duration::from_secs(1);
/// Default least time between two reads of a shard that reached its tip: delivery buffers for
/// seconds anyway, and reading at every append (a thousand times a second at 1,000 racers) cost
/// more CPU than the delivery itself. A full page is followed by the next read at once.
pub const DEFAULT_READ_SPACING: Duration = Duration::from_millis(200);
/// Default gzip level of objects: 1 keeps delivery fast; objects are read once by the merge.
pub const DEFAULT_GZIP_LEVEL: u32 = 1;
/// The first wait before retrying a failed write or read.
pub const RETRY_INITIAL: Duration = Duration::from_millis(100);
/// The longest wait between retries.
pub const RETRY_MAX: Duration = Duration::from_secs(10);
/// Default time to keep retrying a failed write: as long as the stream keeps the data.
pub const DEFAULT_MAX_RETRY: Duration = DEFAULT_RETENTION;
/// Default time a shutdown waits for the last flush when storage is failing.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// How delivery runs. Every field has a default (see the constants).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryConfig {
    /// Size hint in bytes of buffered lines (default [`DEFAULT_BUFFER_BYTES`]).
    pub buffer_bytes: usize,
    /// Interval hint (default [`DEFAULT_INTERVAL`]); tests and demos use about 1 s.
    pub interval: Duration,
    /// The stream name in object names (default [`DEFAULT_STREAM_NAME`]).
    pub stream_name: String,
    /// The version in object names (default [`DEFAULT_VERSION`]).
    pub version: u32,
    /// The race length that bounds `second` (default [`DEFAULT_RACE_SECONDS`]).
    pub race_seconds: u32,
    /// The consumer name (default [`CONSUMER`]).
    pub consumer: String,
    /// Records per read (default [`DEFAULT_READ_LIMIT`]).
    pub read_limit: usize,
    /// Wait at a shard's tip (default [`DEFAULT_READ_WAIT`]).
    pub read_wait: Duration,
    /// Least time between reads of a shard once at its tip (default [`DEFAULT_READ_SPACING`];
    /// kept below the interval hint).
    pub read_spacing: Duration,
    /// gzip level 0 to 9 (default [`DEFAULT_GZIP_LEVEL`]).
    pub gzip_level: u32,
    /// How long a failed write is retried before delivery stops with an error (default
    /// [`DEFAULT_MAX_RETRY`]).
    pub max_retry: Duration,
    /// How long shutdown keeps retrying the last flush (default [`DEFAULT_SHUTDOWN_TIMEOUT`]).
    pub shutdown_timeout: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            buffer_bytes: DEFAULT_BUFFER_BYTES,
            interval: DEFAULT_INTERVAL,
            stream_name: DEFAULT_STREAM_NAME.to_string(),
            version: DEFAULT_VERSION,
            race_seconds: DEFAULT_RACE_SECONDS,
            consumer: CONSUMER.to_string(),
            read_limit: DEFAULT_READ_LIMIT,
            read_wait: DEFAULT_READ_WAIT,
            read_spacing: DEFAULT_READ_SPACING,
            gzip_level: DEFAULT_GZIP_LEVEL,
            max_retry: DEFAULT_MAX_RETRY,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }
}

/// Why delivery stopped.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Storing `path` kept failing for longer than allowed (`max_retry`, or the shutdown
    /// timeout); the batch was not checkpointed and is read again on restart.
    #[error("storing {path} failed for {attempts} attempts over {elapsed:?}: {source}")]
    Storage {
        /// The object.
        path: String,
        /// How many writes were tried.
        attempts: u32,
        /// For how long.
        elapsed: Duration,
        /// The last error.
        source: object_store::Error,
    },
    /// Checkpointing kept failing for longer than allowed; the objects are stored and will be
    /// delivered again (harmlessly) on restart.
    #[error("checkpointing {shard} failed: {source}")]
    Checkpoint {
        /// The shard.
        shard: ShardId,
        /// The last error.
        source: StreamError,
    },
}

/// What delivery has done since start; watch it to know when records are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeliveryProgress {
    /// Records read from the stream (buffered or delivered).
    pub read: u64,
    /// Objects stored under `delivery/`.
    pub objects: u64,
    /// Objects stored under `processing-failed/`.
    pub failed_objects: u64,
    /// Records delivered.
    pub records: u64,
    /// Records that failed the transform.
    pub failed_records: u64,
    /// Compressed bytes stored.
    pub bytes: u64,
    /// Batches stored and checkpointed.
    pub flushes: u64,
}

/// The delivery stage, ready to [`run`](Delivery::run).
pub struct Delivery {
    stream: Arc<dyn Stream>,
    store: Arc<dyn ObjectStore>,
    config: DeliveryConfig,
    notify: Option<mpsc::UnboundedSender<Path>>,
    progress: Arc<watch::Sender<DeliveryProgress>>,
    clock: Arc<dyn Clock>,
}

impl Delivery {
    /// Delivery from `stream` into `store`, on the wall clock (see [`Delivery::clock`]).
    pub fn new(
        stream: Arc<dyn Stream>,
        store: Arc<dyn ObjectStore>,
        config: DeliveryConfig,
    ) -> Self {
        Self {
            stream,
            store,
            config,
            notify: None,
            progress: Arc::new(watch::channel(Default::default()).0),
            clock: Arc::new(SystemClock),
        }
    }

    /// Reads the wall time from `clock`: the `attemptEndingTimestamp` of records that fail the
    /// transform. (Buffering intervals and retries run on tokio's clock, which tests pause.)
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Sends the path of each stored `delivery/` object on `merge` (the merge's notifications).
    pub fn notify(mut self, merge: mpsc::UnboundedSender<Path>) -> Self {
        self.notify = Some(merge);
        self
    }

    /// Watches what delivery has done.
    pub fn progress(&self) -> watch::Receiver<DeliveryProgress> {
        self.progress.subscribe()
    }

    /// Runs until `shutdown` resolves, then flushes what is buffered (and what was already read)
    /// and returns. Returns early only when storage or checkpoints keep failing past the limits.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), DeliveryError> {
        let Delivery { stream, store, config, notify, progress, clock } = self;
        let config = Arc::new(config);
        tokio::pin!(shutdown);

        let (stop_tx, stop_rx) = watch::channel(false);
        let shards = stream.shards();
        let (page_tx, mut pages) = mpsc::channel::<Page>(shards.len().max(1) * 2);
        let readers = {
            let (stream, config, clock, stop) =
                (stream.clone(), config.clone(), clock.clone(), stop_rx.clone());
            tokio::spawn(lineage::read_all(stream.clone(), Lineage::new(), move |shard| {
                let (stream, config, clock) = (stream.clone(), config.clone(), clock.clone());
                read_shard(stream, shard, config, clock, page_tx.clone(), stop.clone())
            }))
        };

        let (flush_tx, flush_rx) = mpsc::channel::<Batch>(1);
        let flusher = tokio::spawn(flush_batches(Flusher {
            stream: stream.clone(),
            store,
            config: config.clone(),
            notify,
            progress: progress.clone(),
            stop: stop_rx.clone(),
            batches: flush_rx,
        }));
        info!(
            shards = shards.len(),
            buffer_bytes = config.buffer_bytes,
            interval_ms = config.interval.as_millis() as u64,
            "Delivery started."
        );

        let mut batch = Batch::default();
        let mut deadline: Option<Instant> = None;
        'run: loop {
            tokio::select! {
                biased;
                _ = &mut shutdown => break 'run,
                _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    deadline = None;
                    tokio::select! {
                        _ = &mut shutdown => break 'run,
                        permit = flush_tx.reserve() => match permit {
                            Ok(permit) => permit.send(std::mem::take(&mut batch)),
                            Err(_) => break 'run,
                        },
                    }
                }
                page = pages.recv() => {
                    let Some(page) = page else { break 'run };
                    progress.send_modify(|p| p.read += page.items.len() as u64);
                    let mut start = 0;
                    for item in &page.items {
                        if batch.is_empty() {
                            deadline = Some(Instant::now() + config.interval);
                        }
                        batch.push(item, &page.bytes[start..item.end]);
                        start = item.end;
                        if batch.size() >= config.buffer_bytes {
                            deadline = None;
                            if flush_tx.send(std::mem::take(&mut batch)).await.is_err() {
                                break 'run;
                            }
                        }
                    }
                }
            }
        }

        // Shutdown: stop reading, take what was already read, flush it all.
        let _ = stop_tx.send(true);
        let _ = readers.await;
        while let Ok(page) = pages.try_recv() {
            progress.send_modify(|p| p.read += page.items.len() as u64);
            let mut start = 0;
            for item in &page.items {
                batch.push(item, &page.bytes[start..item.end]);
                start = item.end;
                if batch.size() >= config.buffer_bytes {
                    let _ = flush_tx.send(std::mem::take(&mut batch)).await;
                }
            }
        }
        if !batch.is_empty() {
            let _ = flush_tx.send(batch).await;
        }
        drop(flush_tx);
        let result = flusher.await.unwrap_or(Ok(()));
        info!(ok = result.is_ok(), "Delivery stopped.");
        result
    }
}

/// Reads one shard from the consumer's checkpoint, page by page, transforms each page (shards
/// transform in parallel) and sends it on `pages`, until stopped or, for a closed shard, until
/// its last record is sent.
async fn read_shard(
    stream: Arc<dyn Stream>,
    shard: ShardId,
    config: Arc<DeliveryConfig>,
    clock: Arc<dyn Clock>,
    pages: mpsc::Sender<Page>,
    mut stop: watch::Receiver<bool>,
) -> ShardRead {
    let mut wait = RETRY_INITIAL;
    let mut iterator = None;
    loop {
        if *stop.borrow() {
            return ShardRead::Stopped;
        }
        let Some(iter) = iterator else {
            let start = async {
                let checkpoints = stream.checkpoints(&config.consumer).await?;
                let start = match checkpoints.get(&shard) {
                    Some(&seq) => StartingPosition::AfterSequenceNumber(seq),
                    None => StartingPosition::TrimHorizon,
                };
                stream.shard_iterator(shard, start).await
            };
            let result = tokio::select! {
                _ = stop.wait_for(|s| *s) => return ShardRead::Stopped,
                r = start => r,
            };
            match result {
                Ok(iter) => {
                    iterator = Some(iter);
                    wait = RETRY_INITIAL;
                }
                Err(StreamError::Closed) => return ShardRead::Stopped,
                Err(error) => {
                    warn!(shard = %shard, error = %error, "Cannot position the delivery reader; retrying.");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(RETRY_MAX);
                }
            }
            continue;
        };
        let result = tokio::select! {
            _ = stop.wait_for(|s| *s) => return ShardRead::Stopped,
            r = stream.get_records(&iter, config.read_limit, config.read_wait) => r,
        };
        match result {
            Ok(out) => {
                iterator = Some(out.next_iterator);
                wait = RETRY_INITIAL;
                let end = out.child_shards.is_some();
                if !out.records.is_empty() {
                    debug!(shard = %shard, records = out.records.len(), "Read records.");
                    let page = Page::transform(&out.records, config.race_seconds, clock.now_ms());
                    tokio::select! {
                        _ = stop.wait_for(|s| *s) => return ShardRead::Stopped,
                        sent = pages.send(page) => if sent.is_err() { return ShardRead::Stopped },
                    }
                    if out.records.len() < config.read_limit && !end {
                        // At the tip: let records gather before the next read.
                        let spacing = config.read_spacing.min(config.interval / 4);
                        tokio::select! {
                            _ = stop.wait_for(|s| *s) => return ShardRead::Stopped,
                            () = tokio::time::sleep(spacing) => {}
                        }
                    }
                }
                if end {
                    return ShardRead::Finished;
                }
            }
            Err(StreamError::Closed) => return ShardRead::Stopped,
            Err(StreamError::ExpiredIterator(why)) => {
                // Records past retention are gone; start again from what is left.
                warn!(shard = %shard, reason = %why, "Delivery iterator expired; restarting at the trim horizon.");
                iterator = stream.shard_iterator(shard, StartingPosition::TrimHorizon).await.ok();
            }
            Err(error) => {
                warn!(shard = %shard, error = %error, "Reading the shard failed; retrying.");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(RETRY_MAX);
            }
        }
    }
}

struct Flusher {
    stream: Arc<dyn Stream>,
    store: Arc<dyn ObjectStore>,
    config: Arc<DeliveryConfig>,
    notify: Option<mpsc::UnboundedSender<Path>>,
    progress: Arc<watch::Sender<DeliveryProgress>>,
    stop: watch::Receiver<bool>,
    batches: mpsc::Receiver<Batch>,
}

/// Stores batches one after another, then checkpoints them: the order of checkpoints is the
/// order of reading.
async fn flush_batches(mut f: Flusher) -> Result<(), DeliveryError> {
    while let Some(batch) = f.batches.recv().await {
        let Some(oldest) = batch.oldest_arrival_ms else { continue };
        let level = f.config.gzip_level;
        let (lines, failed) = (batch.lines, batch.failed);
        // Compression is the costly part: off the runtime, so reading and transforming go on.
        let (lines_gz, failed_gz) = tokio::task::spawn_blocking(move || {
            let gz = |data: &[u8]| (!data.is_empty()).then(|| gzip(data, level));
            (gz(&lines), gz(&failed))
        })
        .await
        .expect("compression does not panic");
        let id = Uuid::new_v4();
        let name = |prefix| {
            naming::object_path(prefix, &f.config.stream_name, f.config.version, oldest, id)
        };
        let mut stored_bytes = 0;
        let mut delivered = None;
        if let Some(gz) = lines_gz {
            let path = name(DELIVERY_PREFIX);
            stored_bytes += gz.len();
            put_retrying(&f, &path, gz).await?;
            delivered = Some(path);
        }
        if let Some(gz) = failed_gz {
            let path = name(FAILED_PREFIX);
            stored_bytes += gz.len();
            put_retrying(&f, &path, gz).await?;
        }
        if let (Some(path), Some(notify)) = (&delivered, &f.notify) {
            let _ = notify.send(path.clone());
        }
        for (&shard, &sequence) in &batch.positions {
            checkpoint_retrying(&f, shard, sequence).await?;
        }
        f.progress.send_modify(|p| {
            p.objects += u64::from(delivered.is_some());
            p.failed_objects += u64::from(batch.failed_records > 0);
            p.records += batch.records as u64;
            p.failed_records += batch.failed_records as u64;
            p.bytes += stored_bytes as u64;
            p.flushes += 1;
        });
        debug!(records = batch.records, failed = batch.failed_records, bytes = stored_bytes,
            object = ?delivered.as_ref().map(|p| p.to_string()), "Flushed a batch.");
    }
    Ok(())
}

/// How long retrying may go on: `max_retry` from the first attempt, and once stopping, no more
/// than `shutdown_timeout` from the first attempt.
fn retry_allowed(f: &Flusher, started: Instant) -> bool {
    let elapsed = started.elapsed();
    elapsed < f.config.max_retry && !(*f.stop.borrow() && elapsed >= f.config.shutdown_timeout)
}

async fn put_retrying(f: &Flusher, path: &Path, gz: Vec<u8>) -> Result<(), DeliveryError> {
    let payload = PutPayload::from(gz);
    let started = Instant::now();
    let mut wait = RETRY_INITIAL;
    let mut attempts = 0;
    loop {
        attempts += 1;
        match f.store.put(path, payload.clone()).await {
            Ok(_) => return Ok(()),
            Err(source) => {
                if !retry_allowed(f, started) {
                    return Err(DeliveryError::Storage {
                        path: path.to_string(),
                        attempts,
                        elapsed: started.elapsed(),
                        source,
                    });
                }
                warn!(object = %path, attempts, error = %source,
                    retry_in_ms = wait.as_millis() as u64, "Storing a batch failed; retrying.");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(RETRY_MAX);
            }
        }
    }
}

async fn checkpoint_retrying(
    f: &Flusher,
    shard: ShardId,
    sequence: crate::stream::SequenceNumber,
) -> Result<(), DeliveryError> {
    let started = Instant::now();
    let mut wait = RETRY_INITIAL;
    loop {
        match f.stream.checkpoint(&f.config.consumer, shard, sequence).await {
            Ok(()) => return Ok(()),
            Err(source) => {
                if matches!(source, StreamError::Closed) || !retry_allowed(f, started) {
                    return Err(DeliveryError::Checkpoint { shard, source });
                }
                warn!(shard = %shard, error = %source, "Checkpointing failed; retrying.");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(RETRY_MAX);
            }
        }
    }
}
