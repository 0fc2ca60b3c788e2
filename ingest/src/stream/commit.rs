//! The committer: one thread that group-commits every shard together, in shared cycles.
//!
//! `put_records` routes its records and sends the committer one [`Append`] holding a sub-batch
//! per shard it touches. The committer drains everything queued into one *group* (up to
//! [`MAX_GROUP_BYTES`] in all, and never past a shard's segment size by more than one put); a
//! group of fewer than [`COMMIT_WINDOW_RECORDS`] records also takes the puts that arrive within
//! the *commit window* of its first ([`super::StreamConfig::commit_window`]), so that puts
//! trickling in one event at a time share a cycle; the window ends early once the group has
//! [`COMMIT_WINDOW_RECORDS`] records (the put that completes them wakes the committer) or when
//! no put came for [`COMMIT_IDLE_GAP`] (nobody is about to join). Then it runs one *commit
//! cycle* over every shard in the group at once:
//!
//! 1. it hands each shard's part of the group to that shard's worker thread, and each worker
//!    at the same time encodes its records, in arrival order, into one buffer, writes it with
//!    one `pwrite` after the committed length, `fdatasync`s the segment (under
//!    [`SyncPolicy::Always`]) and publishes the new tip to its readers
//!    ([`ShardWriter::commit`]); a worker whose write or fsync fails cuts its bytes off again
//!    and publishes nothing;
//! 2. once every worker of the cycle has answered, the committer answers every put of the group
//!    with, per sub-batch, its first sequence number or the error of its shard, and only then
//!    takes the next group.
//!
//! So the shards' fsyncs of a cycle run together (the disk and the filesystem's journal serve
//! them as one), concurrent writers share every fsync, and a put waits for one shared cycle (at
//! worst the rest of the current one and the next) rather than for the slowest of several
//! shards' unsynchronised cycles. The workers also encode and free records in parallel, and
//! free them only after answering, off the path of the reply. A failure is per shard: the
//! records of a shard whose write or fsync failed all fail (none is acknowledged, and their
//! counters are given again), while the records of the same group on other shards, which were
//! synced, succeed.
//!
//! No error ends a worker or the committer (issue #19): an I/O error at any step (write, fsync,
//! the ftruncate that cuts a failed write, a new segment, a directory fsync, retention) is the
//! answer to the job, retried by the next one; a job that panics is answered with an error and
//! the worker goes on from its committed state; a cycle that panics fails its puts and the
//! committer serves the next. Each shard notes whether its last write worked
//! ([`super::Stream::health`]); a failing shard is probed every [`PROBE_INTERVAL`]
//! ([`ShardWriter::probe`]), so that it reports it can store again without waiting for a put.
//!
//! What each [`SyncPolicy`] risks:
//!
//! - [`SyncPolicy::Always`] (the default): nothing is acknowledged or visible to readers before
//!   its segment's `fdatasync` returned. A crash or power cut loses only unacknowledged writes;
//!   the risk left is a disk that lies about fsync.
//! - [`SyncPolicy::Interval`]: a group is published and acknowledged once written to the page
//!   cache, and every shard with unsynced writes is synced (in parallel, as above) at most the
//!   interval after the oldest of them. A process crash (SIGKILL) loses nothing, since the page
//!   cache survives it; a power cut or kernel crash loses up to the interval of acknowledged
//!   records (recovery still leaves a clean prefix of each shard, in order, without gaps). A
//!   failed background fsync is logged, and retried an interval later; it cannot be reported
//!   to the writers it concerns.

use std::{
    any::Any,
    io,
    panic::{self, AssertUnwindSafe},
    sync::{
        atomic::{AtomicUsize, Ordering},
        mpsc, Arc,
    },
    thread::{JoinHandle, Thread},
    time::{Duration, Instant},
};

use tokio::sync::oneshot;
use tracing::{debug, error};

use super::{
    config::{
        SyncPolicy, COMMIT_IDLE_GAP, COMMIT_WINDOW_RECORDS, MAX_GROUP_BYTES, PROBE_INTERVAL,
        RETENTION_CHECK_INTERVAL,
    },
    segment,
    shard::{Shard, ShardWriter},
    PutRecord,
};

/// One put's records, per shard.
#[derive(Debug)]
pub struct Append {
    /// `(shard index, records in call order)`, one entry per shard the put touches.
    pub batches: Vec<(usize, Vec<PutRecord>)>,
    /// Per entry of `batches`, in the same order: its first record's counter, or why the
    /// shard failed to store it.
    pub reply: oneshot::Sender<Vec<Result<u64, String>>>,
}

/// What the committer is asked to do.
#[derive(Debug)]
pub enum Command {
    /// Store a put's records.
    Append(Append),
    /// Delete expired segments of every shard now; answer with how many were deleted.
    Retention {
        /// Where the answer goes.
        reply: oneshot::Sender<io::Result<usize>>,
    },
    /// A reshard: commit what is queued before this, then close the shards `close` (their tips
    /// are final: later puts are routed to other shards) and start workers for the new shards
    /// (which take the next indices, in order); answer once done.
    Reshard(Box<ReshardJob>),
    /// Commit what is queued before this, sync what is pending, and stop.
    Stop,
}

/// The committer's queue: what `put_records`, retention and resharding send it.
///
/// It counts the records of the puts sent while the committer waits out a commit window, and
/// wakes it once they make the group [`COMMIT_WINDOW_RECORDS`]: a window ends after its time or
/// at that many records, whichever comes first, so a busy stream does not wait the whole window
/// and a quiet one shares each fsync among more puts. Only the put that completes the count
/// wakes the committer; the others queue without a wake-up.
#[derive(Debug)]
pub struct Queue {
    sender: mpsc::Sender<Command>,
    waiting: Arc<Waiting>,
}

/// What the committer shares with the [`Queue`] while it waits out a window.
#[derive(Debug)]
struct Waiting {
    /// Records sent since the committer started waiting.
    arrived: AtomicUsize,
    /// The count of `arrived` that wakes the committer (`usize::MAX` while it is not waiting).
    wake_at: AtomicUsize,
    /// The committer's thread, set once it runs.
    committer: std::sync::OnceLock<Thread>,
}

impl Queue {
    /// Queues `command`; fails when the committer has stopped.
    pub fn send(&self, command: Command) -> Result<(), mpsc::SendError<Command>> {
        let records = match &command {
            Command::Append(append) => append.batches.iter().map(|(_, r)| r.len()).sum(),
            _ => 0,
        };
        self.sender.send(command)?;
        let waiting = &self.waiting;
        let arrived = waiting.arrived.fetch_add(records, Ordering::AcqRel) + records;
        let wake_at = waiting.wake_at.load(Ordering::Acquire);
        if arrived >= wake_at && arrived - records < wake_at {
            if let Some(committer) = waiting.committer.get() {
                committer.unpark();
            }
        }
        Ok(())
    }
}

impl Waiting {
    /// Waits until `records` more have arrived, or `deadline` has passed, or no put came for
    /// [`COMMIT_IDLE_GAP`] (nobody else is about to join: a lone writer is not kept waiting).
    /// Woken early by the [`Queue`] that completes the count; a stray wake-up checks again.
    fn wait(&self, records: usize, deadline: Instant) {
        self.arrived.store(0, Ordering::Release);
        self.wake_at.store(records, Ordering::Release);
        loop {
            let seen = self.arrived.load(Ordering::Acquire);
            let now = Instant::now();
            if seen >= records || now >= deadline {
                break;
            }
            let until = deadline.min(now + COMMIT_IDLE_GAP);
            std::thread::park_timeout(until - now);
            let after = self.arrived.load(Ordering::Acquire);
            if after >= records || (after == seen && Instant::now() >= until) {
                break;
            }
        }
        self.wake_at.store(usize::MAX, Ordering::Release);
    }
}

/// What [`Command::Reshard`] carries.
#[derive(Debug)]
pub struct ReshardJob {
    /// The shards to close, by index.
    pub close: Vec<usize>,
    /// The new shards and their writers, in index order, from the next index on.
    pub open: Vec<(Arc<Shard>, ShardWriter)>,
    /// Answered once the parents are closed and the children can be written.
    pub reply: oneshot::Sender<io::Result<()>>,
}

/// What a shard worker is asked to do; each job answers with the shard's index.
enum Job {
    /// One cycle: store these sub-batches, in order ([`ShardWriter::commit`]).
    Cycle { batches: Vec<Vec<PutRecord>>, done: mpsc::Sender<(usize, Result<u64, String>)> },
    /// Sync published, unsynced writes ([`SyncPolicy::Interval`]); answers whether some stay
    /// unsynced (the fsync failed).
    Sync { done: mpsc::Sender<(usize, bool)> },
    /// Delete expired segments.
    Retention { done: mpsc::Sender<(usize, io::Result<usize>)> },
    /// Check whether a failing shard can write again ([`ShardWriter::probe`]).
    Probe { done: mpsc::Sender<usize> },
}

/// A shard's worker thread and its queue.
struct Worker {
    shard: Arc<Shard>,
    jobs: mpsc::Sender<Job>,
    thread: JoinHandle<()>,
}

/// Starts one worker thread per shard and the committer thread over them; `shards` and
/// `writers` are in shard order.
pub fn spawn(
    shards: &[Arc<Shard>],
    writers: Vec<ShardWriter>,
    sync: SyncPolicy,
    segment_bytes: u64,
    window: Duration,
) -> io::Result<(Queue, JoinHandle<()>)> {
    let mut workers = Vec::with_capacity(writers.len());
    for (index, (shard, writer)) in shards.iter().zip(writers).enumerate() {
        workers.push(spawn_worker(index, Arc::clone(shard), writer)?);
    }
    let (sender, receiver) = mpsc::channel();
    let waiting = Arc::new(Waiting {
        arrived: AtomicUsize::new(0),
        wake_at: AtomicUsize::new(usize::MAX),
        committer: std::sync::OnceLock::new(),
    });
    let committer = Committer {
        shard_bytes: vec![0; workers.len()],
        workers,
        sync,
        segment_bytes,
        window,
        unsynced_since: None,
        waiting: Arc::clone(&waiting),
    };
    let thread = std::thread::Builder::new()
        .name("stream-commit".into())
        .spawn(move || committer.run(receiver))?;
    let _ = waiting.committer.set(thread.thread().clone());
    Ok((Queue { sender, waiting }, thread))
}

/// Starts the worker thread of shard `index`.
fn spawn_worker(index: usize, shard: Arc<Shard>, writer: ShardWriter) -> io::Result<Worker> {
    let (jobs, receiver) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name(format!("stream-shard-{index}"))
        .spawn(move || work(index, writer, receiver))?;
    Ok(Worker { shard, jobs, thread })
}

/// A shard worker: runs its jobs in order until the committer drops its queue, then syncs what
/// is pending. No error or panic ends it: an I/O error is the job's answer, and a job that
/// panics (once, a log line that could not be written to a full disk) is answered with an
/// error and the writer carries on from its last committed state.
fn work(index: usize, mut writer: ShardWriter, jobs: mpsc::Receiver<Job>) {
    for job in jobs {
        match job {
            Job::Cycle { batches, done } => {
                let result = guarded(&mut writer, |writer| store(writer, &batches));
                let _ = done.send((index, result));
                // Freeing the records after answering keeps it off the put's path.
                drop(batches);
            }
            Job::Sync { done } => {
                let _ = guarded(&mut writer, |writer| {
                    if let Err(error) = writer.sync_pending() {
                        error!(shard = %writer.id(), %error,
                            "Background fsync failed; acknowledged records may be lost on power loss.");
                    }
                    Ok(())
                });
                let _ = done.send((index, writer.is_unsynced()));
            }
            Job::Retention { done } => {
                let result = guarded(&mut writer, |writer| Ok(writer.retention()))
                    .unwrap_or_else(|message| Err(io::Error::other(message)));
                let _ = done.send((index, result));
            }
            Job::Probe { done } => {
                let _ = guarded(&mut writer, |writer| {
                    let result = writer.probe();
                    writer.note_outcome(result.as_ref().err().map(ToString::to_string).as_deref());
                    if result.is_ok() {
                        tracing::info!(shard = %writer.id(), "The shard can store again.");
                    }
                    Ok(())
                });
                let _ = done.send(index);
            }
        }
    }
    let _ = guarded(&mut writer, |writer| {
        if let Err(error) = writer.sync_pending() {
            error!(shard = %writer.id(), %error,
                "Final fsync failed; acknowledged records may be lost on power loss.");
        }
        Ok(())
    });
}

/// One cycle of a shard: stores the group's records and notes how it went.
fn store(writer: &mut ShardWriter, batches: &[Vec<PutRecord>]) -> Result<u64, String> {
    let result = writer.commit(batches.iter().map(Vec::as_slice));
    // Noted before logging, so that the state is right even if the log line fails.
    writer.note_outcome(result.as_ref().err().map(ToString::to_string).as_deref());
    result.map_err(|error| {
        let records: usize = batches.iter().map(Vec::len).sum();
        error!(shard = %writer.id(), %error, records,
            "Failed to store a group of records; none of them is acknowledged.");
        format!("{}: failed to store the record: {error}", writer.id())
    })
}

/// Runs `job` on the writer; a panic becomes an error answer, and the writer is put back in a
/// state it can write from ([`ShardWriter::recover_from_panic`]). Nothing is logged on that
/// path: the panic hook has reported it, and the log may be what failed.
fn guarded<T>(
    writer: &mut ShardWriter,
    job: impl FnOnce(&mut ShardWriter) -> Result<T, String>,
) -> Result<T, String> {
    match panic::catch_unwind(AssertUnwindSafe(|| job(&mut *writer))) {
        Ok(result) => result,
        Err(payload) => {
            writer.recover_from_panic();
            let message =
                format!("{}: its writer failed: {}", writer.id(), panic_message(&*payload));
            writer.note_outcome(Some(&message));
            Err(message)
        }
    }
}

/// The text of a panic, when it has one.
fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message")
}

/// When the committer last ran its periodic jobs.
struct Timers {
    retention: Instant,
    probe: Instant,
}

struct Committer {
    workers: Vec<Worker>,
    sync: SyncPolicy,
    segment_bytes: u64,
    /// How long a small group waits for more puts.
    window: Duration,
    /// Bytes of the group being drained, per shard.
    shard_bytes: Vec<usize>,
    /// Under [`SyncPolicy::Interval`], when the oldest unsynced write was published.
    unsynced_since: Option<Instant>,
    /// Shared with the [`Queue`], which wakes a window that has its records.
    waiting: Arc<Waiting>,
}

impl Committer {
    /// Serves commands until told to stop, then stops the workers. A panic in a cycle (a bug)
    /// fails the puts of that cycle, whose replies are dropped, and the committer serves on.
    fn run(mut self, receiver: mpsc::Receiver<Command>) {
        let mut timers = Timers { retention: Instant::now(), probe: Instant::now() };
        while panic::catch_unwind(AssertUnwindSafe(|| self.serve(&receiver, &mut timers))).is_err()
        {
        }
        // Dropping the queues stops the workers, each after syncing what is pending.
        for worker in std::mem::take(&mut self.workers) {
            drop(worker.jobs);
            let _ = worker.thread.join();
        }
        debug!("Stream committer stopped.");
    }

    /// Serves commands until [`Command::Stop`] or until every sender is gone.
    fn serve(&mut self, receiver: &mpsc::Receiver<Command>, timers: &mut Timers) {
        let mut group: Vec<Append> = Vec::new();
        loop {
            let mut timeout = match (self.sync, self.unsynced_since) {
                (SyncPolicy::Interval(every), Some(since)) => every.saturating_sub(since.elapsed()),
                _ => RETENTION_CHECK_INTERVAL.saturating_sub(timers.retention.elapsed()),
            };
            if self.any_failing() {
                timeout = timeout.min(PROBE_INTERVAL.saturating_sub(timers.probe.elapsed()));
            }
            let command = match receiver.recv_timeout(timeout.max(Duration::from_millis(1))) {
                Ok(command) => command,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    self.sync_if_due();
                    self.retention_if_due(&mut timers.retention);
                    self.probe_if_due(&mut timers.probe);
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            };
            let mut next = Some(command);
            let opened = Instant::now();
            let mut group_records = 0usize;
            let mut bytes = 0usize;
            let mut stop = false;
            let mut reshard = None;
            self.shard_bytes.iter_mut().for_each(|b| *b = 0);
            // Each shard's committed segment length: the group ends before one passes its size.
            let segment_lens: Vec<u64> =
                self.workers.iter().map(|w| w.shard.active_len()).collect();
            // Drain what is queued into one group, within the group and segment limits.
            while let Some(command) = next.take() {
                match command {
                    Command::Append(append) => {
                        let mut full = false;
                        for (shard, records) in &append.batches {
                            let added: usize = records
                                .iter()
                                .map(|r| segment::frame_len(r.partition_key.as_bytes(), &r.data))
                                .sum();
                            bytes += added;
                            self.shard_bytes[*shard] += added;
                            full |= segment_lens[*shard] + self.shard_bytes[*shard] as u64
                                >= self.segment_bytes;
                            group_records += records.len();
                        }
                        group.push(append);
                        if full || bytes >= MAX_GROUP_BYTES {
                            break;
                        }
                    }
                    Command::Retention { reply } => {
                        timers.retention = Instant::now();
                        let _ = reply.send(self.retention());
                    }
                    Command::Reshard(job) => {
                        reshard = Some(job);
                        break;
                    }
                    Command::Stop => {
                        stop = true;
                        break;
                    }
                }
                next = match receiver.try_recv() {
                    Ok(command) => Some(command),
                    // A small group waits out its window for more puts to share its fsyncs,
                    // asleep: the puts queue meanwhile without waking the committer one by one,
                    // but the put that brings the group to its size wakes it at once.
                    Err(mpsc::TryRecvError::Empty) if group_records < COMMIT_WINDOW_RECORDS => {
                        let deadline = opened + self.window;
                        if Instant::now() >= deadline {
                            None
                        } else {
                            self.waiting.wait(COMMIT_WINDOW_RECORDS - group_records, deadline);
                            receiver.try_recv().ok()
                        }
                    }
                    Err(_) => None,
                };
            }
            if !group.is_empty() {
                self.commit(&mut group);
                // Under steady load the receive never times out, so check the timers here too.
                self.sync_if_due();
                self.retention_if_due(&mut timers.retention);
                self.probe_if_due(&mut timers.probe);
            }
            if let Some(job) = reshard {
                let result = self.reshard(job.close, job.open);
                let _ = job.reply.send(result);
            }
            if stop {
                return;
            }
        }
    }

    /// Closes the shards `close` (everything routed to them before is committed) and starts
    /// workers for the new shards `open`.
    fn reshard(
        &mut self,
        close: Vec<usize>,
        open: Vec<(Arc<Shard>, ShardWriter)>,
    ) -> io::Result<()> {
        for (shard, writer) in open {
            let index = self.workers.len();
            if shard.id.0 as usize != index {
                return Err(io::Error::other(format!(
                    "{} was opened where shard {index} was due",
                    shard.id
                )));
            }
            self.workers.push(spawn_worker(index, shard, writer)?);
            self.shard_bytes.push(0);
        }
        for index in close {
            if let Some(worker) = self.workers.get(index) {
                worker.shard.close();
            }
        }
        Ok(())
    }

    /// Whether some shard's last write failed.
    fn any_failing(&self) -> bool {
        self.workers.iter().any(|w| w.shard.is_failing())
    }

    /// Probes every failing shard once [`PROBE_INTERVAL`] has passed since the last probe, so
    /// that a shard reports it can store again (and readiness returns) without waiting for a
    /// put, which a load balancer may no longer send.
    fn probe_if_due(&mut self, last: &mut Instant) {
        if last.elapsed() < PROBE_INTERVAL || !self.any_failing() {
            return;
        }
        *last = Instant::now();
        let (done, answers) = mpsc::channel();
        for worker in self.workers.iter().filter(|w| w.shard.is_failing()) {
            let _ = worker.jobs.send(Job::Probe { done: done.clone() });
        }
        drop(done);
        answers.iter().for_each(drop);
    }

    /// One commit cycle: every shard of the group commits its part at once; then every put is
    /// answered.
    fn commit(&mut self, group: &mut Vec<Append>) {
        let mut per_shard: Vec<Vec<Vec<PutRecord>>> =
            (0..self.workers.len()).map(|_| Vec::new()).collect();
        // What each put is owed: per sub-batch, its shard and record count.
        let mut owed = Vec::with_capacity(group.len());
        for append in group.drain(..) {
            let mut counts = Vec::with_capacity(append.batches.len());
            for (shard, records) in append.batches {
                counts.push((shard, records.len() as u64));
                per_shard[shard].push(records);
            }
            owed.push((counts, append.reply));
        }
        let (done, answers) = mpsc::channel();
        let mut outcomes: Vec<Option<Result<u64, String>>> = vec![None; self.workers.len()];
        for (shard, batches) in per_shard.into_iter().enumerate() {
            if batches.is_empty() {
                continue;
            }
            let job = Job::Cycle { batches, done: done.clone() };
            if self.workers[shard].jobs.send(job).is_err() {
                outcomes[shard] =
                    Some(Err(format!("{}: its writer stopped", self.workers[shard].shard.id)));
            }
        }
        drop(done);
        // Ends once every worker of the cycle has answered (or died, dropping its job).
        for (shard, result) in answers.iter() {
            if result.is_ok() && matches!(self.sync, SyncPolicy::Interval(_)) {
                self.unsynced_since.get_or_insert_with(Instant::now);
            }
            outcomes[shard] = Some(result);
        }
        // Answer in arrival order, so that each shard's counters are handed out as encoded.
        let mut cursors: Vec<u64> = outcomes
            .iter()
            .map(|o| o.as_ref().and_then(|r| r.as_ref().ok()).copied().unwrap_or(0))
            .collect();
        for (counts, reply) in owed {
            let answers = counts
                .into_iter()
                .map(|(shard, count)| match &outcomes[shard] {
                    Some(Ok(_)) => {
                        let first = cursors[shard];
                        cursors[shard] += count;
                        Ok(first)
                    }
                    Some(Err(message)) => Err(message.clone()),
                    // Not known to be stored: never acknowledged.
                    None => Err(format!("{}: its writer stopped", self.workers[shard].shard.id)),
                })
                .collect();
            let _ = reply.send(answers);
        }
    }

    /// Syncs every shard with acknowledged, unsynced writes ([`SyncPolicy::Interval`]), in
    /// parallel; a shard whose fsync failed is retried an interval later.
    fn sync_if_due(&mut self) {
        let (SyncPolicy::Interval(every), Some(since)) = (self.sync, self.unsynced_since) else {
            return;
        };
        if since.elapsed() < every {
            return;
        }
        let (done, answers) = mpsc::channel();
        for worker in &self.workers {
            let _ = worker.jobs.send(Job::Sync { done: done.clone() });
        }
        drop(done);
        let failed = answers.iter().any(|(_, unsynced)| unsynced);
        self.unsynced_since = failed.then(Instant::now);
    }

    fn retention_if_due(&mut self, last: &mut Instant) {
        if last.elapsed() >= RETENTION_CHECK_INTERVAL {
            *last = Instant::now();
            if let Err(error) = self.retention() {
                error!(%error, "Retention failed.");
            }
        }
    }

    /// Runs retention on every shard (all of them, even after one fails); the total deleted or
    /// the first error.
    fn retention(&mut self) -> io::Result<usize> {
        let (done, answers) = mpsc::channel();
        for worker in &self.workers {
            let _ = worker.jobs.send(Job::Retention { done: done.clone() });
        }
        drop(done);
        let mut deleted = 0;
        let mut first_error = None;
        for (shard, result) in answers.iter() {
            match result {
                Ok(n) => deleted += n,
                Err(error) => {
                    error!(shard = %self.workers[shard].shard.id, %error, "Retention failed.");
                    first_error.get_or_insert(error);
                }
            }
        }
        first_error.map_or(Ok(deleted), Err)
    }
}
