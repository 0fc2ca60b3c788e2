//! The roster: every racer's name and avatar seed, generated deterministically from a seed on
//! first start, stored in the results database (its `roster` table, see
//! `alleycat_ingest::merge::db`) and held in memory for lookups.

use alleycat_domain::hash::splitmix64 as mix;

use alleycat_domain::api::RacerInfo;
use alleycat_ingest::db::{Database, DbError};

const FIRST: &[&str] = &[
    "Ada", "Amara", "Ana", "Arlo", "Ayla", "Bea", "Bodhi", "Caleb", "Cass", "Cleo", "Dara", "Dev",
    "Eden", "Elio", "Emi", "Esme", "Ezra", "Farah", "Finn", "Freya", "Gus", "Hana", "Hugo", "Ida",
    "Ines", "Iris", "Jade", "Jonah", "Juno", "Kai", "Kenji", "Kira", "Lars", "Lea", "Leon", "Lina",
    "Luca", "Mae", "Mara", "Mateo", "Mina", "Milo", "Nadia", "Nico", "Noor", "Odin", "Olga",
    "Omar", "Orla", "Otis", "Pia", "Priya", "Quinn", "Rafa", "Remy", "Rhea", "Rosa", "Rumi",
    "Sami", "Sana", "Saoirse", "Soren", "Talia", "Tariq", "Tess", "Theo", "Uma", "Vera", "Viggo",
    "Wren", "Xavi", "Yara", "Yusuf", "Zane", "Zara", "Zoe",
];
const LAST: &[&str] = &[
    "Abara",
    "Alder",
    "Ashby",
    "Bancroft",
    "Basso",
    "Birch",
    "Brightwater",
    "Calloway",
    "Castell",
    "Cho",
    "Coppi",
    "Dahl",
    "Delacroix",
    "Drummond",
    "Ekwueme",
    "Falk",
    "Fairweather",
    "Fenwick",
    "Gallo",
    "Greaves",
    "Halloran",
    "Hartley",
    "Holm",
    "Ibarra",
    "Iwasaki",
    "Jansen",
    "Juarez",
    "Kaur",
    "Kestrel",
    "Kowalski",
    "Lachance",
    "Lindqvist",
    "Lowe",
    "Mbeki",
    "Marlowe",
    "Moreau",
    "Nakamura",
    "Navarro",
    "Nyberg",
    "Okafor",
    "Oyelaran",
    "Pell",
    "Quayle",
    "Quill",
    "Radley",
    "Rasku",
    "Rowan",
    "Sandoval",
    "Sato",
    "Silvermoon",
    "Strand",
    "Tanaka",
    "Thorne",
    "Torres",
    "Underhill",
    "Upton",
    "Valdez",
    "Vance",
    "Voss",
    "Wainwright",
    "Whitlock",
    "Wilde",
    "Xu",
    "Yamada",
    "Yilmaz",
    "Zeller",
    "Zhou",
    "Ziegler",
];

/// The generated name and avatar seed of `racer_id` under `seed`.
pub fn generate(seed: u64, racer_id: u64) -> RacerInfo {
    let h = mix(seed ^ mix(racer_id));
    let first = FIRST[(h % FIRST.len() as u64) as usize];
    let last = LAST[((h >> 16) % LAST.len() as u64) as usize];
    let initial = (b'A' + ((h >> 32) % 26) as u8) as char;
    RacerInfo::new(racer_id, format!("{first} {initial}. {last}"), mix(h))
}

/// Every racer, by id (`racers[id - 1]`).
#[derive(Debug, Clone)]
pub struct Roster {
    racers: Vec<RacerInfo>,
}

impl Roster {
    /// Loads the roster from the database, first generating the racers it lacks (ids 1 to
    /// `size`) from `seed`.
    pub async fn load_or_create(db: &Database, size: u32, seed: u64) -> Result<Self, DbError> {
        if db.roster_len().await? < u64::from(size) {
            let racers: Vec<_> = (1..=u64::from(size)).map(|id| generate(seed, id)).collect();
            db.add_racers(&racers).await?;
            tracing::info!(racers = size, seed, "Created the roster.");
        }
        Ok(Self { racers: db.racers().await? })
    }

    /// A roster held in memory only (tests).
    pub fn generated(size: u32, seed: u64) -> Self {
        Self { racers: (1..=u64::from(size)).map(|id| generate(seed, id)).collect() }
    }

    /// The racer with this id.
    pub fn get(&self, id: u64) -> Option<&RacerInfo> {
        let index = usize::try_from(id).ok()?.checked_sub(1)?;
        self.racers.get(index).filter(|r| r.id == id)
    }

    /// The display name of `id`, or a stand-in for a racer outside the roster.
    pub fn name(&self, id: u64) -> String {
        self.get(id).map_or_else(|| format!("Racer {id}"), |r| r.name.clone())
    }

    /// Racers matching `query` (an id, or part of a name, any case), at most `limit`; an exact
    /// id comes first, then names that start with the query, then names that contain it.
    pub fn search(&self, query: &str, limit: usize) -> Vec<RacerInfo> {
        let query = query.trim().to_lowercase();
        if query.is_empty() {
            return self.racers.iter().take(limit).cloned().collect();
        }
        let mut found: Vec<(u8, &RacerInfo)> = Vec::new();
        if let Some(racer) = query.parse().ok().and_then(|id| self.get(id)) {
            found.push((0, racer));
        }
        for racer in &self.racers {
            let name = racer.name.to_lowercase();
            let rank = if name.starts_with(&query) {
                1
            } else if name.contains(&query) {
                2
            } else {
                continue;
            };
            found.push((rank, racer));
        }
        found.sort_by_key(|(rank, racer)| (*rank, racer.id));
        found.dedup_by_key(|(_, racer)| racer.id);
        found.into_iter().take(limit).map(|(_, racer)| racer.clone()).collect()
    }

    /// How many racers there are.
    pub fn len(&self) -> usize {
        self.racers.len()
    }

    /// Whether the roster is empty.
    pub fn is_empty(&self) -> bool {
        self.racers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_deterministic_and_varied() {
        assert_eq!(generate(1, 42), generate(1, 42));
        assert_ne!(generate(1, 42).name, generate(2, 42).name);
        let roster = Roster::generated(40_000, 2026);
        let mut names: Vec<_> = (1..=40_000).map(|id| roster.name(id)).collect();
        names.sort();
        names.dedup();
        assert!(names.len() > 30_000, "only {} distinct names", names.len());
    }

    #[test]
    fn search_finds_by_id_and_by_any_part_of_the_name() {
        let roster = Roster::generated(1000, 7);
        assert_eq!(roster.search("17", 5)[0].id, 17);
        let name = roster.name(321);
        let last = name.rsplit(' ').next().unwrap().to_uppercase();
        assert!(roster.search(&last, 1000).iter().any(|r| r.id == 321));
        assert!(roster.search("zzzz-nobody", 5).is_empty());
        assert!(roster.get(0).is_none() && roster.get(1001).is_none());
    }

    async fn stored_once_and_read_back(db: &Database) {
        let first = Roster::load_or_create(db, 50, 9).await.unwrap();
        let again = Roster::load_or_create(db, 50, 9).await.unwrap();
        assert_eq!(first.len(), 50);
        assert_eq!(first.racers, again.racers);
        assert_eq!(first.get(50), Some(&generate(9, 50)));
        // A larger roster adds the missing racers and keeps the others as they were.
        let grown = Roster::load_or_create(db, 1200, 10).await.unwrap();
        assert_eq!(grown.len(), 1200);
        assert_eq!(grown.get(50), Some(&generate(9, 50)));
        assert_eq!(grown.get(1200), Some(&generate(10, 1200)));
    }

    #[tokio::test]
    async fn the_roster_is_stored_once_and_read_back_in_sqlite() {
        stored_once_and_read_back(&Database::in_memory().await.unwrap()).await;
    }

    #[tokio::test]
    async fn the_roster_is_stored_once_and_read_back_in_postgres() {
        let server = alleycat_testkit::postgres::Postgres::start().unwrap();
        let url = server.create_database("roster").unwrap().parse().unwrap();
        stored_once_and_read_back(&Database::connect_postgres(&url).await.unwrap()).await;
    }
}
