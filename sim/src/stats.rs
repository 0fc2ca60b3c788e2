//! What a run counts while it goes, and the summary it ends with.
//!
//! Every event ends in exactly one of: acknowledged (the server stored it and said so, or said on
//! a retry that it already had it), rejected as intended (a deliberately invalid event), failed
//! (with the error code it last failed with) or abandoned (the run was stopped before it was
//! answered). Acknowledgement latency is measured per event from its first send to its
//! acknowledgement, so retries count against it.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    fmt,
    sync::{
        atomic::{AtomicU64, Ordering::Relaxed},
        Mutex,
    },
    time::{Duration, Instant},
};

use alleycat_domain::{output::to_centi, RaceId};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::check::Check;

/// Highest latency tracked, microseconds (anything slower is clamped to it).
const MAX_LATENCY_US: u64 = 600_000_000;

/// One acknowledged event, as far as the tests and totals need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventKey {
    /// The race.
    pub race_id: RaceId,
    /// The racer.
    pub racer_id: u64,
    /// The second.
    pub second: u32,
}

/// A racer's acknowledged seconds of one race.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RideTotal {
    /// Seconds acknowledged.
    pub seconds: u32,
    /// The sum of their outputs, hundredths (as the server's results compute it).
    pub total_centi: u64,
}

/// The counters of a run, shared by every sending task.
#[derive(Debug)]
pub struct Stats {
    started: Instant,
    sent: AtomicU64,
    acknowledged: AtomicU64,
    already_stored: AtomicU64,
    rejected_as_intended: AtomicU64,
    failed: AtomicU64,
    abandoned: AtomicU64,
    requests: AtomicU64,
    retries: AtomicU64,
    failures: Mutex<BTreeMap<String, u64>>,
    latency_us: Mutex<Histogram<u64>>,
    totals: Option<Mutex<HashMap<(RaceId, u64), RideTotal>>>,
    acknowledged_keys: Option<Mutex<HashSet<EventKey>>>,
}

impl Stats {
    /// Fresh counters; `keep_details` keeps every acknowledged event's key and each ride's total
    /// for the report (memory grows with the run, so long runs leave it off).
    pub fn new(keep_details: bool) -> Self {
        Self {
            started: Instant::now(),
            sent: AtomicU64::new(0),
            acknowledged: AtomicU64::new(0),
            already_stored: AtomicU64::new(0),
            rejected_as_intended: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            abandoned: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            failures: Mutex::default(),
            latency_us: Mutex::new(
                Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds"),
            ),
            totals: keep_details.then(Mutex::default),
            acknowledged_keys: keep_details.then(Mutex::default),
        }
    }

    /// `n` new events are about to be sent for the first time.
    pub fn sent(&self, n: u64) {
        self.sent.fetch_add(n, Relaxed);
    }

    /// A request went out; `retry` when it resends events.
    pub fn request(&self, retry: bool) {
        self.requests.fetch_add(1, Relaxed);
        if retry {
            self.retries.fetch_add(1, Relaxed);
        }
    }

    /// Events acknowledged together, `latency` after their first send; `already_stored` when the
    /// server said, on a retry, that it had them from an attempt whose answer was lost.
    pub fn acknowledged(
        &self,
        events: impl IntoIterator<Item = (EventKey, f64)>,
        latency: Duration,
        already_stored: bool,
    ) {
        let mut n = 0u64;
        let mut totals = self.totals.as_ref().map(lock);
        let mut keys = self.acknowledged_keys.as_ref().map(lock);
        for (key, output) in events {
            n += 1;
            if let Some(totals) = totals.as_mut() {
                let total = totals.entry((key.race_id, key.racer_id)).or_default();
                total.seconds += 1;
                total.total_centi += u64::from(to_centi(output));
            }
            if let Some(keys) = keys.as_mut() {
                keys.insert(key);
            }
        }
        drop((totals, keys));
        if n == 0 {
            return;
        }
        self.acknowledged.fetch_add(n, Relaxed);
        if already_stored {
            self.already_stored.fetch_add(n, Relaxed);
        }
        let us = (latency.as_micros() as u64).clamp(1, MAX_LATENCY_US);
        lock(&self.latency_us).saturating_record_n(us, n);
    }

    /// `n` deliberately invalid events were refused, as they should be.
    pub fn rejected_as_intended(&self, n: u64) {
        self.rejected_as_intended.fetch_add(n, Relaxed);
    }

    /// `n` events failed for good with `code`.
    pub fn failed(&self, code: &str, n: u64) {
        if n == 0 {
            return;
        }
        self.failed.fetch_add(n, Relaxed);
        *lock(&self.failures).entry(code.to_owned()).or_default() += n;
    }

    /// `n` events were still unanswered when the run was stopped.
    pub fn abandoned(&self, n: u64) {
        self.abandoned.fetch_add(n, Relaxed);
    }

    /// The counts so far, for the progress bar.
    pub fn snapshot(&self) -> Counts {
        Counts {
            sent: self.sent.load(Relaxed),
            acknowledged: self.acknowledged.load(Relaxed),
            failed: self.failed.load(Relaxed) + self.rejected_as_intended.load(Relaxed),
        }
    }

    /// The summary of the run so far.
    pub fn summary(&self, races: Vec<RaceId>) -> Summary {
        let elapsed = self.started.elapsed().as_secs_f64();
        let acknowledged = self.acknowledged.load(Relaxed);
        let h = lock(&self.latency_us);
        let ms = |us: u64| us as f64 / 1000.0;
        let latency = if h.is_empty() {
            Latency::default()
        } else {
            Latency {
                p50: ms(h.value_at_quantile(0.50)),
                p95: ms(h.value_at_quantile(0.95)),
                p99: ms(h.value_at_quantile(0.99)),
                max: ms(h.max()),
            }
        };
        Summary {
            races,
            sent: self.sent.load(Relaxed),
            acknowledged,
            already_stored: self.already_stored.load(Relaxed),
            rejected_as_intended: self.rejected_as_intended.load(Relaxed),
            failed: self.failed.load(Relaxed),
            failed_by_code: lock(&self.failures).clone(),
            abandoned: self.abandoned.load(Relaxed),
            requests: self.requests.load(Relaxed),
            retried_requests: self.retries.load(Relaxed),
            elapsed_seconds: elapsed,
            events_per_second: if elapsed > 0.0 { acknowledged as f64 / elapsed } else { 0.0 },
            ack_latency_ms: latency,
            check: None,
        }
    }

    /// Each racer's acknowledged seconds and total, by (race, racer), when kept.
    pub fn totals(&self) -> HashMap<(RaceId, u64), RideTotal> {
        self.totals.as_ref().map(|t| lock(t).clone()).unwrap_or_default()
    }

    /// Every acknowledged event, when kept.
    pub fn acknowledged_keys(&self) -> Option<HashSet<EventKey>> {
        self.acknowledged_keys.as_ref().map(|k| lock(k).clone())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// The counts the progress bar shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Events sent at least once.
    pub sent: u64,
    /// Events acknowledged.
    pub acknowledged: u64,
    /// Events refused or failed (deliberate rejections included).
    pub failed: u64,
}

/// Acknowledgement latency percentiles, milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// The slowest.
    pub max: f64,
}

/// The end-of-run summary (`--json` writes it in camelCase).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// The races ridden (backfill first).
    pub races: Vec<RaceId>,
    /// Distinct events sent (each counted once, however often retried).
    pub sent: u64,
    /// Events the server acknowledged.
    pub acknowledged: u64,
    /// Of those, events a retry found already stored (their first answer was lost).
    pub already_stored: u64,
    /// Deliberately invalid events, refused as they should be.
    pub rejected_as_intended: u64,
    /// Events that failed for good (not counting deliberate rejections).
    pub failed: u64,
    /// Failed events by their last error code.
    pub failed_by_code: BTreeMap<String, u64>,
    /// Events still unanswered when the run was stopped.
    pub abandoned: u64,
    /// Requests made, retries included.
    pub requests: u64,
    /// Requests that resent events.
    pub retried_requests: u64,
    /// Wall time of the run, seconds.
    pub elapsed_seconds: f64,
    /// Acknowledged events per second of the run.
    pub events_per_second: f64,
    /// Acknowledgement latency.
    pub ack_latency_ms: Latency,
    /// What the server stored of the acknowledged events, with `--check-seconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<Check>,
}

impl Summary {
    /// Whether every event was acknowledged or refused on purpose.
    pub fn is_success(&self) -> bool {
        self.failed == 0
            && self.abandoned == 0
            && self.check.as_ref().is_none_or(|c| c.is_ok(self.failed))
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "races          {:?}", self.races)?;
        writeln!(f, "sent           {}", self.sent)?;
        writeln!(
            f,
            "acknowledged   {} ({} found already stored on a retry)",
            self.acknowledged, self.already_stored
        )?;
        if self.rejected_as_intended > 0 {
            writeln!(f, "rejected       {} (deliberately invalid)", self.rejected_as_intended)?;
        }
        writeln!(f, "failed         {}", self.failed)?;
        for (code, n) in &self.failed_by_code {
            writeln!(f, "  {code:<28} {n}")?;
        }
        if self.abandoned > 0 {
            writeln!(f, "abandoned      {} (unanswered when stopped)", self.abandoned)?;
        }
        writeln!(f, "requests       {} ({} retries)", self.requests, self.retried_requests)?;
        writeln!(
            f,
            "throughput     {:.0} events/s over {:.1} s",
            self.events_per_second, self.elapsed_seconds
        )?;
        let l = self.ack_latency_ms;
        write!(
            f,
            "ack latency    p50 {:.1} ms · p95 {:.1} ms · p99 {:.1} ms · max {:.1} ms",
            l.p50, l.p95, l.p99, l.max
        )?;
        if let Some(c) = &self.check {
            write!(
                f,
                "\nstored         {} acknowledged checked after {:.1} s: missing from results {}, \
                 from history {}; extra in results {}; wrong totals {}",
                c.acknowledged,
                c.waited_seconds,
                c.missing_from_results,
                c.missing_from_history,
                c.extra_in_results,
                c.wrong_totals
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(racer: u64, second: u32) -> EventKey {
        EventKey { race_id: 7, racer_id: racer, second }
    }

    #[test]
    fn acknowledgements_add_up_per_ride_with_latency_percentiles() {
        let stats = Stats::new(true);
        stats.sent(4);
        stats.acknowledged(
            [(key(1, 1), 100.0), (key(1, 2), 50.25)],
            Duration::from_millis(4),
            false,
        );
        stats.acknowledged([(key(2, 1), 10.0)], Duration::from_millis(40), true);
        stats.failed("InvalidArgumentException", 1);
        let summary = stats.summary(vec![7]);
        assert_eq!((summary.sent, summary.acknowledged, summary.already_stored), (4, 3, 1));
        assert_eq!(summary.failed_by_code["InvalidArgumentException"], 1);
        assert!(!summary.is_success());
        assert!((3.9..4.1).contains(&summary.ack_latency_ms.p50), "{summary:?}");
        assert!((39.0..41.0).contains(&summary.ack_latency_ms.max), "{summary:?}");
        let totals = stats.totals();
        assert_eq!(totals[&(7, 1)], RideTotal { seconds: 2, total_centi: 15_025 });
        assert_eq!(stats.acknowledged_keys().unwrap().len(), 3);
    }

    #[test]
    fn deliberate_rejections_are_not_failures() {
        let stats = Stats::new(false);
        stats.sent(2);
        stats.rejected_as_intended(2);
        let summary = stats.summary(vec![]);
        assert!(summary.is_success());
        assert_eq!(stats.snapshot().failed, 2);
        assert!(stats.acknowledged_keys().is_none() && stats.totals().is_empty());
    }

    #[test]
    fn the_summary_is_camel_case_json() {
        let json = serde_json::to_string(&Stats::new(false).summary(vec![1])).unwrap();
        for field in ["\"failedByCode\"", "\"ackLatencyMs\"", "\"eventsPerSecond\"", "\"p99\""] {
            assert!(json.contains(field), "{json} lacks {field}");
        }
    }
}
