//! Shapes of the HTTP API's JSON, shared by the server (which writes them) and the app (which
//! reads them), so that both sides cannot drift apart.

use serde::{Deserialize, Serialize};

use crate::{Class, ClassId, RaceClock, RaceId};

/// A class as the API describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassInfo {
    /// The class id, 1 to 6.
    pub id: ClassId,
    /// Its display name.
    pub name: String,
    /// One sentence about it.
    pub tagline: String,
}

impl From<&Class> for ClassInfo {
    fn from(class: &Class) -> Self {
        Self { id: class.id, name: class.name.to_owned(), tagline: class.tagline.to_owned() }
    }
}

/// `GET /api/config`: the classes and the race clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigResponse {
    /// The six classes, in id order.
    pub classes: Vec<ClassInfo>,
    /// How long each race lasts.
    pub race_seconds: u32,
    /// The server's clock when it answered, epoch ms, so a client can correct its own clock.
    pub server_time_ms: u64,
    /// The race running now.
    pub current_race_id: RaceId,
    /// When the next race starts, epoch ms.
    pub next_race_start_ms: u64,
}

impl ConfigResponse {
    /// The configuration for `clock` as seen at `now_ms`.
    pub fn new(clock: RaceClock, now_ms: u64) -> Self {
        let current_race_id = clock.race_at(now_ms);
        Self {
            classes: crate::CLASSES.iter().map(ClassInfo::from).collect(),
            race_seconds: clock.race_seconds,
            server_time_ms: now_ms,
            current_race_id,
            next_race_start_ms: clock.end_ms(current_race_id),
        }
    }

    /// The race clock the server runs.
    pub fn clock(&self) -> RaceClock {
        RaceClock::new(self.race_seconds)
    }
}

/// The body of every API error: a stable code to branch on and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiError {
    /// A stable machine-readable code, e.g. `not_found`.
    pub error: String,
    /// A human sentence saying what went wrong.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_describes_every_class_and_the_running_race() {
        let clock = RaceClock::new(300);
        let config = ConfigResponse::new(clock, 1_000_123);
        assert_eq!(config.classes.len(), 6);
        assert_eq!(config.current_race_id, 3);
        assert_eq!(config.next_race_start_ms, 1_200_000);
        let json = serde_json::to_string(&config).unwrap();
        assert!(json.contains("\"raceSeconds\":300") && json.contains("\"nextRaceStartMs\""));
        assert_eq!(serde_json::from_str::<ConfigResponse>(&json).unwrap(), config);
    }
}
