//! `--check-seconds`: after riding, read back what the server made of every acknowledged event,
//! the way users read it (the race results and the class history files over HTTP), and count what
//! is missing or counted twice. The fault matrix (`scripts/faults.sh`) uses it to prove that a
//! fault lost nothing acknowledged.
//!
//! - **Results** (`GET /api/races/{race}?classId=N`): each ride's seconds and total are exactly
//!   the acknowledged ones. Fewer seconds are acknowledged events lost; more are events counted
//!   twice, or stored although their acknowledgement never came (only possible when events
//!   failed for good).
//! - **History** (`GET /api/history/class-N.gz`): the racer's best at each acknowledged second
//!   is at least that second's output (a best is a maximum, so "exactly once" has no meaning
//!   there; "at least" is what a lost event would break).
//!
//! The server merges asynchronously, so the check waits, up to its limit, until nothing is
//! missing, then reports what it found last.

use std::{
    collections::{hash_map::Entry, BTreeMap, HashMap},
    time::{Duration, Instant},
};

use alleycat_domain::{
    api::RaceResultsResponse, history::History, output::to_centi, ClassId, RaceId,
};
use serde::{Deserialize, Serialize};

use crate::Report;

/// How often the check reads the server again while something is missing.
const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// How many differences of each kind the last reading logs (as warnings), to start from.
const EXAMPLES: u64 = 10;

/// What the server stored of the acknowledged events (`--json` writes it in camelCase).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    /// Acknowledged events checked.
    pub acknowledged: u64,
    /// Acknowledged seconds missing from the race results (must be 0).
    pub missing_from_results: u64,
    /// Seconds in the results beyond those acknowledged: counted twice, or stored without an
    /// acknowledgement (must be 0 when no event failed for good).
    pub extra_in_results: u64,
    /// Rides whose result total is not the sum of the acknowledged outputs.
    pub wrong_totals: u64,
    /// Acknowledged events whose output is above the class history's best at their second
    /// (must be 0).
    pub missing_from_history: u64,
    /// Seconds the check waited for the merge.
    pub waited_seconds: f64,
}

impl Check {
    /// Whether every acknowledged event is stored once; with `failed` events (stored or not,
    /// unknowable), extra seconds and totals that differ are allowed.
    pub fn is_ok(&self, failed: u64) -> bool {
        self.missing_from_results == 0
            && self.missing_from_history == 0
            && (failed > 0 || (self.extra_in_results == 0 && self.wrong_totals == 0))
    }
}

/// Checks `report`'s acknowledged events (it must have been ridden with `keep_details`) against
/// what `server` stored, waiting up to `limit` for the merge.
pub async fn stored(
    client: &reqwest::Client,
    server: &str,
    report: &Report,
    limit: Duration,
) -> Check {
    let started = Instant::now();
    loop {
        let mut check = once(client, server, report, false).await;
        check.waited_seconds = started.elapsed().as_secs_f64();
        let missing = check.missing_from_results + check.missing_from_history;
        if missing == 0 || started.elapsed() >= limit {
            if missing > 0 || !check.is_ok(0) {
                // Once more, saying which: where to start looking.
                once(client, server, report, true).await;
            }
            return check;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// One reading of the results and the history files.
async fn once(client: &reqwest::Client, server: &str, report: &Report, log: bool) -> Check {
    let field = report.field;
    let class_of = |racer: u64| field.class_of((racer - field.first_racer) as u32);
    let mut check = Check::default();

    // The results, race by race and class by class.
    let mut rides: BTreeMap<(RaceId, ClassId), Vec<u64>> = BTreeMap::new();
    for &(race, racer) in report.totals.keys() {
        rides.entry((race, class_of(racer))).or_default().push(racer);
    }
    for ((race, class), racers) in rides {
        let stored = results(client, server, race, class).await;
        for racer in racers {
            let acknowledged = report.totals[&(race, racer)];
            let (seconds, total_centi) = stored.get(&racer).copied().unwrap_or_default();
            if log && seconds != acknowledged.seconds && check.missing_from_results < EXAMPLES {
                tracing::warn!(
                    race,
                    racer,
                    class,
                    acknowledged = acknowledged.seconds,
                    stored = seconds,
                    "A ride's results do not have its acknowledged seconds."
                );
            }
            check.missing_from_results += u64::from(acknowledged.seconds.saturating_sub(seconds));
            check.extra_in_results += u64::from(seconds.saturating_sub(acknowledged.seconds));
            if seconds == acknowledged.seconds && total_centi != acknowledged.total_centi {
                check.wrong_totals += 1;
            }
        }
    }

    // The history files: every acknowledged output at most the best of its second.
    let Some(acknowledged) = report.acknowledged.as_ref() else { return check };
    check.acknowledged = acknowledged.len() as u64;
    let mut histories: HashMap<ClassId, Option<History>> = HashMap::new();
    for key in acknowledged {
        let class = class_of(key.racer_id);
        if let Entry::Vacant(slot) = histories.entry(class) {
            slot.insert(history(client, server, class).await);
        }
        let index = (key.racer_id - field.first_racer) as u32;
        let output = field.reading(index, key.race_id, report.race_seconds, key.second).output();
        let best = histories[&class].as_ref().and_then(|h| h.best(key.racer_id, key.second));
        if best.is_none_or(|best| best < to_centi(output)) {
            if log && check.missing_from_history < EXAMPLES {
                tracing::warn!(
                    race = key.race_id,
                    racer = key.racer_id,
                    second = key.second,
                    output = to_centi(output),
                    best,
                    "An acknowledged output is above the history's best."
                );
            }
            check.missing_from_history += 1;
        }
    }
    check
}

/// Each racer's (seconds, total in hundredths) in `race` and `class`; empty when the server
/// has none (yet) or cannot answer.
async fn results(
    client: &reqwest::Client,
    server: &str,
    race: RaceId,
    class: ClassId,
) -> HashMap<u64, (u32, u64)> {
    let url = format!("{server}/api/races/{race}?classId={class}");
    let Ok(response) = client.get(url).send().await else { return HashMap::new() };
    if !response.status().is_success() {
        return HashMap::new();
    }
    let Ok(body) = response.json::<RaceResultsResponse>().await else { return HashMap::new() };
    body.results
        .into_iter()
        .map(|row| (row.racer_id, (row.seconds, (row.total * 100.0).round() as u64)))
        .collect()
}

/// `class`'s history file, decoded; `None` when there is none (yet) or it cannot be read.
async fn history(client: &reqwest::Client, server: &str, class: ClassId) -> Option<History> {
    let url = format!("{server}/api/history/class-{class}.gz");
    let response = client.get(url).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    alleycat_domain::history::decode(&response.bytes().await.ok()?).ok()
}
