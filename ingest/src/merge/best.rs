//! The per-class personal bests and their history files in the object store.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};

use alleycat_domain::{
    history::{self, ClassBests},
    ClassId,
};
use bytes::Bytes;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::MergeError;
use crate::{
    objects::{history_file, history_path, QUARANTINE_PREFIX},
    stream::Clock,
};

/// Where an unreadable history file of `class` found at `millis` is kept.
fn quarantine_path(class: ClassId, millis: u64) -> object_store::path::Path {
    object_store::path::Path::from(format!("{QUARANTINE_PREFIX}/history/class-{class}-{millis}.gz"))
}

/// Every class's bests the merge has touched, loaded lazily from the history files.
pub(crate) struct Bests {
    store: Arc<dyn ObjectStore>,
    clock: Arc<dyn Clock>,
    race_seconds: u32,
    classes: BTreeMap<ClassId, ClassBests>,
    dirty: BTreeSet<ClassId>,
}

impl Bests {
    /// Bests kept in `store`; `clock` dates the unreadable files set aside.
    pub(crate) fn new(
        store: Arc<dyn ObjectStore>,
        clock: Arc<dyn Clock>,
        race_seconds: u32,
    ) -> Self {
        Self { store, clock, race_seconds, classes: BTreeMap::new(), dirty: BTreeSet::new() }
    }

    /// Loads `class`'s bests from its history file unless already loaded.
    pub(crate) async fn load(&mut self, class: ClassId) -> Result<(), MergeError> {
        if self.classes.contains_key(&class) {
            return Ok(());
        }
        let mut bests = ClassBests::new(class, self.race_seconds);
        if let Some(file) = history_file(self.store.as_ref(), class)
            .await
            .map_err(|source| MergeError::Store { path: history_path(class).to_string(), source })?
        {
            match ClassBests::decode(&file.bytes) {
                Ok(stored) => {
                    bests.merge(&stored);
                }
                // Retrying cannot mend a file that does not decode, and waiting on it would
                // stop the merge of every class: keep it aside and carry on from empty bests.
                // The file is derived data; `alleycat rebuild` restores it from the objects.
                Err(source) => self.quarantine(class, file.bytes, &source).await?,
            }
        }
        self.classes.insert(class, bests);
        Ok(())
    }

    /// Moves an unreadable history file of `class` to `quarantine/history/` and says so loudly.
    async fn quarantine(
        &self,
        class: ClassId,
        bytes: Bytes,
        cause: &history::HistoryError,
    ) -> Result<(), MergeError> {
        let path = quarantine_path(class, self.clock.now_ms());
        self.store
            .put(&path, PutPayload::from(bytes))
            .await
            .map_err(|source| MergeError::Store { path: path.to_string(), source })?;
        tracing::error!(
            class,
            error = %cause,
            moved_to = %path,
            "The history file of this class is unreadable: moved aside, merging goes on from empty \
             bests. Run `alleycat rebuild` (server stopped) to restore the bests it held."
        );
        Ok(())
    }

    /// Improves a loaded class's best, marked as ridden on a real bike when `real_bike` (the
    /// mark goes with whichever ride sets the best: [`ClassBests::improve_ridden`]).
    pub(crate) fn improve(
        &mut self,
        class: ClassId,
        racer: u64,
        second: u32,
        centi: u32,
        real_bike: bool,
    ) {
        let bests = self.classes.get_mut(&class).expect("class loaded before folding");
        if bests.improve_ridden(racer, second, centi, real_bike) {
            self.dirty.insert(class);
        }
    }

    /// Folds imported bests into a loaded class.
    pub(crate) fn merge(&mut self, class: ClassId, other: &ClassBests) {
        let bests = self.classes.get_mut(&class).expect("class loaded before folding");
        if bests.merge(other) {
            self.dirty.insert(class);
        }
    }

    /// Writes the history file of every changed class (each an atomic replace); returns the
    /// classes written.
    pub(crate) async fn write_changed(&mut self) -> Result<Vec<ClassId>, MergeError> {
        let mut written = Vec::new();
        while let Some(&class) = self.dirty.iter().next() {
            let bests = self.classes[&class].clone();
            // Encoding a big class takes tens of milliseconds of CPU: keep it off the runtime.
            let bytes = tokio::task::spawn_blocking(move || bests.encode())
                .await
                .map_err(|e| MergeError::Io(std::io::Error::other(e)))?;
            let path = history_path(class);
            self.store
                .put(&path, PutPayload::from(bytes))
                .await
                .map_err(|source| MergeError::Store { path: path.to_string(), source })?;
            self.dirty.remove(&class);
            written.push(class);
        }
        Ok(written)
    }

    /// Forgets every loaded class (a rebuild starts from nothing).
    pub(crate) fn reset_empty(&mut self) {
        self.dirty.clear();
        self.classes = alleycat_domain::CLASSES
            .iter()
            .map(|c| (c.id, ClassBests::new(c.id, self.race_seconds)))
            .collect();
    }
}
