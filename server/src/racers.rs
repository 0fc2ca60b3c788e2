//! Every racer, one lookup: the generated roster ([`Roster`], in memory) and people's racers (in
//! the database, so a racer created on one server is known on every server sharing it).
//!
//! People's names are cached once read (a name never changes); the here-now board, which names
//! racers synchronously at every tick, asks [`Racers::learn`] first for the people it has not
//! met, so a person created on another server shows by name. An id that is no person's is asked
//! again at most every [`RECHECK_UNKNOWN_MS`].

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, RwLock},
};

use alleycat_domain::{api::RacerInfo, racer::is_simulated, Clock};
use alleycat_ingest::db::{people::search_form, Database, DbError};

use crate::roster::Roster;

/// How long an id found to be no person's is taken as such before the database is asked again.
pub const RECHECK_UNKNOWN_MS: u64 = 10_000;

/// The roster and people's racers.
pub struct Racers {
    roster: Arc<Roster>,
    db: Database,
    time: Arc<dyn Clock>,
    people: RwLock<HashMap<u64, RacerInfo>>,
    /// Ids asked for that were no person's, and when.
    unknown: RwLock<HashMap<u64, u64>>,
}

impl std::fmt::Debug for Racers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Racers").field("roster", &self.roster.len()).finish_non_exhaustive()
    }
}

impl Racers {
    /// The roster's racers and the people in `db`.
    pub fn new(roster: Arc<Roster>, db: Database, time: Arc<dyn Clock>) -> Self {
        Self { roster, db, time, people: RwLock::default(), unknown: RwLock::default() }
    }

    /// The generated roster.
    pub fn roster(&self) -> &Roster {
        &self.roster
    }

    /// The display name of `id` as far as known without asking the database: the roster's, a
    /// person's already met, or a stand-in.
    pub fn name(&self, id: u64) -> String {
        if is_simulated(id) {
            return self.roster.name(id);
        }
        let people = self.people.read().unwrap_or_else(|p| p.into_inner());
        people.get(&id).map_or_else(|| format!("Racer {id}"), |r| r.name.clone())
    }

    /// Keeps `person` (just created here) without asking the database.
    pub fn remember(&self, person: RacerInfo) {
        self.people.write().unwrap_or_else(|p| p.into_inner()).insert(person.id, person);
    }

    /// Reads the people among `ids` not met yet from the database, so that [`Racers::name`]
    /// knows them.
    pub async fn learn(&self, ids: impl IntoIterator<Item = u64>) -> Result<(), DbError> {
        let now = self.time.now_ms();
        let mut wanted: Vec<u64> = {
            let people = self.people.read().unwrap_or_else(|p| p.into_inner());
            let unknown = self.unknown.read().unwrap_or_else(|p| p.into_inner());
            ids.into_iter()
                .filter(|id| !is_simulated(*id) && !people.contains_key(id))
                .filter(|id| unknown.get(id).is_none_or(|&at| now >= at + RECHECK_UNKNOWN_MS))
                .collect()
        };
        if wanted.is_empty() {
            return Ok(());
        }
        wanted.sort_unstable();
        wanted.dedup();
        let found = self.db.people(&wanted).await?;
        let mut unknown = self.unknown.write().unwrap_or_else(|p| p.into_inner());
        for id in &wanted {
            unknown.insert(*id, now);
        }
        for person in &found {
            unknown.remove(&person.id);
        }
        unknown.retain(|_, at| now < *at + RECHECK_UNKNOWN_MS);
        drop(unknown);
        let mut people = self.people.write().unwrap_or_else(|p| p.into_inner());
        people.extend(found.into_iter().map(|person| (person.id, person)));
        Ok(())
    }

    /// The racer `id`: from the roster, or a person from the database.
    pub async fn get(&self, id: u64) -> Result<Option<RacerInfo>, DbError> {
        if is_simulated(id) {
            return Ok(self.roster.get(id).cloned());
        }
        if let Some(person) = self.people.read().unwrap_or_else(|p| p.into_inner()).get(&id) {
            return Ok(Some(person.clone()));
        }
        let person = self.db.person(id).await?;
        if let Some(person) = &person {
            self.remember(person.clone());
        }
        Ok(person)
    }

    /// Racers matching `query` (an id, or part of a name, any case), people and roster alike, at
    /// most `limit`: an exact id first, then names that start with the query, then names that
    /// contain it; people before simulated racers, then by id.
    pub async fn search(&self, query: &str, limit: usize) -> Result<Vec<RacerInfo>, DbError> {
        let wanted = search_form(query);
        let mut found: Vec<(u8, RacerInfo)> = Vec::new();
        if let Some(racer) = match wanted.parse::<u64>() {
            Ok(id) if !is_simulated(id) => self.get(id).await?,
            _ => None,
        } {
            found.push((0, racer));
        }
        let people = self.db.search_people(&wanted, limit).await?;
        let roster = self.roster.search(query, limit);
        for racer in people.into_iter().chain(roster) {
            let name = search_form(&racer.name);
            let rank = match () {
                _ if wanted.parse() == Ok(racer.id) => 0,
                _ if name.starts_with(&wanted) => 1,
                _ => 2,
            };
            found.push((rank, racer));
        }
        found.sort_by_key(|(rank, racer)| (*rank, racer.simulated, racer.id));
        let mut seen = HashSet::new();
        found.retain(|(_, racer)| seen.insert(racer.id));
        Ok(found.into_iter().take(limit).map(|(_, racer)| racer).collect())
    }
}
