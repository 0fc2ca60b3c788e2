//! The merge stage (the history processor): folds every delivered object into per-class personal
//! bests (`history/class-<id>.gz`, see `alleycat_domain::history`; each best marked when a
//! trainer or power meter measured it) and into race results and
//! class records (the embedded SQLite database or PostgreSQL, see [`db`]).
//!
//! Data flows one way: delivery stores an object and sends its path on a channel; the merge
//! fetches it from the object store, folds it in and commits. On start the merge also lists
//! `delivery/` and `imports/` and merges every object the database does not list as merged, so
//! nothing is missed across restarts.
//!
//! Everything the merge computes is a maximum over what it has seen: per race, class, racer and
//! second the highest output; per class, racer and second the best output, marked when a ride
//! that set it was on a real bike (a real bike wins a tie); per class and racer the highest race
//! total. Folding is therefore **idempotent** (a record merged twice, e.g. a duplicate delivery
//! after a crash, counts once) and **order-independent**, and a [`rebuild`] from all delivered
//! objects gives byte-identical history files and the same database.
//!
//! A commit writes the changed history files first (each an atomic replace), then, in one
//! database transaction, the changed rides, class records and the merged objects' paths. A crash
//! in between re-merges those objects on restart, which changes nothing already counted.

pub mod best;
pub mod record;
pub mod ride;

use std::{
    collections::HashMap,
    hash::{BuildHasherDefault, Hasher},
    sync::Arc,
    time::Duration,
};

use alleycat_domain::{history::ClassBests, Class, ClassId, RaceId, DEFAULT_RACE_SECONDS};
use futures::{FutureExt, StreamExt, TryStreamExt};
use object_store::{path::Path, ObjectStore, ObjectStoreExt, PutPayload};
use tokio::sync::{mpsc, watch};
use tracing::{debug, error, info, warn};

use record::{parse_lines, MergeRecord};
use ride::Ride;

use crate::{
    db::{self, Database, DbError},
    objects::{DELIVERY_PREFIX, HISTORY_PREFIX, IMPORTS_PREFIX},
    stream::{Clock, SystemClock},
};

/// How many objects are fetched and parsed at once (this machine has two cores).
pub const DEFAULT_PARALLELISM: usize = 2;
/// The most objects folded before one commit: a catch-up commits in batches this large.
pub const DEFAULT_MAX_BATCH_OBJECTS: usize = 1024;
/// The shortest time between two live commits. Objects announced sooner are folded into the
/// next commit together, so that under heavy load (delivery flushing on its size hint many
/// times a second) each class's history file is encoded a few times a second, not once per
/// object. It is well under the delivery interval, so at a normal pace it delays nothing.
pub const DEFAULT_MIN_COMMIT_INTERVAL: Duration = Duration::from_millis(250);
/// The first wait before retrying after a storage or database failure.
pub const RETRY_INITIAL: Duration = Duration::from_millis(100);
/// The longest wait between retries.
pub const RETRY_MAX: Duration = Duration::from_secs(10);

/// How the merge runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeConfig {
    /// The race length, seconds (default [`DEFAULT_RACE_SECONDS`]). Seconds beyond it are not
    /// merged.
    pub race_seconds: u32,
    /// Objects fetched and parsed concurrently (default [`DEFAULT_PARALLELISM`]).
    pub parallelism: usize,
    /// The most objects folded per commit (default [`DEFAULT_MAX_BATCH_OBJECTS`]).
    pub max_batch_objects: usize,
    /// The shortest time between two live commits (default [`DEFAULT_MIN_COMMIT_INTERVAL`]).
    pub min_commit_interval: Duration,
}

impl Default for MergeConfig {
    fn default() -> Self {
        Self {
            race_seconds: DEFAULT_RACE_SECONDS,
            parallelism: DEFAULT_PARALLELISM,
            max_batch_objects: DEFAULT_MAX_BATCH_OBJECTS,
            min_commit_interval: DEFAULT_MIN_COMMIT_INTERVAL,
        }
    }
}

/// Why the merge failed. Storage and database failures are retried by [`run`]; a corrupt history
/// file needs a [`rebuild`].
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// The object store failed on `path`.
    #[error("object store failed on {path}: {source}")]
    Store {
        /// The object.
        path: String,
        /// The store's error.
        source: object_store::Error,
    },
    /// The database failed.
    #[error(transparent)]
    Database(#[from] DbError),
    /// A stored history file could not be read (the merge sets such a file aside and goes on;
    /// see `Bests::load`).
    #[error("history file of class {class} is corrupt: {source}")]
    CorruptHistory {
        /// The class.
        class: ClassId,
        /// What was wrong.
        source: alleycat_domain::HistoryError,
    },
    /// An imported file is not a history in the original format.
    #[error("cannot import: {0}")]
    Import(alleycat_domain::HistoryError),
    /// The class id is not one of the six.
    #[error("class {0} is not a class (1 to 6)")]
    InvalidClass(i64),
    /// A local file operation failed.
    #[error("i/o failure: {0}")]
    Io(#[from] std::io::Error),
}

/// What the merge has done so far; watch it to know when an object is reflected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MergeProgress {
    /// Objects committed since start.
    pub objects: u64,
    /// Records folded and committed since start.
    pub records: u64,
    /// Lines skipped as not a valid delivered event.
    pub skipped: u64,
    /// Commits since start.
    pub commits: u64,
}

/// Whether the merge's last attempt succeeded (watch it for `/readyz`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum MergeHealth {
    /// The last attempt committed (or nothing has failed yet).
    #[default]
    Ok,
    /// Attempts fail and are retried (the database or the object store refusing writes, e.g. a
    /// full disk under the SQLite file): nothing is lost, the objects wait in the store.
    Failing {
        /// The last attempt's error.
        error: String,
        /// When the first failing attempt of this run of failures failed (epoch ms).
        since_ms: u64,
    },
}

/// A fast hasher for integer keys (the default SipHash is several times slower, and these keys
/// come from our own objects, not from an adversary choosing collisions).
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// The rides of one race and class, loaded from the database on first touch.
struct RaceRides {
    rides: IdMap<u64, Ride>,
    /// Whether it is listed in `dirty_races`.
    dirty: bool,
}

/// What one object held, once parsed.
enum Content {
    Delivered(Vec<MergeRecord>, usize),
    Imported(ClassBests),
    Unreadable,
}

/// The merge's state: the bests of the classes it touched, the rides of recent races, and what
/// is folded but not yet committed.
pub struct Merger {
    store: Arc<dyn ObjectStore>,
    clock: Arc<dyn Clock>,
    db: Database,
    config: MergeConfig,
    bests: best::Bests,
    races: IdMap<(RaceId, ClassId), RaceRides>,
    dirty_races: Vec<(RaceId, ClassId)>,
    pending: Vec<String>,
    pending_records: u64,
    pending_skipped: u64,
    newest_race: RaceId,
    progress: watch::Sender<MergeProgress>,
    health: watch::Sender<MergeHealth>,
}

impl Merger {
    /// A merge over `store` (objects and history files) and `db` (results), on the wall clock
    /// (see [`Merger::clock`]).
    pub fn new(store: Arc<dyn ObjectStore>, db: Database, config: MergeConfig) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let bests = best::Bests::new(store.clone(), clock.clone(), config.race_seconds);
        Self {
            store,
            clock,
            db,
            config,
            bests,
            races: IdMap::default(),
            dirty_races: Vec::new(),
            pending: Vec::new(),
            pending_records: 0,
            pending_skipped: 0,
            newest_race: 0,
            progress: watch::channel(MergeProgress::default()).0,
            health: watch::channel(MergeHealth::Ok).0,
        }
    }

    /// Reads the wall time from `clock`: the date in the name of an unreadable history file
    /// set aside under `quarantine/history/`. Call before merging anything.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self.bests = self.fresh_bests();
        self
    }

    /// Watches the merge's progress (updated after every commit).
    pub fn progress(&self) -> watch::Receiver<MergeProgress> {
        self.progress.subscribe()
    }

    /// Watches whether the merge's attempts succeed (updated after each one [`run`] makes).
    pub fn health(&self) -> watch::Receiver<MergeHealth> {
        self.health.subscribe()
    }

    /// Records an attempt's outcome: a failure keeps the time of the first of a run of them.
    fn record_attempt<T>(&self, outcome: &Result<T, MergeError>) {
        let now_ms = self.clock.now_ms();
        self.health.send_if_modified(|health| {
            let next = match (outcome, &*health) {
                (Ok(_), _) => MergeHealth::Ok,
                (Err(e), MergeHealth::Failing { since_ms, .. }) => {
                    MergeHealth::Failing { error: e.to_string(), since_ms: *since_ms }
                }
                (Err(e), MergeHealth::Ok) => {
                    MergeHealth::Failing { error: e.to_string(), since_ms: now_ms }
                }
            };
            let changed = *health != next;
            *health = next;
            changed
        });
    }

    /// Paths under `delivery/` and `imports/` not yet merged, sorted.
    pub async fn unmerged(&self) -> Result<Vec<Path>, MergeError> {
        let merged = self.db.merged_objects().await?;
        let mut paths = Vec::new();
        for prefix in [DELIVERY_PREFIX, IMPORTS_PREFIX] {
            let prefix = Path::from(prefix);
            let listed: Vec<_> = self
                .store
                .list(Some(&prefix))
                .try_collect()
                .await
                .map_err(|source| MergeError::Store { path: prefix.to_string(), source })?;
            paths.extend(
                listed
                    .into_iter()
                    .map(|meta| meta.location)
                    .filter(|p| !merged.contains(p.as_ref())),
            );
        }
        paths.sort();
        Ok(paths)
    }

    /// Fetches, folds and commits `paths`, in batches of at most `max_batch_objects`.
    pub async fn merge_objects(&mut self, paths: &[Path]) -> Result<(), MergeError> {
        for batch in paths.chunks(self.config.max_batch_objects.max(1)) {
            self.fold_objects(batch).await?;
            self.commit().await?;
        }
        Ok(())
    }

    /// Fetches and parses `paths` concurrently, folding each in as it comes (not committed).
    async fn fold_objects(&mut self, paths: &[Path]) -> Result<(), MergeError> {
        let race_seconds = self.config.race_seconds;
        // Owned, boxed futures: each fetch and parse is 'static and Send, whatever the caller.
        let fetches: Vec<_> = paths
            .iter()
            .map(|path| fetch_and_parse(self.store.clone(), path.clone(), race_seconds).boxed())
            .collect();
        let mut contents = futures::stream::iter(fetches).buffered(self.config.parallelism.max(1));
        while let Some(next) = contents.next().await {
            let (path, content) = next?;
            match content {
                Content::Delivered(records, skipped) => {
                    self.fold_records(&records).await?;
                    self.pending_records += records.len() as u64;
                    self.pending_skipped += skipped as u64;
                    if skipped > 0 {
                        warn!(object = %path, skipped, "Skipped lines that are not delivered events.");
                    }
                }
                Content::Imported(imported) => {
                    let class = imported.class_id();
                    self.bests.load(class).await?;
                    self.bests.merge(class, &imported);
                }
                Content::Unreadable => {
                    error!(object = %path, "Object is not gzip NDJSON; skipped.");
                }
            }
            self.pending.push(path.to_string());
        }
        Ok(())
    }

    /// Folds records into the bests and the rides (loading what they touch first).
    pub(crate) async fn fold_records(&mut self, records: &[MergeRecord]) -> Result<(), MergeError> {
        // Load each class and each (race, class) once, before the tight loop.
        let mut classes = [false; 7];
        let mut last_key = None;
        for r in records {
            if !classes[r.class_id as usize] {
                classes[r.class_id as usize] = true;
                self.bests.load(r.class_id).await?;
            }
            let key = (r.race_id, r.class_id);
            if last_key != Some(key) && !self.races.contains_key(&key) {
                let stored = self.db.load_rides(r.race_id, r.class_id).await?;
                let race_seconds = self.config.race_seconds;
                let rides = stored
                    .into_iter()
                    .map(|(racer, b)| (racer, Ride::from_stored(&b, race_seconds)))
                    .collect();
                self.races.insert(key, RaceRides { rides, dirty: false });
            }
            last_key = Some(key);
        }
        let race_seconds = self.config.race_seconds;
        let mut last: Option<(RaceId, ClassId)> = None;
        let mut rides: Option<&mut RaceRides> = None;
        for r in records {
            self.bests.improve(r.class_id, r.racer_id, r.second, r.centi, r.measured);
            let key = (r.race_id, r.class_id);
            if last != Some(key) {
                last = Some(key);
                rides = self.races.get_mut(&key);
            }
            let race = rides.as_deref_mut().expect("loaded above");
            let ride = race.rides.entry(r.racer_id).or_insert_with(|| Ride::new(race_seconds));
            if ride.apply(r.second, r.centi, r.detail, r.measured) && !race.dirty {
                race.dirty = true;
                self.dirty_races.push(key);
            }
            self.newest_race = self.newest_race.max(r.race_id);
        }
        Ok(())
    }

    /// Writes what changed: history files first, then the database in one transaction.
    pub async fn commit(&mut self) -> Result<(), MergeError> {
        if self.pending.is_empty() && self.dirty_races.is_empty() {
            return Ok(());
        }
        let written = self.bests.write_changed().await?;
        self.dirty_races.sort_unstable();
        let mut rides = Vec::new();
        for key in &self.dirty_races {
            let race = &self.races[key];
            let mut racers: Vec<_> =
                race.rides.iter().filter(|(_, ride)| ride.is_dirty()).collect();
            racers.sort_unstable_by_key(|(racer, _)| **racer);
            rides.extend(racers.into_iter().map(|(&racer, ride)| db::StoredRide {
                race: key.0,
                class: key.1,
                racer,
                outputs: ride.to_blob(),
                details: ride.details_blob(),
                summary: ride.summary(),
            }));
        }
        let ride_count = rides.len();
        self.db.commit(rides, self.pending.clone()).await?;
        let objects = self.pending.len() as u64;
        self.progress.send_modify(|p| {
            p.objects += objects;
            p.records += self.pending_records;
            p.skipped += self.pending_skipped;
            p.commits += 1;
        });
        debug!(
            objects,
            records = self.pending_records,
            rides = ride_count,
            classes = ?written,
            "Merged."
        );
        self.pending.clear();
        for key in self.dirty_races.drain(..) {
            if let Some(race) = self.races.get_mut(&key) {
                race.dirty = false;
                race.rides.values_mut().for_each(Ride::mark_clean);
            }
        }
        self.pending_records = 0;
        self.pending_skipped = 0;
        // Races older than the previous one are over: late records for them reload from the
        // database.
        let keep_from = self.newest_race.saturating_sub(1);
        self.races.retain(|&(race, _), _| race >= keep_from);
        Ok(())
    }
}

/// Fetches one object and parses it on the blocking pool.
async fn fetch_and_parse(
    store: Arc<dyn ObjectStore>,
    path: Path,
    race_seconds: u32,
) -> Result<(Path, Content), MergeError> {
    let store_error = |source| MergeError::Store { path: path.to_string(), source };
    let bytes = store.get(&path).await.map_err(store_error)?.bytes().await.map_err(store_error)?;
    let for_parse = path.clone();
    let content = tokio::task::spawn_blocking(move || parse(&for_parse, &bytes, race_seconds))
        .await
        .map_err(|e| MergeError::Io(std::io::Error::other(e)))?;
    Ok((path, content))
}

/// Reads one object: delivered gzip NDJSON, or an imported history.
fn parse(path: &Path, bytes: &[u8], race_seconds: u32) -> Content {
    if path.as_ref().starts_with(IMPORTS_PREFIX) {
        return match ClassBests::decode(bytes) {
            Ok(bests) => Content::Imported(bests),
            Err(_) => Content::Unreadable,
        };
    }
    // No cap beyond memory: an object is one buffer of our own delivery's lines, as large as
    // the configured buffer (`DeliveryConfig::buffer_bytes`).
    match alleycat_domain::gzip::gunzip_members(bytes, usize::MAX) {
        Ok(ndjson) => {
            let parsed = parse_lines(&ndjson, race_seconds);
            Content::Delivered(parsed.records, parsed.skipped)
        }
        Err(_) => Content::Unreadable,
    }
}

/// Runs the live merge until `shutdown` resolves or the notification channel closes: first
/// merges every object not yet merged, then each object delivery announces, batching whatever
/// is queued and whatever comes within [`MergeConfig::min_commit_interval`] of the previous
/// commit. Storage and database failures are retried with backoff, nothing is skipped.
pub async fn run(
    mut merger: Merger,
    mut notifications: mpsc::UnboundedReceiver<Path>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), MergeError> {
    tokio::pin!(shutdown);
    let catch_up = retrying(&mut merger, None).await;
    info!(objects = catch_up, "Merge caught up with the delivered objects.");
    let mut last_commit: Option<tokio::time::Instant> = None;
    loop {
        let first = tokio::select! {
            _ = &mut shutdown => break,
            next = notifications.recv() => match next {
                Some(path) => path,
                None => break,
            },
        };
        // An object announced sooner than the pace allows waits for the ones behind it.
        let due = last_commit.map(|last| last + merger.config.min_commit_interval);
        if let Some(due) = due.filter(|&due| due > tokio::time::Instant::now()) {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep_until(due) => {}
            }
        }
        let mut batch = vec![first];
        while batch.len() < merger.config.max_batch_objects {
            match notifications.try_recv() {
                Ok(path) => batch.push(path),
                Err(_) => break,
            }
        }
        tokio::select! {
            _ = &mut shutdown => break,
            _ = retrying(&mut merger, Some(batch)) => {}
        }
        last_commit = Some(tokio::time::Instant::now());
    }
    info!("Merge stopped.");
    Ok(())
}

/// Merges `batch` (or, when `None`, everything not yet merged) until it succeeds; returns how many
/// objects were merged. A failed attempt is redone from the database's view of what is merged,
/// so nothing half-folded is lost or counted twice.
async fn retrying(merger: &mut Merger, batch: Option<Vec<Path>>) -> usize {
    let mut wait = RETRY_INITIAL;
    loop {
        let outcome = attempt(merger, batch.clone()).await;
        merger.record_attempt(&outcome);
        match outcome {
            Ok(n) => return n,
            Err(e) => {
                error!(error = %e, retry_in_ms = wait.as_millis() as u64, "Merge failed; retrying.");
                // Forget uncommitted state: it is redone from the objects.
                merger.reset_uncommitted();
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(RETRY_MAX);
            }
        }
    }
}

/// One try of [`retrying`].
async fn attempt(merger: &mut Merger, batch: Option<Vec<Path>>) -> Result<usize, MergeError> {
    let paths: Vec<Path> = match batch {
        Some(batch) => {
            // One indexed look-up per announced object (not the whole table, which grows).
            let mut fresh = Vec::with_capacity(batch.len());
            for path in batch {
                if !merger.db.is_merged(path.as_ref()).await? {
                    fresh.push(path);
                }
            }
            fresh
        }
        None => merger.unmerged().await?,
    };
    merger.merge_objects(&paths).await?;
    Ok(paths.len())
}

impl Merger {
    /// Drops everything folded but not committed, and the cached state it may have touched.
    fn reset_uncommitted(&mut self) {
        self.pending.clear();
        self.dirty_races.clear();
        self.pending_records = 0;
        self.pending_skipped = 0;
        self.races.clear();
        self.bests = self.fresh_bests();
    }

    /// Bests with nothing loaded yet.
    fn fresh_bests(&self) -> best::Bests {
        best::Bests::new(self.store.clone(), self.clock.clone(), self.config.race_seconds)
    }
}

/// What a rebuild did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebuildStats {
    /// Objects merged (delivered and imported).
    pub objects: u64,
    /// Records folded.
    pub records: u64,
}

/// Recomputes the history files and the results database from every delivered and imported
/// object: clears the database's merge tables and the history files, then merges everything.
/// The history files come out byte-identical to the live pipeline's. Run it with the server
/// stopped.
pub async fn rebuild(
    store: Arc<dyn ObjectStore>,
    db: Database,
    config: MergeConfig,
) -> Result<RebuildStats, MergeError> {
    db.clear().await?;
    let history = Path::from(HISTORY_PREFIX);
    let old: Vec<_> = store
        .list(Some(&history))
        .map_ok(|meta| meta.location)
        .try_collect()
        .await
        .map_err(|source| MergeError::Store { path: history.to_string(), source })?;
    for path in old {
        store
            .delete(&path)
            .await
            .map_err(|source| MergeError::Store { path: path.to_string(), source })?;
    }
    let mut merger = Merger::new(store, db, config);
    merger.bests.reset_empty();
    let paths = merger.unmerged().await?;
    merger.merge_objects(&paths).await?;
    let progress = *merger.progress.borrow();
    info!(objects = progress.objects, records = progress.records, "Rebuilt history and results.");
    Ok(RebuildStats { objects: progress.objects, records: progress.records })
}

/// Imports a history file in the original Alleycat format (`{"<second>": {"<racerId>":
/// output}}`, gzipped or not) into `class`'s history: stores it (in our format) under
/// `imports/class-<id>/` so that rebuilds include it, and merges it. Returns how many racers it
/// held. Importing the same file twice changes nothing more.
pub async fn import_original(
    merger: &mut Merger,
    class: ClassId,
    bytes: &[u8],
) -> Result<usize, MergeError> {
    use md5::{Digest, Md5};
    if !Class::is_valid_id(i64::from(class)) {
        return Err(MergeError::InvalidClass(i64::from(class)));
    }
    let imported = ClassBests::from_original_json(class, merger.config.race_seconds, bytes)
        .map_err(MergeError::Import)?;
    let encoded = imported.encode();
    let digest = hex::encode(Md5::digest(&encoded));
    let path = Path::from(format!("{IMPORTS_PREFIX}/class-{class}/{digest}.json.gz"));
    merger
        .store
        .put(&path, PutPayload::from(encoded))
        .await
        .map_err(|source| MergeError::Store { path: path.to_string(), source })?;
    merger.merge_objects(&[path]).await?;
    Ok(imported.racer_count())
}
