//! The files the disk engine touches, behind a small trait.
//!
//! [`Fs`] is everything [`super::disk::DiskStream`] needs from a filesystem: positioned reads and
//! writes, `fdatasync`, truncation, rename and directory sync. Two implementations:
//!
//! - [`RealFs`]: the real disk (`pread`/`pwrite` through `std::os::unix::fs::FileExt`).
//! - [`MemFs`]: in memory, for tests. It keeps, per file, what was written and what was made
//!   durable by the last `sync_data`, and per directory which names were made durable by the last
//!   `sync_dir`, so that [`MemFs::crash`] can forget everything that was not synced and keep a
//!   torn prefix of what was. It also injects faults: a capacity after which writes fail with
//!   `ENOSPC`, and [`MemFs::inject`], which makes every following call of one step ([`FsOp`]:
//!   write, fsync, ftruncate, file creation, rename, directory fsync, removal) fail with
//!   `ENOSPC` or `EIO` ([`Injected`]) until it is lifted; [`MemFs::fail_syncs_in`] fails only the
//!   syncs of the files in one directory, such as one shard's.

use std::{
    collections::BTreeMap,
    fs::{File, OpenOptions},
    io,
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, MutexGuard,
    },
};

/// An open file: positioned reads and writes that may run from several threads at once.
pub trait FileHandle: Send + Sync + std::fmt::Debug {
    /// Writes all of `buf` at `offset`, growing the file as needed.
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Reads up to `buf.len()` bytes at `offset`; returns how many were read (0 at the end).
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// Makes the file's data and length durable (`fdatasync`).
    fn sync_data(&self) -> io::Result<()>;
    /// Truncates or extends the file to `len` bytes.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// The file's current length.
    fn len(&self) -> io::Result<u64>;
    /// Whether the file is empty.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Fills `buf` from `offset`, or fails with `UnexpectedEof`.
    fn read_exact_at(&self, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read_at(buf, offset)? {
                0 => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("read past the end of the file at offset {offset}"),
                    ))
                }
                n => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
            }
        }
        Ok(())
    }
}

/// The filesystem operations the stream engine uses.
pub trait Fs: Send + Sync + std::fmt::Debug + 'static {
    /// Creates `dir` and its parents if missing.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// The names of the files (not directories) directly in `dir`, in any order.
    fn list_files(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// The names of the directories directly in `dir`, in any order.
    fn list_dirs(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Opens `path` for reading and writing; creates it (empty) when `create` is set and it is
    /// missing, and empties it when `truncate` is set.
    fn open(&self, path: &Path, create: bool, truncate: bool) -> io::Result<Arc<dyn FileHandle>>;
    /// Whether `path` exists (file or directory).
    fn exists(&self, path: &Path) -> io::Result<bool>;
    /// Removes the file at `path`.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Renames `from` to `to` atomically, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes `dir`'s entries (creations, renames, removals) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;

    /// Takes an exclusive lock on `dir` (a `LOCK` file in it) for as long as the returned guard
    /// lives, so that two engines never write the same stream; fails with `WouldBlock` when it
    /// is already held.
    fn lock_dir(&self, dir: &Path) -> io::Result<Box<dyn std::any::Any + Send + Sync>>;

    /// Reads the whole file at `path`.
    fn read_file(&self, path: &Path) -> io::Result<Vec<u8>> {
        let file = self.open(path, false, false)?;
        let mut buf = vec![0; usize::try_from(file.len()?).unwrap_or(usize::MAX)];
        file.read_exact_at(&mut buf, 0)?;
        Ok(buf)
    }
}

/// The real disk.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealFs;

#[derive(Debug)]
struct RealFile(File);

impl FileHandle for RealFile {
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.0.write_all_at(buf, offset)
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        FileExt::read_at(&self.0, buf, offset)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
}

impl Fs for RealFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }
    fn list_files(&self, dir: &Path) -> io::Result<Vec<String>> {
        list(dir, false)
    }
    fn list_dirs(&self, dir: &Path) -> io::Result<Vec<String>> {
        list(dir, true)
    }
    fn open(&self, path: &Path, create: bool, truncate: bool) -> io::Result<Arc<dyn FileHandle>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(truncate)
            .open(path)?;
        Ok(Arc::new(RealFile(file)))
    }
    fn exists(&self, path: &Path) -> io::Result<bool> {
        path.try_exists()
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
    fn lock_dir(&self, dir: &Path) -> io::Result<Box<dyn std::any::Any + Send + Sync>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join("LOCK"))?;
        // An advisory lock (flock): the kernel drops it when the process dies, even by SIGKILL.
        file.try_lock().map_err(|error| match error {
            std::fs::TryLockError::WouldBlock => io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("{} is in use by another stream engine", dir.display()),
            ),
            std::fs::TryLockError::Error(error) => error,
        })?;
        Ok(Box::new(file))
    }
}

fn list(dir: &Path, dirs: bool) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() == dirs {
            if let Some(name) = entry.file_name().to_str() {
                names.push(name.to_owned());
            }
        }
    }
    Ok(names)
}

/// One in-memory file: its current bytes and the bytes the last `sync_data` made durable.
#[derive(Debug, Default)]
struct MemData {
    data: Vec<u8>,
    durable: Vec<u8>,
}

#[derive(Debug)]
struct MemFile {
    data: Mutex<MemData>,
    /// Its current name, for faults injected by directory.
    path: Mutex<PathBuf>,
    faults: Arc<Faults>,
}

/// A filesystem step into which [`MemFs::inject`] injects a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FsOp {
    /// `pwrite`: records, segment headers, checkpoint and metadata files.
    Write,
    /// `fdatasync` of a file.
    Sync,
    /// `ftruncate` (cutting a failed write off a segment, emptying a file on open).
    SetLen,
    /// Creating a file that did not exist: a new segment, a checkpoint's temporary file.
    Create,
    /// `rename`: a checkpoint replacing the previous one.
    Rename,
    /// `fsync` of a directory, after creating, renaming or removing files in it.
    SyncDir,
    /// Removing a file: an expired segment, a failed temporary.
    Remove,
}

impl FsOp {
    /// Every step, for tests that inject a fault at each in turn.
    pub const ALL: [FsOp; 7] = [
        FsOp::Write,
        FsOp::Sync,
        FsOp::SetLen,
        FsOp::Create,
        FsOp::Rename,
        FsOp::SyncDir,
        FsOp::Remove,
    ];
}

/// The error an injected fault returns, as the kernel would.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Injected {
    /// `ENOSPC`: no space left on device.
    NoSpace,
    /// `EIO`: input/output error.
    Io,
}

impl Injected {
    /// Both errors, for tests that inject each in turn.
    pub const ALL: [Injected; 2] = [Injected::NoSpace, Injected::Io];

    /// The OS error it stands for.
    pub fn to_error(self) -> io::Error {
        io::Error::from_raw_os_error(match self {
            Self::NoSpace => 28,
            Self::Io => 5,
        })
    }
}

#[derive(Debug, Default)]
struct Faults {
    /// Total bytes all files may hold; a write past it fails with `ENOSPC`.
    capacity: AtomicU64,
    /// Bytes held by all files now.
    used: AtomicU64,
    /// Steps that fail, and with what, until lifted.
    injected: Mutex<BTreeMap<FsOp, Injected>>,
    /// Calls failed by an injected fault so far.
    injected_failures: AtomicU64,
    /// Directories whose files' `sync_data` fails.
    fail_syncs_in: Mutex<std::collections::BTreeSet<PathBuf>>,
}

impl Faults {
    /// The injected error of `op`, if any.
    fn check(&self, op: FsOp) -> io::Result<()> {
        match lock(&self.injected).get(&op) {
            Some(injected) => {
                self.injected_failures.fetch_add(1, Ordering::SeqCst);
                Err(injected.to_error())
            }
            None => Ok(()),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not hide the state from the next assertion.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl FileHandle for MemFile {
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.faults.check(FsOp::Write)?;
        let mut file = lock(&self.data);
        let end = offset as usize + buf.len();
        let grow = end.saturating_sub(file.data.len()) as u64;
        let used = self.faults.used.load(Ordering::SeqCst);
        if used + grow > self.faults.capacity.load(Ordering::SeqCst) {
            return Err(io::Error::from_raw_os_error(28)); // ENOSPC
        }
        self.faults.used.fetch_add(grow, Ordering::SeqCst);
        if file.data.len() < end {
            file.data.resize(end, 0);
        }
        file.data[offset as usize..end].copy_from_slice(buf);
        Ok(())
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let file = lock(&self.data);
        let start = (offset as usize).min(file.data.len());
        let n = buf.len().min(file.data.len() - start);
        buf[..n].copy_from_slice(&file.data[start..start + n]);
        Ok(n)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.faults.check(FsOp::Sync)?;
        let path = lock(&self.path).clone();
        if path.parent().is_some_and(|dir| lock(&self.faults.fail_syncs_in).contains(dir)) {
            return Err(io::Error::other(format!(
                "injected fsync failure (EIO) of {}",
                path.display()
            )));
        }
        let mut file = lock(&self.data);
        file.durable = file.data.clone();
        Ok(())
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.faults.check(FsOp::SetLen)?;
        let mut file = lock(&self.data);
        let old = file.data.len() as u64;
        if len > old {
            self.faults.used.fetch_add(len - old, Ordering::SeqCst);
        } else {
            self.faults.used.fetch_sub(old - len, Ordering::SeqCst);
        }
        file.data.resize(len as usize, 0);
        Ok(())
    }
    fn len(&self) -> io::Result<u64> {
        Ok(lock(&self.data).data.len() as u64)
    }
}

#[derive(Debug, Default)]
struct MemState {
    /// The namespace as the running process sees it.
    files: BTreeMap<PathBuf, Arc<MemFile>>,
    dirs: std::collections::BTreeSet<PathBuf>,
    /// The namespace as made durable by `sync_dir`.
    durable_files: BTreeMap<PathBuf, Arc<MemFile>>,
    /// Directories locked by `lock_dir`.
    locked: std::collections::BTreeSet<PathBuf>,
}

/// Releases a [`MemFs`] directory lock when dropped.
struct MemLock {
    state: Arc<Mutex<MemState>>,
    dir: PathBuf,
}

impl Drop for MemLock {
    fn drop(&mut self) {
        lock(&self.state).locked.remove(&self.dir);
    }
}

/// An in-memory filesystem that can simulate crashes and inject faults. Clones share the files.
#[derive(Debug, Clone)]
pub struct MemFs {
    state: Arc<Mutex<MemState>>,
    faults: Arc<Faults>,
}

impl Default for MemFs {
    fn default() -> Self {
        Self::new()
    }
}

impl MemFs {
    /// An empty filesystem without faults.
    pub fn new() -> Self {
        let faults = Faults { capacity: AtomicU64::new(u64::MAX), ..Faults::default() };
        Self { state: Arc::default(), faults: Arc::new(faults) }
    }

    /// Limits the bytes all files together may hold; writes beyond fail with `ENOSPC`
    /// (`u64::MAX`: no limit).
    pub fn set_capacity(&self, bytes: u64) {
        self.faults.capacity.store(bytes, Ordering::SeqCst);
    }

    /// The bytes all files hold now.
    pub fn used_bytes(&self) -> u64 {
        self.faults.used.load(Ordering::SeqCst)
    }

    /// Makes every following call of `op` fail with `error` (`None`: stop failing).
    pub fn inject(&self, op: FsOp, error: Option<Injected>) {
        let mut injected = lock(&self.faults.injected);
        match error {
            Some(error) => injected.insert(op, error),
            None => injected.remove(&op),
        };
    }

    /// How many calls an injected fault ([`MemFs::inject`]) has failed so far.
    pub fn injected_failures(&self) -> u64 {
        self.faults.injected_failures.load(Ordering::SeqCst)
    }

    /// Makes every following write fail with `EIO` (or stop failing).
    pub fn fail_writes(&self, fail: bool) {
        self.inject(FsOp::Write, fail.then_some(Injected::Io));
    }

    /// Makes every following `sync_data` and directory sync fail with `EIO` (or stop failing).
    pub fn fail_syncs(&self, fail: bool) {
        self.inject(FsOp::Sync, fail.then_some(Injected::Io));
        self.inject(FsOp::SyncDir, fail.then_some(Injected::Io));
    }

    /// Makes every following `sync_data` of a file directly in `dir` fail with an I/O error (or
    /// stop failing), e.g. one shard's segments while the others work.
    pub fn fail_syncs_in(&self, dir: &Path, fail: bool) {
        let mut dirs = lock(&self.faults.fail_syncs_in);
        if fail {
            dirs.insert(dir.to_path_buf());
        } else {
            dirs.remove(dir);
        }
    }

    /// Simulates a power cut: every file name not made durable by `sync_dir` disappears (and a
    /// removed or renamed one comes back), and every file loses what was written since its last
    /// `sync_data`, except for a torn prefix: `keep(path, unsynced_bytes)` says how many of the
    /// unsynced bytes past the durable length survive. Open handles from before are detached.
    pub fn crash(&self, keep: impl Fn(&Path, usize) -> usize) {
        let mut state = lock(&self.state);
        let mut files = BTreeMap::new();
        let mut used = 0u64;
        for (path, file) in &state.durable_files {
            let data = lock(&file.data);
            let mut content = data.durable.clone();
            // Only an append past the durable length can tear into the file; overwrites of
            // synced bytes are not modelled (the engine never makes them).
            if data.data.len() > content.len() && data.data.starts_with(&content) {
                let pending = &data.data[content.len()..];
                let kept = keep(path, pending.len()).min(pending.len());
                content.extend_from_slice(&pending[..kept]);
            }
            used += content.len() as u64;
            let fresh = MemFile {
                data: Mutex::new(MemData { durable: content.clone(), data: content }),
                path: Mutex::new(path.clone()),
                faults: Arc::clone(&self.faults),
            };
            files.insert(path.clone(), Arc::new(fresh));
        }
        state.durable_files = files.clone();
        state.files = files;
        // The crashed process's locks die with it.
        state.locked.clear();
        self.faults.used.store(used, Ordering::SeqCst);
    }

    /// The current bytes of `path`, if it exists.
    pub fn contents(&self, path: &Path) -> Option<Vec<u8>> {
        let state = lock(&self.state);
        state.files.get(path).map(|file| lock(&file.data).data.clone())
    }
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{} not found", path.display()))
}

impl Fs for MemFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut state = lock(&self.state);
        for ancestor in dir.ancestors() {
            state.dirs.insert(ancestor.to_path_buf());
        }
        Ok(())
    }
    fn list_files(&self, dir: &Path) -> io::Result<Vec<String>> {
        let state = lock(&self.state);
        if !state.dirs.contains(dir) {
            return Err(not_found(dir));
        }
        Ok(state
            .files
            .keys()
            .filter(|path| path.parent() == Some(dir))
            .filter_map(|path| path.file_name()?.to_str().map(str::to_owned))
            .collect())
    }
    fn list_dirs(&self, dir: &Path) -> io::Result<Vec<String>> {
        let state = lock(&self.state);
        if !state.dirs.contains(dir) {
            return Err(not_found(dir));
        }
        Ok(state
            .dirs
            .iter()
            .filter(|path| path.parent() == Some(dir))
            .filter_map(|path| path.file_name()?.to_str().map(str::to_owned))
            .collect())
    }
    fn open(&self, path: &Path, create: bool, truncate: bool) -> io::Result<Arc<dyn FileHandle>> {
        let mut state = lock(&self.state);
        if let Some(parent) = path.parent() {
            if !state.dirs.contains(parent) {
                return Err(not_found(parent));
            }
        }
        let file = match state.files.get(path) {
            Some(file) => Arc::clone(file),
            None if create => {
                self.faults.check(FsOp::Create)?;
                let file = Arc::new(MemFile {
                    data: Mutex::default(),
                    path: Mutex::new(path.to_path_buf()),
                    faults: Arc::clone(&self.faults),
                });
                state.files.insert(path.to_path_buf(), Arc::clone(&file));
                file
            }
            None => return Err(not_found(path)),
        };
        if truncate {
            file.set_len(0)?;
        }
        Ok(file)
    }
    fn exists(&self, path: &Path) -> io::Result<bool> {
        let state = lock(&self.state);
        Ok(state.files.contains_key(path) || state.dirs.contains(path))
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.faults.check(FsOp::Remove)?;
        let mut state = lock(&self.state);
        let file = state.files.remove(path).ok_or_else(|| not_found(path))?;
        let len = lock(&file.data).data.len() as u64;
        self.faults.used.fetch_sub(len, Ordering::SeqCst);
        Ok(())
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.faults.check(FsOp::Rename)?;
        let mut state = lock(&self.state);
        let file = state.files.remove(from).ok_or_else(|| not_found(from))?;
        *lock(&file.path) = to.to_path_buf();
        if let Some(old) = state.files.insert(to.to_path_buf(), file) {
            let len = lock(&old.data).data.len() as u64;
            self.faults.used.fetch_sub(len, Ordering::SeqCst);
        }
        Ok(())
    }
    fn lock_dir(&self, dir: &Path) -> io::Result<Box<dyn std::any::Any + Send + Sync>> {
        if !lock(&self.state).locked.insert(dir.to_path_buf()) {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("{} is in use by another stream engine", dir.display()),
            ));
        }
        Ok(Box::new(MemLock { state: Arc::clone(&self.state), dir: dir.to_path_buf() }))
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.faults.check(FsOp::SyncDir)?;
        let mut state = lock(&self.state);
        let state = &mut *state;
        state.durable_files.retain(|path, _| path.parent() != Some(dir));
        for (path, file) in &state.files {
            if path.parent() == Some(dir) {
                state.durable_files.insert(path.clone(), Arc::clone(file));
            }
        }
        Ok(())
    }
}
