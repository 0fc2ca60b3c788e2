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
    /// Seconds after a race's end in which a racer's events for it are still taken (the
    /// server's `--late-seconds`): how long an app keeps resending what it rode. Older servers
    /// do not say: 0.
    #[serde(default)]
    pub late_seconds: u32,
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
            late_seconds: 0,
        }
    }

    /// The same, saying that late events are taken for `late_seconds` after a race's end.
    pub fn with_late_seconds(mut self, late_seconds: u32) -> Self {
        self.late_seconds = late_seconds;
        self
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

/// `POST /api/session` body: the racer to ride as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionRequest {
    /// The racer's id, 1 to the roster size.
    pub racer_id: u64,
}

/// `POST /api/racers` body: create your own racer. The answer is a [`SessionResponse`] (201),
/// and the response sets this device's credential cookie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateRacerRequest {
    /// The display name ([`crate::racer::validate_name`]).
    pub name: String,
    /// The single-use invitation code, when the server takes new racers by invitation only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite: Option<String>,
}

/// `POST /api/invites` body (with the API key): how many single-use invitations to make
/// (1 when the body is empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InviteRequest {
    /// How many, 1 to 1,000.
    #[serde(default)]
    pub count: Option<u32>,
}

/// `POST /api/invites` answer: the invitation links (`<public-url>/?invite=<code>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InviteResponse {
    /// One link per invitation; each creates one racer.
    pub links: Vec<String>,
}

/// The start of a WebAuthn ceremony (`POST /api/passkeys/register/start`,
/// `POST /api/passkeys/login/start`): the options for `navigator.credentials.create` / `.get`
/// in their JSON form (binary fields base64url), and the id of the challenge to finish with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CeremonyStart {
    /// Names the single-use challenge (expires after 5 minutes).
    pub challenge_id: String,
    /// `{"publicKey": {...}}` as the WebAuthn JSON form has it.
    pub options: serde_json::Value,
}

/// The end of a WebAuthn ceremony (`POST /api/passkeys/register/finish`,
/// `POST /api/passkeys/login/finish`): the browser's credential, as `PublicKeyCredential.toJSON()`
/// gives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CeremonyFinish {
    /// The challenge id from [`CeremonyStart`].
    pub challenge_id: String,
    /// The credential.
    pub credential: serde_json::Value,
}

/// One of a racer's passkeys or devices (`GET /api/passkeys`, `GET /api/devices`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credential {
    /// The id to remove it with (`DELETE /api/passkeys/{id}`, `DELETE /api/devices/{id}`).
    pub id: String,
    /// What it is, for people: "Passkey added 7 Dec 2026", the browser's user agent, ….
    pub label: String,
    /// When it was made, epoch ms.
    pub created_at_ms: u64,
    /// When it last proved who the racer is, epoch ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_ms: Option<u64>,
    /// It is the device (or passkey) this request came from.
    #[serde(default)]
    pub current: bool,
}

/// `GET /api/passkeys` and `GET /api/devices`: the racer's credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialList {
    /// Newest first.
    pub credentials: Vec<Credential>,
}

/// `POST /api/session` answer: a racer token, sent back as `Authorization: Bearer <token>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionResponse {
    /// The signed token, bound to this racer.
    pub token: String,
    /// The racer it is bound to.
    pub racer: RacerInfo,
    /// When the token stops being accepted, epoch ms.
    pub expires_at_ms: u64,
}

/// `GET /api/racers/{id}` and the roster search: who a racer is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RacerInfo {
    /// The racer's id.
    pub id: u64,
    /// Their display name.
    pub name: String,
    /// Seed of their generated avatar.
    pub avatar_seed: u64,
    /// One of the generated, simulated field rather than a person
    /// ([`crate::racer::is_simulated`] of the id; set by [`RacerInfo::new`]).
    pub simulated: bool,
}

impl RacerInfo {
    /// The racer `id` named `name`; whether it is simulated follows from the id alone.
    pub fn new(id: u64, name: impl Into<String>, avatar_seed: u64) -> Self {
        Self { id, name: name.into(), avatar_seed, simulated: crate::racer::is_simulated(id) }
    }
}

/// `GET /api/racers?q=…`: racers whose name or id matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RacerSearchResponse {
    /// The matches, best first.
    pub racers: Vec<RacerInfo>,
}

/// `POST /api/events` body: up to 500 racer events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventsRequest {
    /// The events, in the order they happened.
    pub events: Vec<crate::RacerEvent>,
}

/// The fate of one event of `POST /api/events`, like a Kinesis PutRecords result entry:
/// either `shardId` and `sequenceNumber`, or `errorCode` and `errorMessage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct EventResult {
    /// The event's own uuid, when it parsed far enough to have one (so a client can match
    /// acknowledgements to what it keeps in its outbox).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<uuid::Uuid>,
    /// The shard that stored it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_id: Option<String>,
    /// `true` when this very event (same uuid) was stored before: a resend whose first
    /// acknowledgement was lost. A success, without a shard and sequence number.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub already_stored: bool,
    /// Its sequence number there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<String>,
    /// Why it was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The refusal, as a sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

/// Per-event error codes worth sending the same event again for: the stream's throttling and
/// internal failures, the per-racer rate limit, and a resend that met its first send still in
/// flight. Every other code is final (the event is invalid, or its second is taken).
pub const RETRYABLE_CODES: &[&str] =
    &["ProvisionedThroughputExceededException", "InternalFailure", "RateLimited", "EventInFlight"];

impl EventResult {
    /// Whether the event is stored: now, or before (`alreadyStored`, a resend).
    pub fn is_stored(&self) -> bool {
        self.error_code.is_none()
    }

    /// Whether sending the same event again may succeed ([`RETRYABLE_CODES`]).
    pub fn is_retryable(&self) -> bool {
        self.error_code.as_deref().is_some_and(|code| RETRYABLE_CODES.contains(&code))
    }
}

/// `POST /api/events` answer: one result per event, in request order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventsResponse {
    /// How many events were refused.
    pub failed_record_count: usize,
    /// Each event's fate, in request order.
    pub records: Vec<EventResult>,
}

/// One racer in the here-now ranking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveEntry {
    /// 1-based place by race total so far.
    pub rank: u32,
    /// The racer.
    pub racer_id: u64,
    /// Their display name.
    pub name: String,
    /// Output of their latest second.
    pub output: f64,
    /// Their race total so far.
    pub total: f64,
    /// The latest second they sent.
    pub second: u32,
    /// They ride a real bike: some second of theirs was measured by a trainer or a power meter
    /// (boards mark it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub real_bike: bool,
}

/// A message the server sends on the live WebSocket (`GET /api/live?classId=N`), tagged by
/// `type`. The racer's side of the socket is [`LiveRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum LiveMessage {
    /// The here-now ranking, at once on connect and then once a second.
    Ranking(LiveRanking),
    /// The answer to a `hello`: this socket now speaks for this racer (`None`: the API key,
    /// a producer that may send for any racer).
    #[serde(rename_all = "camelCase")]
    Welcome {
        /// The racer the token is for.
        racer_id: Option<u64>,
    },
    /// The answer to an `events` message: each event's fate, in the order sent, as
    /// `POST /api/events` answers (an acknowledgement means fsynced).
    Acks {
        /// One result per event.
        records: Vec<EventResult>,
    },
    /// A message that could not be taken, and why (the socket stays open unless a close
    /// follows).
    Error {
        /// A code, as the HTTP API's error codes (`unauthenticated`, `bad_request`, …).
        code: String,
        /// What was wrong, as a sentence.
        message: String,
    },
}

/// A message a client sends on the live WebSocket, tagged by `type`. The server parses it by
/// hand (events stay raw JSON, stored as sent); this type is for clients that write it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum LiveRequest {
    /// Proves who is riding: a racer token (from `POST /api/session`) or the API key. Sent
    /// first; nothing else is accepted before it. Keeps the secret out of the URL.
    Hello {
        /// The token or key.
        token: String,
    },
    /// Racer events to store, at most 500 (answered by [`LiveMessage::Acks`]).
    Events {
        /// The events, oldest first.
        events: Vec<crate::RacerEvent>,
    },
}

/// The here-now ranking of a class's current race (in [`LiveMessage::Ranking`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveRanking {
    /// The race.
    pub race_id: RaceId,
    /// The class.
    pub class_id: ClassId,
    /// The race's current second by the server's clock.
    pub second: u32,
    /// How many racers have sent at least one event in this race.
    pub racer_count: u32,
    /// The top of the ranking (as many as asked with `limit`), best first.
    pub entries: Vec<LiveEntry>,
    /// The asking racer's own entry (from their token), wherever they are placed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub me: Option<LiveEntry>,
}

/// One race of a class in `GET /api/races?classId=N`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RaceSummary {
    /// The race.
    pub race_id: RaceId,
    /// The class.
    pub class_id: ClassId,
    /// When it started, epoch ms.
    pub started_at_ms: u64,
    /// How many racers rode it.
    pub racers: u32,
}

/// `GET /api/races?classId=N`: recent races, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RacesResponse {
    /// The races.
    pub races: Vec<RaceSummary>,
}

/// One racer's result in `GET /api/races/{raceId}?classId=N`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RaceResultRow {
    /// 1-based place by total output.
    pub place: u32,
    /// The racer.
    pub racer_id: u64,
    /// Their display name.
    pub name: String,
    /// Seconds ridden.
    pub seconds: u32,
    /// Total output.
    pub total: f64,
    /// Best output of one second.
    pub best: f64,
    /// Output of the last second ridden.
    pub final_output: f64,
    /// They rode a real bike: some second was measured by a trainer or a power meter (boards
    /// mark it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub real_bike: bool,
}

/// `GET /api/races/{raceId}?classId=N`: a race's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RaceResultsResponse {
    /// The race.
    pub race_id: RaceId,
    /// The class.
    pub class_id: ClassId,
    /// Racers ranked by total output.
    pub results: Vec<RaceResultRow>,
}

/// One racer's all-time record in `GET /api/leaderboard?classId=N`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaderboardRow {
    /// 1-based place by best race total.
    pub place: u32,
    /// The racer.
    pub racer_id: u64,
    /// Their display name.
    pub name: String,
    /// The race of their record.
    pub race_id: RaceId,
    /// Their best race total.
    pub total: f64,
}

/// `GET /api/leaderboard?classId=N`: the all-time class leaderboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaderboardResponse {
    /// The class.
    pub class_id: ClassId,
    /// Racers ranked by their best race total.
    pub entries: Vec<LeaderboardRow>,
}

/// One of a racer's past races in `GET /api/racers/{id}/races`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RacerRace {
    /// The race.
    pub race_id: RaceId,
    /// The class it was ridden in.
    pub class_id: ClassId,
    /// When it started, epoch ms.
    pub started_at_ms: u64,
    /// 1-based place by total output.
    pub place: u32,
    /// How many racers rode it (in this class).
    pub field: u32,
    /// Seconds ridden.
    pub seconds: u32,
    /// Total output.
    pub total: f64,
    /// Some second was measured by a trainer or a power meter.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub real_bike: bool,
    /// The output of every second of the race (index 0 is second 1); `null` where nothing was
    /// ridden.
    pub outputs: Vec<Option<f64>>,
}

/// `GET /api/racers/{id}/races[?limit=N&before=RACE]`: a racer's races, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RacerRacesResponse {
    /// The racer.
    pub racer_id: u64,
    /// Their rides in the most recent races asked for (a race ridden in two classes twice).
    pub races: Vec<RacerRace>,
    /// Pass as `before` for the races before these; absent when there are none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before: Option<RaceId>,
}

/// A racer's personal best in one class, in `GET /api/racers/{id}/bests`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersonalBest {
    /// The class.
    pub class_id: ClassId,
    /// Their best race total in the class.
    pub total: f64,
    /// The race of that total.
    pub race_id: RaceId,
    /// Their place on the class's all-time leaderboard.
    pub place: u32,
    /// How many racers are on it.
    pub field: u32,
    /// Their best output at each second over all their races in the class (index 0 is second
    /// 1); `null` where they have none.
    pub seconds: Vec<Option<f64>>,
}

/// `GET /api/racers/{id}/bests`: a racer's personal best in each class they have ridden.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersonalBestsResponse {
    /// The racer.
    pub racer_id: u64,
    /// One per class ridden, in class order.
    pub bests: Vec<PersonalBest>,
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
        let late = config.clone().with_late_seconds(60);
        assert!(serde_json::to_string(&late).unwrap().contains("\"lateSeconds\":60"));
        let without: ConfigResponse =
            serde_json::from_str(&json.replace(",\"lateSeconds\":0", "")).unwrap();
        assert_eq!(without.late_seconds, 0, "an older server's config still reads");
    }

    #[test]
    fn event_results_carry_either_a_place_or_an_error_like_kinesis() {
        let ok = EventResult {
            shard_id: Some("shardId-000000000001".into()),
            sequence_number: Some("7".into()),
            ..EventResult::default()
        };
        let failed = EventResult {
            error_code: Some("DuplicateEvent".into()),
            error_message: Some("already stored".into()),
            ..EventResult::default()
        };
        assert_eq!(
            serde_json::to_string(&ok).unwrap(),
            r#"{"shardId":"shardId-000000000001","sequenceNumber":"7"}"#
        );
        assert_eq!(
            serde_json::to_string(&failed).unwrap(),
            r#"{"errorCode":"DuplicateEvent","errorMessage":"already stored"}"#
        );
        let resent = EventResult { already_stored: true, ..EventResult::default() };
        let in_flight = EventResult { error_code: Some("EventInFlight".into()), ..failed.clone() };
        assert!(ok.is_stored() && resent.is_stored() && !failed.is_stored());
        assert!(in_flight.is_retryable() && !failed.is_retryable() && !ok.is_retryable());
    }
}
