//! [`DiskStream`]: the embedded engine. A directory of segment files per shard, one committer
//! that group-commits all shards together, recovery, retention and named consumers'
//! checkpoints, all through the [`Fs`] trait.
//!
//! # On-disk format (version 1; `stream.meta` version 2 once resharded)
//!
//! ```text
//! <dir>/stream.meta                           the stream's shards: count, or the shard map
//! <dir>/shard-000000/00000000000000000000.v1.seg   segments of shard 0, named by the counter
//! <dir>/shard-000000/00000000000000081920.v1.seg   of their first record (zero-padded, so
//! ...                                               name order is record order)
//! <dir>/consumers/<name>/shard-000000.ckpt    a consumer's checkpoint of shard 0
//! ```
//!
//! All integers are little-endian. CRCs are CRC32C (Castagnoli).
//!
//! `stream.meta` version 1, 20 bytes: magic `ALLEYSTM`, version `u32` = 1, shard count `u32`,
//! CRC of the 16 bytes before it: shards `0..count` splitting the hash space evenly, all open.
//! Version 2, written by the first reshard: magic `ALLEYSTM`, version `u32` = 2, the shard map
//! ([`super::map`]: count, then 56 bytes per shard with its hash-key range, parents and
//! open/close times), CRC of everything before it. Either is replaced atomically (temporary
//! file, fsync, rename, directory fsync), so a crash leaves the old map or the new one.
//! Every shard of the map, open or closed, has its `shard-NNNNNN` folder; a closed shard is
//! never written again, and its ending sequence number is that of its last record (its tip
//! is final).
//!
//! # Resharding
//!
//! [`Stream::reshard`] (one at a time) opens the children's folders, writes the new map (the
//! parents marked closed), then, under the routing lock, routes later puts by the new map and
//! queues a reshard command to the committer behind every put routed by the old one. The
//! committer commits those, marks the parents closed (after which readers at a parent's tip
//! get its children instead of waiting) and starts the children's workers, before any put to a
//! child. A crash after the map was written leaves the parents closed with the records they
//! acknowledged; one before leaves the old map and unused empty folders, which a later reshard
//! reuses.
//!
//! A segment is a 32-byte header and then records, back to back:
//!
//! ```text
//! header: magic "ALLEYSEG" | version u32 = 1 | shard u32 | base counter u64 | 0u32 | crc u32
//!         (the CRC covers the 28 bytes before it)
//! record: len u32 | crc u32 | counter u64 | arrival_ms u64 | key_len u16 | key | data
//!         (len counts the bytes after the CRC; the CRC covers len and those bytes)
//! ```
//!
//! A record's *counter* is its position in the shard, from 0; its sequence number is
//! `shard << 64 | counter` (so it names its shard, and sorts as a 39-digit decimal). A checkpoint
//! file (36 bytes) is magic `ALLEYCKP`, version `u32` = 1, shard `u32`, sequence number `u128`,
//! CRC of the 32 bytes before it.
//!
//! # Invariants
//!
//! - Counters in a shard are consecutive: each segment's records run from its base without a
//!   gap, and each segment's base is the previous segment's last counter plus one.
//! - Arrival times never decrease within a shard (the clock is clamped to the previous one), so
//!   AT_TIMESTAMP can binary-search.
//! - Only the newest segment of a shard is ever appended to. A segment is created header first,
//!   synced, and its directory synced, before any record goes in; it is synced once more before
//!   the next one is created.
//! - A record is acknowledged (and visible to readers) only after the `pwrite` of its group and,
//!   under [`super::SyncPolicy::Always`], the `fdatasync` of its segment that follows. A failed
//!   write or fsync fails the group's records *of that shard* (other shards' records in the same
//!   group were synced and succeed), and the bytes it may have left are cut off (`ftruncate` +
//!   fsync) before that shard's next write; counters of a failed group are given again.
//!
//! # The commit path
//!
//! `put_records` validates and routes its records (MD5 of the partition key), then sends one
//! message with a sub-batch per shard to the stream's single committer thread and waits for one
//! answer. The committer drains every queued put into one group and runs one cycle for all
//! shards: each shard's worker thread, all at the same time, writes its records with one
//! `pwrite`, `fdatasync`s its segment and publishes (so a cycle costs about one fsync, not the
//! sum or the slowest of several unsynchronised ones); then the committer answers every put of
//! the group.
//! Concurrent writers thus share fsyncs (group commit) and a put waits for at most the rest of
//! the current cycle and one more, however many shards it touches. Details and what each sync
//! policy risks: [`super::commit`].
//!
//! # What a crash leaves, and what recovery does
//!
//! A crash can leave, in the newest segment of a shard, a torn record (a prefix of a frame), or
//! bytes that do not checksum, or (rarely) a header that never became durable. Only the newest
//! segment can: an older one was synced whole before its successor was created, and is never
//! written again. On open, recovery therefore:
//!
//! - removes a newest segment whose header is bad (it never held an acknowledged record);
//! - reads the newest segment through, checking every frame (length in range, CRC, counter as
//!   due), truncates it at its first bad frame and logs that (`warn`, with the offset, the reason
//!   and the bytes dropped);
//! - checks only the header and first record of each older segment: its record count is the
//!   difference of its name and its successor's, so opening costs O(segments + newest segment),
//!   not O(data). Its records are checked in full (CRC and counters) the first time it is read;
//!   a damaged older segment (a real disk fault, not a crash) then fails that read with a clear
//!   [`StreamError::Io`] of kind `InvalidData` naming the segment, rather than a silent gap.
//!
//! Since a record is acknowledged only once synced, and recovery only cuts unsynced bytes, every
//! acknowledged record survives, in order, exactly once.
//!
//! # Retention
//!
//! The committer deletes, per shard, oldest first, every segment whose newest record is older than the
//! retention (for an older segment not read since opening, the arrival of its successor's first
//! record stands in for its newest, so it may be kept slightly longer, never shorter); when the active segment itself has expired, the shard starts a new (empty) one so the
//! old can go. TRIM_HORIZON is the base of the oldest segment kept.

use std::{
    collections::BTreeMap,
    io,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, RwLock},
    thread::JoinHandle,
    time::Duration,
};

use async_trait::async_trait;
use tracing::info;

use super::{
    check_get_limit, check_put,
    checkpoint::{self, Checkpoints},
    commit::{self, Append, Command, ReshardJob},
    config::{Clock, StreamConfig, SystemClock},
    describe_map,
    fs::{Fs, RealFs},
    hash_key, invalid_record,
    map::{Reshard, ShardMap},
    record_error,
    shard::{self, sequence, split_sequence, ReadError, Shard},
    GetRecordsOutput, PutRecord, PutRecordOk, PutRecordsOutput, RecordError, RecordErrorCode,
    SequenceNumber, ShardDescription, ShardId, ShardIterator, StartingPosition, Stream,
    StreamError, StreamHealth,
};

const META_MAGIC: &[u8; 8] = b"ALLEYSTM";
const META_VERSION: u32 = 1;
const MAP_VERSION: u32 = 2;

/// The shards now: the map, each shard's state, and the open shards by hash key.
#[derive(Debug)]
struct Layout {
    map: ShardMap,
    shards: Vec<Arc<Shard>>,
    /// `(starting hash key, shard index)` of the open shards, by hash key.
    routes: Vec<(u128, u32)>,
}

impl Layout {
    fn new(map: ShardMap, shards: Vec<Arc<Shard>>) -> Self {
        Self { routes: map.routes(), map, shards }
    }

    /// The open shard whose range holds `key`.
    fn route(&self, key: u128) -> u32 {
        super::map::route_in(&self.routes, key)
    }
}

/// The embedded, durable stream engine. See the module docs for its format and guarantees.
///
/// Cheap to share behind an `Arc`; every method takes `&self`. Dropping it stops the committer
/// thread once it has answered what was queued (and waits for it); [`DiskStream::close`] does
/// the same without blocking the async runtime.
#[derive(Debug)]
pub struct DiskStream {
    fs: Arc<dyn Fs>,
    clock: Arc<dyn Clock>,
    config: StreamConfig,
    dir: PathBuf,
    /// The shards and routing; puts hold it (read) from routing until their append is queued.
    layout: Box<RwLock<Layout>>,
    /// One reshard at a time.
    resharding: Box<tokio::sync::Mutex<()>>,
    /// The committer thread's queue.
    committer: commit::Queue,
    thread: Mutex<Option<JoinHandle<()>>>,
    checkpoints: Arc<Checkpoints>,
    /// Held for the engine's life: no second engine opens the same directory.
    _lock: Box<dyn std::any::Any + Send + Sync>,
}

impl DiskStream {
    /// Opens (creating or recovering) the stream in `dir` on the real disk, with the system
    /// clock. Blocks on file I/O: recovery reads every retained segment.
    pub fn open(dir: impl Into<PathBuf>, config: StreamConfig) -> Result<Self, StreamError> {
        Self::open_with(Arc::new(RealFs), Arc::new(SystemClock), dir, config)
    }

    /// Opens the stream in `dir` on the given filesystem and clock (for tests: [`super::MemFs`],
    /// [`super::ManualClock`]).
    pub fn open_with(
        fs: Arc<dyn Fs>,
        clock: Arc<dyn Clock>,
        dir: impl Into<PathBuf>,
        config: StreamConfig,
    ) -> Result<Self, StreamError> {
        let dir = dir.into();
        if config.shards == 0 {
            return Err(StreamError::InvalidArgument("a stream needs at least one shard".into()));
        }
        fs.create_dir_all(&dir)?;
        let lock = fs.lock_dir(&dir)?;
        let map = load_map(&*fs, &dir, config.shards, clock.now_ms())?;
        let consumers = dir.join("consumers");
        if !fs.exists(&consumers)? {
            fs.create_dir_all(&consumers)?;
            fs.sync_dir(&dir)?;
        }
        let mut shards = Vec::new();
        let mut writers = Vec::new();
        for (i, entry) in map.shards().iter().enumerate() {
            let (shard, writer) =
                open_shard(&fs, &clock, &config, &dir, i as u32, !entry.is_open())?;
            shards.push(shard);
            writers.push(writer);
        }
        let (committer, thread) = commit::spawn(
            &shards,
            writers,
            config.sync,
            config.segment_bytes,
            config.commit_window,
        )?;
        info!(dir = %dir.display(), shards = shards.len(), open = map.open_count(),
            sync = ?config.sync, "Opened stream.");
        Ok(Self {
            fs,
            clock,
            config,
            dir,
            layout: Box::new(RwLock::new(Layout::new(map, shards))),
            resharding: Default::default(),
            committer,
            thread: Mutex::new(Some(thread)),
            checkpoints: Arc::new(Checkpoints::new(consumers)),
            _lock: lock,
        })
    }

    /// The configuration it was opened with.
    pub fn config(&self) -> &StreamConfig {
        &self.config
    }

    /// Deletes expired segments of every shard now (the committer also does so every
    /// [`super::config::RETENTION_CHECK_INTERVAL`]); returns how many were deleted.
    pub async fn enforce_retention(&self) -> Result<usize, StreamError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.committer.send(Command::Retention { reply }).map_err(|_| StreamError::Closed)?;
        Ok(answer.await.map_err(|_| StreamError::Closed)??)
    }

    /// Stops the committer after it has answered everything queued, and waits for it without
    /// blocking the async runtime. Dropping the stream does the same, blocking.
    pub async fn close(self) {
        let thread = self.stop_committer();
        let _ = tokio::task::spawn_blocking(move || {
            if let Some(thread) = thread {
                let _ = thread.join();
            }
        })
        .await;
    }

    /// Asks the committer to stop; returns its thread to join.
    fn stop_committer(&self) -> Option<JoinHandle<()>> {
        let _ = self.committer.send(Command::Stop);
        self.thread.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Routes each record to its open shard (refusing invalid and throttled ones) and queues
    /// the routed ones to the committer: the results so far (placeholders for the queued ones),
    /// each shard's places in the call, and the committer's answer to come.
    #[allow(clippy::type_complexity)]
    fn route_and_queue(
        &self,
        records: Vec<PutRecord>,
    ) -> Result<
        (
            Vec<Result<PutRecordOk, RecordError>>,
            Vec<(u32, Vec<usize>)>,
            Option<tokio::sync::oneshot::Receiver<Vec<Result<u64, String>>>>,
        ),
        StreamError,
    > {
        let now = if self.config.throttle { self.clock.now_ms() } else { 0 };
        // Held from routing until the append is queued, so a reshard's command follows every
        // put routed by the old map and precedes every put routed by the new one.
        let layout = self.layout();
        let mut results: Vec<Result<PutRecordOk, RecordError>> = Vec::with_capacity(records.len());
        // First route every record (and count per shard), so each shard's batch is allocated once.
        let mut routes: Vec<Option<u32>> = Vec::with_capacity(records.len());
        let mut counts = vec![0usize; layout.shards.len()];
        for record in &records {
            if let Some(message) = invalid_record(record) {
                results.push(record_error(RecordErrorCode::InvalidArgument, message));
                routes.push(None);
                continue;
            }
            let key = record.explicit_hash_key.unwrap_or_else(|| hash_key(&record.partition_key));
            let shard = layout.route(key) as usize;
            let shard_id = ShardId(shard as u32);
            if self.config.throttle {
                let size = record.partition_key.len() + record.data.len();
                let admitted = layout.shards[shard]
                    .throttle
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .admit(now, size);
                if !admitted {
                    results.push(record_error(
                        RecordErrorCode::ProvisionedThroughputExceeded,
                        format!("rate exceeded for {shard_id}"),
                    ));
                    routes.push(None);
                    continue;
                }
            }
            // A placeholder, replaced once the shard answers.
            results.push(Ok(PutRecordOk { shard_id, sequence_number: SequenceNumber(0) }));
            routes.push(Some(shard as u32));
            counts[shard] += 1;
        }
        // Per shard: the records to append and their places in the call; one message for all.
        let mut batches: Vec<(Vec<PutRecord>, Vec<usize>)> =
            counts.iter().map(|&n| (Vec::with_capacity(n), Vec::with_capacity(n))).collect();
        for (i, (record, shard)) in records.into_iter().zip(routes).enumerate() {
            if let Some(shard) = shard {
                let batch = &mut batches[shard as usize];
                batch.0.push(record);
                batch.1.push(i);
            }
        }
        let mut places = Vec::new();
        let mut append = Vec::new();
        for (shard, (batch, at)) in batches.into_iter().enumerate() {
            if !batch.is_empty() {
                append.push((shard, batch));
                places.push((shard as u32, at));
            }
        }
        let answer = (!append.is_empty())
            .then(|| {
                let (reply, answer) = tokio::sync::oneshot::channel();
                self.committer
                    .send(Command::Append(Append { batches: append, reply }))
                    .map(|()| answer)
                    .map_err(|_| StreamError::Closed)
            })
            .transpose()?;
        Ok((results, places, answer))
    }

    fn layout(&self) -> std::sync::RwLockReadGuard<'_, Layout> {
        self.layout.read().unwrap_or_else(|p| p.into_inner())
    }

    fn shard(&self, id: ShardId) -> Result<Arc<Shard>, StreamError> {
        let layout = self.layout();
        layout.shards.get(id.0 as usize).cloned().ok_or_else(|| {
            StreamError::InvalidArgument(format!(
                "{id} does not exist; the stream has {} shards",
                layout.shards.len()
            ))
        })
    }

    /// The children of `id`, described.
    fn children(&self, id: ShardId) -> Vec<ShardDescription> {
        let all = self.shards();
        let layout = self.layout();
        layout.map.children(id).iter().filter_map(|c| all.get(c.0 as usize).cloned()).collect()
    }

    /// The counter of `sequence` if it belongs to `shard`.
    fn counter_in(&self, shard: ShardId, sequence: SequenceNumber) -> Result<u64, StreamError> {
        let (owner, counter) = split_sequence(sequence.0);
        if owner != u64::from(shard.0) {
            return Err(StreamError::InvalidArgument(format!(
                "sequence number {sequence} belongs to another shard than {shard}"
            )));
        }
        Ok(counter)
    }
}

impl Drop for DiskStream {
    fn drop(&mut self) {
        // Join the committer so that no write of this engine can follow a reopen of its
        // directory.
        if let Some(thread) = self.stop_committer() {
            let _ = thread.join();
        }
    }
}

/// Opens (creating when missing) the folder of shard `index` and recovers it.
fn open_shard(
    fs: &Arc<dyn Fs>,
    clock: &Arc<dyn Clock>,
    config: &StreamConfig,
    dir: &Path,
    index: u32,
    closed: bool,
) -> Result<(Arc<Shard>, shard::ShardWriter), StreamError> {
    let shard_dir = dir.join(format!("shard-{index:06}"));
    let existed = fs.exists(&shard_dir)?;
    let opened = shard::open(fs, clock, config, shard_dir, ShardId(index), closed)?;
    if !existed {
        fs.sync_dir(dir)?;
    }
    Ok(opened)
}

/// The stream's shard map from `stream.meta` (version 1 or 2), or a new even one of `shards`
/// shards, stored, when there is none.
fn load_map(fs: &dyn Fs, dir: &Path, shards: u32, now_ms: u64) -> Result<ShardMap, StreamError> {
    let path = dir.join("stream.meta");
    if !fs.exists(&path)? {
        let map = ShardMap::even(shards, now_ms);
        write_meta(fs, dir, &encode_v1(shards))?;
        return Ok(map);
    }
    let bytes = fs.read_file(&path)?;
    let corrupt = |why: String| -> StreamError {
        io::Error::new(io::ErrorKind::InvalidData, format!("{} is corrupt: {why}", path.display()))
            .into()
    };
    let crc_ok = bytes.len() >= 16
        && &bytes[0..8] == META_MAGIC
        && crc32c::crc32c(&bytes[..bytes.len() - 4]).to_le_bytes() == bytes[bytes.len() - 4..];
    if !crc_ok {
        return Err(corrupt("bad magic or checksum".into()));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap_or_default());
    let body = &bytes[12..bytes.len() - 4];
    let map = match version {
        META_VERSION if body.len() == 4 => {
            ShardMap::even(u32::from_le_bytes(body.try_into().unwrap_or_default()), 0)
        }
        MAP_VERSION => ShardMap::decode(body).map_err(corrupt)?,
        other => return Err(corrupt(format!("unknown version {other}"))),
    };
    if map.open_count() != shards as usize {
        tracing::warn!(dir = %dir.display(), open = map.open_count(), configured = shards,
            "The stream's shard count comes from its stored shard map; the configured count \
             applies only to a new stream (reshard with UpdateShardCount).");
    }
    Ok(map)
}

fn encode_v1(shards: u32) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(20);
    bytes.extend_from_slice(META_MAGIC);
    bytes.extend_from_slice(&META_VERSION.to_le_bytes());
    bytes.extend_from_slice(&shards.to_le_bytes());
    bytes
}

fn encode_map(map: &ShardMap) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(META_MAGIC);
    bytes.extend_from_slice(&MAP_VERSION.to_le_bytes());
    bytes.extend_from_slice(&map.encode());
    bytes
}

/// Replaces `stream.meta` atomically with `body` and its CRC.
fn write_meta(fs: &dyn Fs, dir: &Path, body: &[u8]) -> io::Result<()> {
    let mut bytes = body.to_vec();
    let crc = crc32c::crc32c(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    let temp = dir.join("stream.meta.tmp");
    let file = fs.open(&temp, true, true)?;
    file.set_len(0)?;
    file.write_all_at(&bytes, 0)?;
    file.sync_data()?;
    fs.rename(&temp, &dir.join("stream.meta"))?;
    fs.sync_dir(dir)
}

#[async_trait]
impl Stream for DiskStream {
    fn shards(&self) -> Vec<ShardDescription> {
        let layout = self.layout();
        describe_map(
            &layout.map,
            |i| SequenceNumber(sequence(i, 0)),
            |i| SequenceNumber(sequence(i, layout.shards[i as usize].bounds().1.saturating_sub(1))),
        )
    }

    async fn put_records(&self, records: Vec<PutRecord>) -> Result<PutRecordsOutput, StreamError> {
        check_put(&records)?;
        let (mut results, places, answer) = self.route_and_queue(records)?;
        if let Some(answer) = answer {
            let answers = answer.await.map_err(|_| StreamError::Closed)?;
            if answers.len() != places.len() {
                // Never leave a placeholder standing for an acknowledgement.
                return Err(StreamError::Io(io::Error::other(format!(
                    "the committer answered {} of {} shard batches",
                    answers.len(),
                    places.len()
                ))));
            }
            for ((shard, at), outcome) in places.into_iter().zip(answers) {
                match outcome {
                    Ok(first) => {
                        for (n, &place) in at.iter().enumerate() {
                            results[place] = Ok(PutRecordOk {
                                shard_id: ShardId(shard),
                                sequence_number: SequenceNumber(sequence(shard, first + n as u64)),
                            });
                        }
                    }
                    Err(message) => {
                        for &place in &at {
                            results[place] =
                                record_error(RecordErrorCode::InternalFailure, message.clone());
                        }
                    }
                }
            }
        }
        let failed_record_count = results.iter().filter(|r| r.is_err()).count();
        Ok(PutRecordsOutput { failed_record_count, records: results })
    }

    async fn shard_iterator(
        &self,
        shard_id: ShardId,
        start: StartingPosition,
    ) -> Result<ShardIterator, StreamError> {
        let shard = self.shard(shard_id)?;
        let (oldest, tip) = shard.bounds();
        let counter = match start {
            StartingPosition::TrimHorizon => oldest,
            StartingPosition::Latest => tip,
            StartingPosition::AtSequenceNumber(seq)
            | StartingPosition::AfterSequenceNumber(seq) => {
                let counter = self.counter_in(shard_id, seq)?;
                if counter >= tip {
                    return Err(StreamError::InvalidArgument(format!(
                        "sequence number {seq} has not been written to {shard_id}"
                    )));
                }
                let at = if matches!(start, StartingPosition::AtSequenceNumber(_)) {
                    counter
                } else {
                    counter + 1
                };
                at.max(oldest)
            }
            StartingPosition::AtTimestamp(ms) => {
                let shard = Arc::clone(&shard);
                tokio::task::spawn_blocking(move || shard.find_time(ms))
                    .await
                    .map_err(blocking_failed)??
            }
        };
        Ok(ShardIterator { shard_id, position: sequence(shard_id.0, counter) })
    }

    async fn get_records(
        &self,
        iterator: &ShardIterator,
        limit: usize,
        wait: Duration,
    ) -> Result<GetRecordsOutput, StreamError> {
        check_get_limit(limit)?;
        let shard = self.shard(iterator.shard_id)?;
        let start = self.counter_in(iterator.shard_id, SequenceNumber(iterator.position))?;
        if !wait.is_zero() && !shard.is_closed() && shard.bounds().1 == start {
            // At the tip: sleep until the writer publishes a new tip or closes the shard, or
            // the wait runs out.
            let mut tip = shard.tip.subscribe();
            let waiting = tip.wait_for(|&tip| tip > start || shard.is_closed());
            let _ = tokio::time::timeout(wait, waiting).await;
        }
        // Read before the tip: a shard seen closed has its final tip.
        let closed = shard.is_closed();
        let reader = Arc::clone(&shard);
        let (records, tip) = tokio::task::spawn_blocking(move || reader.read(start, limit))
            .await
            .map_err(blocking_failed)?
            .map_err(|error| match error {
                ReadError::Expired { oldest } => StreamError::ExpiredIterator(format!(
                    "record {start} of {} has expired; the oldest kept is {oldest}",
                    shard.id
                )),
                ReadError::PastTip { tip } => StreamError::ExpiredIterator(format!(
                    "record {start} of {} is past the end ({tip})",
                    shard.id
                )),
                ReadError::Io(error) => StreamError::Io(error),
            })?;
        let next = start + records.len() as u64;
        let millis_behind_latest = match records.last() {
            Some(last) if next < tip => self.clock.now_ms().saturating_sub(last.arrival_ms),
            _ => 0,
        };
        let child_shards = (closed && next == tip).then(|| self.children(iterator.shard_id));
        Ok(GetRecordsOutput {
            records,
            next_iterator: ShardIterator {
                shard_id: iterator.shard_id,
                position: sequence(iterator.shard_id.0, next),
            },
            millis_behind_latest,
            child_shards,
        })
    }

    async fn checkpoint(
        &self,
        consumer: &str,
        shard_id: ShardId,
        sequence_number: SequenceNumber,
    ) -> Result<(), StreamError> {
        checkpoint::check_consumer_name(consumer)?;
        let shard = self.shard(shard_id)?;
        let counter = self.counter_in(shard_id, sequence_number)?;
        if counter >= shard.bounds().1 {
            return Err(StreamError::InvalidArgument(format!(
                "sequence number {sequence_number} has not been written to {shard_id}"
            )));
        }
        let fs = Arc::clone(&self.fs);
        let checkpoints = Arc::clone(&self.checkpoints);
        let consumer = consumer.to_owned();
        tokio::task::spawn_blocking(move || {
            checkpoints.store(&*fs, &consumer, shard_id, sequence_number)
        })
        .await
        .map_err(blocking_failed)??;
        Ok(())
    }

    async fn checkpoints(
        &self,
        consumer: &str,
    ) -> Result<BTreeMap<ShardId, SequenceNumber>, StreamError> {
        checkpoint::check_consumer_name(consumer)?;
        let fs = Arc::clone(&self.fs);
        let checkpoints = Arc::clone(&self.checkpoints);
        let consumer = consumer.to_owned();
        let shards = self.layout().shards.len() as u32;
        tokio::task::spawn_blocking(move || checkpoints.load(&*fs, &consumer, shards))
            .await
            .map_err(blocking_failed)?
    }

    async fn reshard(&self, change: Reshard) -> Result<(), StreamError> {
        let _one_at_a_time = self.resharding.lock().await;
        let (old, first_new) = {
            let layout = self.layout();
            (layout.map.clone(), layout.shards.len())
        };
        let map = old.apply(change, self.clock.now_ms())?;
        let close: Vec<usize> = (0..first_new)
            .filter(|&i| old.shards()[i].is_open() && !map.shards()[i].is_open())
            .collect();
        let (fs, clock, config, dir) =
            (Arc::clone(&self.fs), Arc::clone(&self.clock), self.config.clone(), self.dir.clone());
        let stored = map.clone();
        let open = tokio::task::spawn_blocking(move || {
            let open = (first_new..stored.shards().len())
                // A short-lived shard of a uniform scaling is closed (and empty) from the start.
                .map(|i| {
                    let closed = !stored.shards()[i].is_open();
                    open_shard(&fs, &clock, &config, &dir, i as u32, closed)
                })
                .collect::<Result<Vec<_>, _>>()?;
            write_meta(&*fs, &dir, &encode_map(&stored))?;
            Ok::<_, StreamError>(open)
        })
        .await
        .map_err(blocking_failed)??;
        let (reply, answer) = tokio::sync::oneshot::channel();
        {
            let mut layout = self.layout.write().unwrap_or_else(|p| p.into_inner());
            let mut shards = layout.shards.clone();
            shards.extend(open.iter().map(|(shard, _)| Arc::clone(shard)));
            let job = ReshardJob { close: close.clone(), open, reply };
            self.committer
                .send(Command::Reshard(Box::new(job)))
                .map_err(|_| StreamError::Closed)?;
            *layout = Layout::new(map, shards);
        }
        answer.await.map_err(|_| StreamError::Closed)??;
        info!(dir = %self.dir.display(), ?change, closed = ?close, "Resharded the stream.");
        Ok(())
    }

    fn health(&self) -> StreamHealth {
        let running = self
            .thread
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|thread| !thread.is_finished());
        if !running {
            return StreamHealth::Stopped;
        }
        let states: Vec<_> = self.layout().shards.iter().map(|s| (s.id, s.write_state())).collect();
        let failing = states
            .iter()
            .filter_map(|(id, state)| state.failing.as_ref().map(|(since, e)| (*since, *id, e)))
            .min_by_key(|(since, id, _)| (*since, *id));
        match failing {
            Some((since_ms, shard, error)) => {
                StreamHealth::Failing { shard, since_ms, error: error.clone() }
            }
            None => StreamHealth::Writing {
                last_ok_ms: states.iter().filter_map(|(_, s)| s.last_ok_ms).max(),
            },
        }
    }
}

/// A blocking file task that did not finish: cancelled because the runtime is shutting down
/// (the stream is closing; a reader stops quietly), or panicked (a storage failure).
fn blocking_failed(error: tokio::task::JoinError) -> StreamError {
    if error.is_cancelled() {
        StreamError::Closed
    } else {
        StreamError::Io(io::Error::other(error))
    }
}
