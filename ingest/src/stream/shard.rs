//! One shard: its in-memory index, recovery, reads, and its writing side ([`ShardWriter`]).
//!
//! A shard's [`ShardWriter`] owns its active segment and lives on the shard's worker thread,
//! which the stream's one committer ([`super::commit`]) starts on every shard of a group at the
//! same time. Each cycle is one [`ShardWriter::commit`]: encode the shard's part of the group
//! into one buffer, write it with one `pwrite` past the committed length, under
//! [`SyncPolicy::Always`] `fdatasync` the segment (while the other shards' workers do the same),
//! and only then publish the new tip to readers. A failed write or fsync drops the shard's part
//! of the group: its bytes are cut off (`ftruncate` + fsync) before the shard writes again, its
//! counters are given again, and nothing of it is published. So async worker threads never
//! block on the disk, and a put waits for one shared cycle whatever shards it touches.
//!
//! Readers never lock out the writer for long: they copy what they need from the index under a
//! read lock and then `pread` large chunks without any lock. Readers only ever see committed
//! records (written and, under [`SyncPolicy::Always`], synced).

use std::{
    collections::VecDeque,
    io,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, RwLock,
    },
};

use bytes::Bytes;
use tokio::sync::watch;
use tracing::{debug, error, info, warn};

use super::{
    config::{Clock, StreamConfig, SyncPolicy, MAX_GROUP_BYTES},
    fs::{FileHandle, Fs},
    segment::{self, Decoded, HEADER_LEN, INDEX_EVERY},
    PutRecord, Record, SequenceNumber, ShardId,
};

/// The sequence number of `counter` in `shard`: the shard index in the high 64 bits, so that a
/// sequence number names its shard and numbers never collide across shards.
pub fn sequence(shard: u32, counter: u64) -> u128 {
    (u128::from(shard) << 64) | u128::from(counter)
}

/// The shard index and counter of a sequence number.
pub fn split_sequence(sequence: u128) -> (u64, u64) {
    ((sequence >> 64) as u64, sequence as u64)
}

/// One segment as the index knows it: only committed bytes and records.
#[derive(Debug, Clone)]
pub struct SegmentMeta {
    /// Counter of its first record.
    pub base: u64,
    /// Its file.
    pub path: PathBuf,
    /// Its open handle (kept by readers after retention deletes the file).
    pub file: Arc<dyn FileHandle>,
    /// Committed length in bytes, header included.
    pub len: u64,
    /// Committed records.
    pub count: u64,
    /// `(offset, arrival_ms)` of every [`INDEX_EVERY`]-th record from the base; `None` for a
    /// sealed segment not read since the stream opened (built on its first read).
    pub sparse: Option<Vec<(u64, u64)>>,
    /// Arrival of its newest record (0 when empty). For a sealed segment not read yet, an upper
    /// bound: the arrival of the next segment's first record (retention may keep it a little
    /// longer, never less).
    pub last_arrival: u64,
}

/// The shard's committed state, shared by its writer and all readers.
#[derive(Debug)]
pub struct ShardIndex {
    /// Retained segments, oldest first; never empty.
    pub segments: VecDeque<SegmentMeta>,
    /// The counter the next record will get: every counter below it is committed.
    pub tip: u64,
    /// Arrival of the newest record (0 when none).
    pub last_arrival: u64,
}

/// Per-shard write limits, in one-second windows of the engine's clock.
#[derive(Debug, Default)]
pub struct Throttle {
    window: u64,
    bytes: usize,
    records: usize,
}

impl Throttle {
    /// Whether one more record of `bytes` fits the shard's limits at `now_ms`; counts it if so.
    pub fn admit(&mut self, now_ms: u64, bytes: usize) -> bool {
        let window = now_ms / 1000;
        if window != self.window {
            *self = Self { window, bytes: 0, records: 0 };
        }
        if self.records + 1 > super::SHARD_RECORDS_PER_SECOND
            || self.bytes + bytes > super::SHARD_BYTES_PER_SECOND
        {
            return false;
        }
        self.records += 1;
        self.bytes += bytes;
        true
    }
}

/// Whether a shard's writes succeed, for [`super::Stream::health`]; kept by its worker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteState {
    /// When a write (or a probe) last succeeded, on the engine's clock.
    pub last_ok_ms: Option<u64>,
    /// Since when writes fail (engine clock), and the latest error.
    pub failing: Option<(u64, String)>,
}

/// A shard's state shared between the engine, the committer and readers.
#[derive(Debug)]
pub struct Shard {
    /// The shard.
    pub id: ShardId,
    /// Its directory.
    pub dir: PathBuf,
    /// Its committed records.
    pub index: RwLock<ShardIndex>,
    /// The tip, for readers that wait for new records.
    pub tip: watch::Sender<u64>,
    /// Its write limits (used only when throttling is on).
    pub throttle: Mutex<Throttle>,
    /// Whether its writes succeed.
    pub writes: Mutex<WriteState>,
    /// Whether it is closed (resharded away): set only after its last record is committed, so
    /// a reader that sees it set and reaches the tip has read the shard to its end.
    closed: AtomicBool,
}

/// Why a read could not start where asked.
#[derive(Debug)]
pub enum ReadError {
    /// The position is below the oldest retained record.
    Expired {
        /// The oldest retained counter.
        oldest: u64,
    },
    /// The position is past the tip.
    PastTip {
        /// The tip.
        tip: u64,
    },
    /// The files failed.
    Io(io::Error),
}

impl From<io::Error> for ReadError {
    fn from(error: io::Error) -> Self {
        Self::Io(error)
    }
}

fn invalid_data(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

fn read_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One stretch of records to read from one segment.
struct Part {
    file: Arc<dyn FileHandle>,
    /// Offset of the indexed record at or before the first wanted one.
    offset: u64,
    /// Its counter.
    counter: u64,
    /// Records to skip before the first wanted one.
    skip: u64,
    /// Records wanted.
    wanted: u64,
    /// Committed end of the segment.
    end: u64,
    /// Mean frame size in the segment, to size reads.
    mean_frame: u64,
}

impl Shard {
    /// Whether it is closed and its tip final.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Closes it (after its last record was committed) and wakes the readers waiting at its tip.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.tip.send_modify(|_| {});
    }

    /// The oldest retained counter and the tip.
    pub fn bounds(&self) -> (u64, u64) {
        let index = read_lock(&self.index);
        (index.segments.front().map_or(index.tip, |s| s.base), index.tip)
    }

    /// Whether its writes succeed.
    pub fn write_state(&self) -> WriteState {
        self.writes.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether its last write (or probe) failed.
    pub fn is_failing(&self) -> bool {
        self.writes.lock().unwrap_or_else(|p| p.into_inner()).failing.is_some()
    }

    /// The committed length of the newest (active) segment.
    pub fn active_len(&self) -> u64 {
        read_lock(&self.index).segments.back().map_or(0, |s| s.len)
    }

    /// Up to `limit` committed records from counter `start`, and the tip seen.
    pub fn read(&self, start: u64, limit: usize) -> Result<(Vec<Record>, u64), ReadError> {
        let (parts, tip) = loop {
            match self.plan(start, limit)? {
                Ok(planned) => break planned,
                Err(unindexed) => self.index_segments(&unindexed)?,
            }
        };
        let mut records = Vec::with_capacity(parts.iter().map(|p| p.wanted as usize).sum());
        for part in parts {
            self.read_part(&part, &mut records)?;
        }
        Ok((records, tip))
    }

    /// What to read for `limit` records from `start`, or the bases of the segments that must be
    /// indexed first.
    #[allow(clippy::type_complexity)]
    fn plan(
        &self,
        start: u64,
        limit: usize,
    ) -> Result<Result<(Vec<Part>, u64), Vec<u64>>, ReadError> {
        let index = read_lock(&self.index);
        let oldest = index.segments.front().map_or(index.tip, |s| s.base);
        if start < oldest {
            return Err(ReadError::Expired { oldest });
        }
        if start > index.tip {
            return Err(ReadError::PastTip { tip: index.tip });
        }
        let end = index.tip.min(start.saturating_add(limit as u64));
        let first = index.segments.partition_point(|s| s.base <= start).saturating_sub(1);
        let mut parts = Vec::new();
        let mut unindexed = Vec::new();
        let mut at = start;
        for seg in index.segments.iter().skip(first) {
            if at >= end {
                break;
            }
            if seg.count == 0 || at >= seg.base + seg.count {
                continue;
            }
            let wanted = (seg.base + seg.count).min(end) - at;
            match &seg.sparse {
                Some(sparse) => parts.push(part_at(seg, sparse, at, wanted)),
                None => unindexed.push(seg.base),
            }
            at += wanted;
        }
        if unindexed.is_empty() {
            Ok(Ok((parts, index.tip)))
        } else {
            Ok(Err(unindexed))
        }
    }

    /// Reads sealed segments through, checking every record, and installs their sparse index
    /// and exact newest arrival.
    fn index_segments(&self, bases: &[u64]) -> io::Result<()> {
        for &base in bases {
            let found = {
                let index = read_lock(&self.index);
                index
                    .segments
                    .iter()
                    .find(|s| s.base == base && s.sparse.is_none())
                    .map(|s| (Arc::clone(&s.file), s.len, s.count, s.path.clone()))
            };
            // Gone (expired) or indexed by another reader meanwhile.
            let Some((file, len, count, path)) = found else { continue };
            let scan = segment::scan(&*file, len, base)?;
            if scan.count != count || scan.stopped.is_some() {
                let reason = scan
                    .stopped
                    .map_or_else(String::new, |(at, why)| format!(" (at offset {at}: {why})"));
                error!(shard = %self.id, segment = %path.display(), expected = count,
                    found = scan.count, %reason, "A sealed segment is damaged.");
                return Err(invalid_data(format!(
                    "{}: segment {} should hold {count} records but {} are readable{reason}",
                    self.id,
                    path.display(),
                    scan.count
                )));
            }
            let mut index = write_lock(&self.index);
            if let Some(seg) = index.segments.iter_mut().find(|s| s.base == base) {
                if seg.sparse.is_none() {
                    seg.sparse = Some(scan.sparse);
                    seg.last_arrival = scan.last_arrival;
                }
            }
        }
        Ok(())
    }

    fn read_part(&self, part: &Part, out: &mut Vec<Record>) -> io::Result<()> {
        let mut offset = part.offset;
        let mut counter = part.counter;
        let mut skip = part.skip;
        let mut wanted = part.wanted;
        while wanted > 0 {
            // Read about what the wanted records need (plus slack), at least 64 KiB.
            let estimate = (skip + wanted) * part.mean_frame + part.mean_frame / 2 + 4096;
            let len = estimate.max(64 * 1024).min(part.end - offset) as usize;
            let mut buf = vec![0u8; len];
            part.file.read_exact_at(&mut buf, offset)?;
            let buf = Bytes::from(buf);
            let mut at = 0;
            while wanted > 0 {
                match segment::decode_frame(&buf, at) {
                    Decoded::Frame(frame) => {
                        if frame.counter != counter {
                            return Err(invalid_data(format!(
                                "{}: record {} found where {counter} was due at offset {}",
                                self.id,
                                frame.counter,
                                offset + at as u64
                            )));
                        }
                        if skip > 0 {
                            skip -= 1;
                        } else {
                            out.push(Record {
                                shard_id: self.id,
                                sequence_number: SequenceNumber(sequence(self.id.0, counter)),
                                partition_key: String::from_utf8_lossy(&buf[frame.key])
                                    .into_owned(),
                                data: buf.slice(frame.data),
                                arrival_ms: frame.arrival_ms,
                            });
                            wanted -= 1;
                        }
                        counter += 1;
                        at = frame.next;
                    }
                    Decoded::Incomplete { needed } => {
                        if at == 0 && offset + needed as u64 > part.end {
                            return Err(invalid_data(format!(
                                "{}: committed record {counter} ends past the segment's end",
                                self.id
                            )));
                        }
                        break;
                    }
                    Decoded::Corrupt(reason) => {
                        return Err(invalid_data(format!(
                            "{}: record {counter} at offset {} is corrupt: {reason}",
                            self.id,
                            offset + at as u64
                        )));
                    }
                }
            }
            offset += at as u64;
        }
        Ok(())
    }

    /// The counter of the first record that arrived at or after `at_ms` (the tip if none).
    pub fn find_time(&self, at_ms: u64) -> io::Result<u64> {
        let part = loop {
            let unindexed = {
                let index = read_lock(&self.index);
                let Some(seg) =
                    index.segments.iter().find(|s| s.count > 0 && s.last_arrival >= at_ms)
                else {
                    return Ok(index.tip);
                };
                match &seg.sparse {
                    None => seg.base,
                    Some(sparse) => {
                        let slot = sparse.partition_point(|&(_, arrival)| arrival < at_ms);
                        if slot == 0 {
                            return Ok(seg.base);
                        }
                        let counter = seg.base + (slot as u64 - 1) * INDEX_EVERY;
                        let wanted = (seg.base + seg.count - counter).min(INDEX_EVERY + 1);
                        break part_at(seg, sparse, counter, wanted);
                    }
                }
            };
            // Indexing makes its newest arrival exact, so the search may move on.
            self.index_segments(&[unindexed])?;
        };
        let mut records = Vec::new();
        self.read_part(&part, &mut records)?;
        Ok(records
            .iter()
            .find(|r| r.arrival_ms >= at_ms)
            .map_or(part.counter + part.skip + part.wanted, |r| {
                split_sequence(r.sequence_number.0).1
            }))
    }
}

/// The read of `wanted` records of `seg` from counter `at`, through its sparse index.
fn part_at(seg: &SegmentMeta, sparse: &[(u64, u64)], at: u64, wanted: u64) -> Part {
    let rel = at - seg.base;
    let slot = (rel / INDEX_EVERY) as usize;
    Part {
        file: Arc::clone(&seg.file),
        offset: sparse[slot].0,
        counter: seg.base + slot as u64 * INDEX_EVERY,
        skip: rel % INDEX_EVERY,
        wanted,
        end: seg.len,
        mean_frame: (seg.len - HEADER_LEN) / seg.count.max(1),
    }
}

/// Opens (recovering) shard `id` under `dir`: checks every segment and truncates a torn or
/// corrupt tail. Returns the shard (for readers) and its writer (for the committer).
pub fn open(
    fs: &Arc<dyn Fs>,
    clock: &Arc<dyn Clock>,
    config: &StreamConfig,
    dir: PathBuf,
    id: ShardId,
    closed: bool,
) -> io::Result<(Arc<Shard>, ShardWriter)> {
    fs.create_dir_all(&dir)?;
    let mut bases = Vec::new();
    for name in fs.list_files(&dir)? {
        match segment::parse_segment_name(&name) {
            Some(base) => bases.push(base),
            None => warn!(shard = %id, file = %name, "Ignoring a file that is not a segment."),
        }
    }
    bases.sort_unstable();
    let mut segments: VecDeque<SegmentMeta> = VecDeque::new();
    let mut dir_changed = false;
    let mut removed_base = None;
    if let Some(&base) = bases.last() {
        let path = dir.join(segment::segment_name(base));
        let file = fs.open(&path, false, false)?;
        if let Err(reason) = segment::read_header(&*file, &path, id.0, base)? {
            // A segment is created header-first and synced before any record goes in, so a bad
            // header on the newest segment means it never held an acknowledged record.
            warn!(shard = %id, segment = %path.display(), %reason,
                "Removing a newest segment whose header never became durable.");
            fs.remove_file(&path)?;
            dir_changed = true;
            removed_base = bases.pop();
        }
    }
    // Each segment's first arrival, to bound the newest arrival of the one before it.
    let mut first_arrivals = Vec::new();
    for (i, &base) in bases.iter().enumerate() {
        let path = dir.join(segment::segment_name(base));
        let file = fs.open(&path, false, false)?;
        if let Err(reason) = segment::read_header(&*file, &path, id.0, base)? {
            return Err(invalid_data(format!(
                "{id}: segment {} has a bad header: {reason}",
                path.display()
            )));
        }
        let len = file.len()?;
        if let Some(&next) = bases.get(i + 1) {
            // Sealed: synced whole before the next was created, so its record count is the
            // difference of the names; its records are checked when first read.
            let count = next - base;
            first_arrivals.push(if count > 0 { first_arrival(&*file, len)? } else { None });
            segments.push_back(SegmentMeta {
                base,
                path,
                file,
                len,
                count,
                sparse: (count == 0).then(Vec::new),
                last_arrival: 0,
            });
            continue;
        }
        // The newest segment: check every record, cut a torn or corrupt tail.
        let scan = segment::scan(&*file, len, base)?;
        if let Some((offset, reason)) = &scan.stopped {
            warn!(shard = %id, segment = %path.display(), offset, %reason,
                dropped_bytes = len - scan.valid_len, kept_records = scan.count,
                "Truncating a torn or corrupt tail.");
            file.set_len(scan.valid_len)?;
            file.sync_data()?;
        }
        first_arrivals.push((scan.count > 0).then_some(scan.first_arrival));
        segments.push_back(SegmentMeta {
            base,
            path,
            file,
            len: scan.valid_len,
            count: scan.count,
            sparse: Some(scan.sparse),
            last_arrival: scan.last_arrival,
        });
    }
    // Bound each sealed segment's newest arrival by the next non-empty segment's first one;
    // read through the rare segment with no such successor.
    let mut later_first = None;
    for i in (0..segments.len().saturating_sub(1)).rev() {
        if segments[i].count > 0 && first_arrivals[i].is_none() {
            return Err(invalid_data(format!(
                "{id}: the first record of segment {} is unreadable",
                segments[i].path.display()
            )));
        }
        later_first = first_arrivals[i + 1].or(later_first);
        match later_first {
            Some(bound) => segments[i].last_arrival = bound,
            None => {
                let seg = &segments[i];
                let scan = segment::scan(&*seg.file, seg.len, seg.base)?;
                if scan.count != seg.count || scan.stopped.is_some() {
                    return Err(invalid_data(format!(
                        "{id}: segment {} should hold {} records but {} are readable ({:?}, \
                         {} bytes of {})",
                        seg.path.display(),
                        seg.count,
                        scan.count,
                        scan.stopped,
                        scan.valid_len,
                        seg.len
                    )));
                }
                segments[i].last_arrival = scan.last_arrival;
                segments[i].sparse = Some(scan.sparse);
            }
        }
    }
    let tip = segments.back().map_or(removed_base.unwrap_or(0), |s| s.base + s.count);
    if segments.is_empty() {
        segments.push_back(create_segment(&**fs, &dir, id, tip)?);
        dir_changed = false;
    }
    if dir_changed {
        fs.sync_dir(&dir)?;
    }
    let last_arrival = segments.iter().map(|s| s.last_arrival).max().unwrap_or(0);
    let active = segments.back().cloned().ok_or_else(|| io::Error::other("no segment"))?;
    debug!(shard = %id, segments = segments.len(), tip, "Opened shard.");
    let shard = Arc::new(Shard {
        id,
        dir: dir.clone(),
        index: RwLock::new(ShardIndex { segments, tip, last_arrival }),
        tip: watch::Sender::new(tip),
        throttle: Mutex::default(),
        writes: Mutex::default(),
        closed: AtomicBool::new(closed),
    });
    let writer = ShardWriter {
        shard: Arc::clone(&shard),
        fs: Arc::clone(fs),
        clock: Arc::clone(clock),
        config: config.clone(),
        seg: active.file,
        seg_len: active.len,
        seg_count: active.count,
        next: tip,
        last_arrival,
        buf: Vec::new(),
        dirty: false,
        unsynced: false,
        staged: None,
    };
    Ok((shard, writer))
}

/// The arrival time of a segment's first record, if it decodes.
fn first_arrival(file: &dyn FileHandle, len: u64) -> io::Result<Option<u64>> {
    let mut buf = vec![0u8; (len - HEADER_LEN).min(64 * 1024) as usize];
    file.read_exact_at(&mut buf, HEADER_LEN)?;
    if let Decoded::Incomplete { needed } = segment::decode_frame(&buf, 0) {
        if HEADER_LEN + needed as u64 > len {
            return Ok(None);
        }
        buf.resize(needed, 0);
        file.read_exact_at(&mut buf, HEADER_LEN)?;
    }
    Ok(match segment::decode_frame(&buf, 0) {
        Decoded::Frame(frame) => Some(frame.arrival_ms),
        _ => None,
    })
}

/// Creates an empty segment starting at `base`: header written and synced, directory synced.
fn create_segment(fs: &dyn Fs, dir: &Path, id: ShardId, base: u64) -> io::Result<SegmentMeta> {
    let path = dir.join(segment::segment_name(base));
    let result = (|| {
        let file = fs.open(&path, true, true)?;
        file.write_all_at(&segment::encode_header(id.0, base), 0)?;
        file.sync_data()?;
        fs.sync_dir(dir)?;
        Ok(file)
    })();
    match result {
        Ok(file) => Ok(SegmentMeta {
            base,
            path,
            file,
            len: HEADER_LEN,
            count: 0,
            sparse: Some(Vec::new()),
            last_arrival: 0,
        }),
        Err(error) => {
            let _ = fs.remove_file(&path);
            Err(error)
        }
    }
}

/// How many bytes [`ShardWriter::probe`] writes: one page, so that a full disk fails it.
pub const PROBE_BYTES: usize = 4096;

/// A group's bytes for one shard, written past the committed length but not yet published.
#[derive(Debug)]
struct Staged {
    /// The counter after the group's last record.
    next: u64,
    /// The segment's length with the group.
    len: u64,
    /// Sparse-index entries of the group.
    sparse: Vec<(u64, u64)>,
    /// The group's arrival time.
    arrival: u64,
}

/// A shard's writing side: its active segment and what is committed in it. Owned by the shard's
/// worker thread, which the committer ([`super::commit`]) starts on every shard of a group at
/// once; each cycle is one [`ShardWriter::commit`].
#[derive(Debug)]
pub struct ShardWriter {
    shard: Arc<Shard>,
    fs: Arc<dyn Fs>,
    clock: Arc<dyn Clock>,
    config: StreamConfig,
    /// The active segment and its committed length and record count.
    seg: Arc<dyn FileHandle>,
    seg_len: u64,
    seg_count: u64,
    /// The next counter to give (equals the committed tip between groups).
    next: u64,
    last_arrival: u64,
    /// The group's encoding buffer, reused.
    buf: Vec<u8>,
    /// A failed group may have left bytes past `seg_len` that must be cut before writing again.
    dirty: bool,
    /// Under [`SyncPolicy::Interval`]: published (acknowledged) writes not yet synced.
    unsynced: bool,
    /// The group written and awaiting its fsync.
    staged: Option<Staged>,
}

impl ShardWriter {
    /// The shard it writes.
    pub fn id(&self) -> ShardId {
        self.shard.id
    }

    /// Whether published writes wait for a background fsync ([`SyncPolicy::Interval`]).
    pub fn is_unsynced(&self) -> bool {
        self.unsynced
    }

    /// Records how the last write (or probe) went, for [`Shard::write_state`]: a success
    /// clears a failure; a failure keeps the time the first of a run of failures was seen.
    pub fn note_outcome(&self, error: Option<&str>) {
        let now = self.clock.now_ms();
        let mut state = self.shard.writes.lock().unwrap_or_else(|p| p.into_inner());
        match error {
            None => {
                state.last_ok_ms = Some(now);
                state.failing = None;
            }
            Some(error) => {
                let since = state.failing.as_ref().map_or(now, |(since, _)| *since);
                state.failing = Some((since, error.to_owned()));
            }
        }
    }

    /// Puts the writer back in a state it can write from after a job panicked part-way: nothing
    /// staged is published, and whatever may lie past the committed length is cut off before
    /// the next write.
    pub fn recover_from_panic(&mut self) {
        self.staged = None;
        self.dirty = true;
    }

    /// Checks, without a put, whether the shard can store again after a failure: cuts off what
    /// a failed write left, starts the next segment if the active one is full, then writes and
    /// syncs [`PROBE_BYTES`] zeros past the committed length and cuts them off again. Zeros
    /// never decode as a frame, so a crash mid-probe leaves a tail that recovery cuts.
    pub fn probe(&mut self) -> io::Result<()> {
        self.repair()?;
        if self.seg_count > 0 && self.seg_len >= self.config.segment_bytes {
            self.roll()?;
        }
        self.dirty = true;
        self.seg.write_all_at(&[0; PROBE_BYTES], self.seg_len)?;
        self.seg.sync_data()?;
        self.seg.set_len(self.seg_len)?;
        self.seg.sync_data()?;
        self.dirty = false;
        Ok(())
    }

    /// Stores one group's records of this shard, in order: [`ShardWriter::write`], then under
    /// [`SyncPolicy::Always`] one `fdatasync` of the segment, then [`ShardWriter::publish`].
    /// Returns the first record's counter. On error nothing is published or acknowledged and
    /// the group's bytes are cut off ([`ShardWriter::abandon`]).
    pub fn commit<'a>(
        &mut self,
        batches: impl Iterator<Item = &'a [PutRecord]>,
    ) -> io::Result<u64> {
        let first = self.write(batches)?;
        if self.config.sync == SyncPolicy::Always {
            if let Err(error) = self.seg.sync_data() {
                self.abandon();
                return Err(error);
            }
        }
        self.publish();
        Ok(first)
    }

    /// Encodes the group's records of this shard, in order, into one buffer and writes it with
    /// one `pwrite` after the committed length (cutting off a failed group's bytes first, and
    /// starting a new segment when the active one is full). Returns the first record's counter.
    /// Nothing is visible to readers until [`ShardWriter::publish`]; on error nothing is
    /// staged and the bytes are cut off (now, or before the next write).
    fn write<'a>(&mut self, batches: impl Iterator<Item = &'a [PutRecord]>) -> io::Result<u64> {
        self.staged = None;
        self.repair()?;
        if self.seg_count > 0 && self.seg_len >= self.config.segment_bytes {
            self.roll()?;
        }
        let arrival = self.clock.now_ms().max(self.last_arrival);
        self.buf.clear();
        let mut sparse = Vec::new();
        let mut counter = self.next;
        let mut in_segment = self.seg_count;
        for records in batches {
            for record in records {
                if in_segment.is_multiple_of(INDEX_EVERY) {
                    sparse.push((self.seg_len + self.buf.len() as u64, arrival));
                }
                segment::encode_frame(
                    &mut self.buf,
                    counter,
                    arrival,
                    record.partition_key.as_bytes(),
                    &record.data,
                );
                counter += 1;
                in_segment += 1;
            }
        }
        if let Err(error) = self.seg.write_all_at(&self.buf, self.seg_len) {
            self.abandon();
            return Err(error);
        }
        let len = self.seg_len + self.buf.len() as u64;
        // Give back memory after an unusually large group.
        if self.buf.capacity() > 2 * MAX_GROUP_BYTES {
            self.buf = Vec::new();
        }
        self.staged = Some(Staged { next: counter, len, sparse, arrival });
        Ok(self.next)
    }

    /// Makes the staged group committed: readers see it and its writers may be answered. Under
    /// [`SyncPolicy::Always`] the committer calls it only after the segment's fsync succeeded.
    fn publish(&mut self) {
        let Some(staged) = self.staged.take() else { return };
        self.seg_count += staged.next - self.next;
        self.seg_len = staged.len;
        self.next = staged.next;
        self.last_arrival = staged.arrival;
        if matches!(self.config.sync, SyncPolicy::Interval(_)) {
            self.unsynced = true;
        }
        {
            let mut index = write_lock(&self.shard.index);
            if let Some(seg) = index.segments.back_mut() {
                seg.len = self.seg_len;
                seg.count = self.seg_count;
                seg.sparse.get_or_insert_with(Vec::new).extend(staged.sparse);
                seg.last_arrival = staged.arrival;
            }
            index.tip = staged.next;
            index.last_arrival = staged.arrival;
        }
        self.shard.tip.send_replace(staged.next);
    }

    /// Drops the staged group after a failed write or fsync: its counters will be given again,
    /// and whatever it left past the committed length is cut off (`ftruncate` + fsync) now or,
    /// if that fails too, before the next write.
    fn abandon(&mut self) {
        self.staged = None;
        self.dirty = true;
        if let Err(error) = self.repair() {
            warn!(shard = %self.shard.id, %error, "Could not cut a failed write yet; will retry before the next.");
        }
    }

    /// Cuts off whatever a failed group left past the committed length.
    fn repair(&mut self) -> io::Result<()> {
        if self.dirty {
            self.seg.set_len(self.seg_len)?;
            self.seg.sync_data()?;
            self.dirty = false;
            info!(shard = %self.shard.id, len = self.seg_len, "Cut a failed write off the segment.");
        }
        Ok(())
    }

    /// Starts a new segment at the next counter; the old one is synced first.
    fn roll(&mut self) -> io::Result<()> {
        self.sync_pending()?;
        let meta = create_segment(&*self.fs, &self.shard.dir, self.shard.id, self.next)?;
        info!(shard = %self.shard.id, base = self.next, previous_bytes = self.seg_len, "Started a new segment.");
        self.seg = Arc::clone(&meta.file);
        self.seg_len = meta.len;
        self.seg_count = 0;
        write_lock(&self.shard.index).segments.push_back(meta);
        Ok(())
    }

    /// Syncs writes acknowledged under [`SyncPolicy::Interval`] that are not synced yet.
    pub fn sync_pending(&mut self) -> io::Result<()> {
        if self.unsynced {
            self.seg.sync_data()?;
            self.unsynced = false;
        }
        Ok(())
    }

    /// Deletes whole segments whose newest record is older than the retention; rolls the active
    /// segment first when it has expired too. Returns how many segments were deleted.
    pub fn retention(&mut self) -> io::Result<usize> {
        let now = self.clock.now_ms();
        let retention = self.config.retention.as_millis() as u64;
        let expired =
            |seg: &SegmentMeta| seg.count == 0 || seg.last_arrival.saturating_add(retention) <= now;
        let active_expired = self.seg_count > 0 && {
            let index = read_lock(&self.shard.index);
            index.segments.back().is_some_and(expired)
        };
        if active_expired {
            self.repair()?;
            self.roll()?;
        }
        let mut deleted = 0;
        loop {
            let victim = {
                let mut index = write_lock(&self.shard.index);
                if index.segments.len() > 1 && index.segments.front().is_some_and(expired) {
                    index.segments.pop_front()
                } else {
                    None
                }
            };
            let Some(victim) = victim else { break };
            if let Err(error) = self.fs.remove_file(&victim.path) {
                // Keep it listed, so that the next retention deletes it.
                write_lock(&self.shard.index).segments.push_front(victim);
                return Err(error);
            }
            info!(shard = %self.shard.id, segment = %victim.path.display(), records = victim.count,
                "Deleted an expired segment.");
            deleted += 1;
        }
        if deleted > 0 {
            self.fs.sync_dir(&self.shard.dir)?;
        }
        Ok(deleted)
    }
}
