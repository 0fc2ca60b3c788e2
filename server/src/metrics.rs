//! Metrics in the Prometheus text format (`GET /metrics`), with the official `prometheus-client`.
//!
//! Counted as things happen: events accepted and rejected (by reason), stream records and bytes
//! per shard, WebSocket clients, open connections, request latency. Read at scrape time:
//! whether this server holds the pipeline lease; delivery and merge progress (from their watch channels) and each consumer's lag behind the
//! stream's tip.

use std::sync::{Arc, Mutex};

use alleycat_ingest::{
    delivery::{DeliveryProgress, CONSUMER as DELIVERY_CONSUMER},
    merge::MergeProgress,
    stream::{StartingPosition, Stream},
};
use prometheus_client::{
    encoding::{text::encode, EncodeLabelSet},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};
use tokio::sync::watch;

/// A rejection reason label.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// The error code.
    pub reason: String,
}

/// A shard label.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ShardLabel {
    /// The shard id.
    pub shard: String,
}

/// A consumer label.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConsumerLabel {
    /// The consumer's name.
    pub consumer: String,
}

/// A readiness component label (`crate::health`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ComponentLabel {
    /// The component: `stream`, `database`, `objectStore`, `pipeline`, `delivery`, `merge`.
    pub component: String,
}

/// A route label.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabel {
    /// The matched route, e.g. `/api/events`.
    pub route: String,
    /// The HTTP method.
    pub method: String,
}

/// Every metric of the server, and the registry that renders them.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    /// Events appended to the stream.
    pub events_accepted: Counter,
    /// Events refused, by reason.
    pub events_rejected: Family<ReasonLabel, Counter>,
    /// Records appended, by shard.
    pub stream_records: Family<ShardLabel, Counter>,
    /// Bytes appended, by shard.
    pub stream_bytes: Family<ShardLabel, Counter>,
    /// Open here-now WebSockets.
    pub websocket_clients: Gauge,
    /// Open HTTP connections (WebSockets included).
    pub http_connections: Gauge,
    /// Request latency, seconds, by route.
    pub request_seconds: Family<RouteLabel, Histogram>,
    consumer_lag_ms: Family<ConsumerLabel, Gauge>,
    consumer_lag_records: Family<ConsumerLabel, Gauge>,
    delivery_objects: Gauge,
    delivery_bytes: Gauge,
    delivery_records: Gauge,
    delivery_failed_records: Gauge,
    merge_objects: Gauge,
    merge_records: Gauge,
    merge_lag_objects: Gauge,
    pipeline_leader: Gauge,
    pipeline_lease_losses: Counter,
    ready: Gauge,
    component_ready: Family<ComponentLabel, Gauge>,
    progress: Arc<Mutex<Progress>>,
}

#[derive(Debug, Default)]
struct Progress {
    delivery: Option<watch::Receiver<DeliveryProgress>>,
    merge: Option<watch::Receiver<MergeProgress>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("alleycat");
        let events_accepted = Counter::default();
        let events_rejected = Family::<ReasonLabel, Counter>::default();
        let stream_records = Family::<ShardLabel, Counter>::default();
        let stream_bytes = Family::<ShardLabel, Counter>::default();
        let websocket_clients = Gauge::default();
        let http_connections = Gauge::default();
        let request_seconds = Family::<RouteLabel, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
            ])
        });
        let consumer_lag_ms = Family::<ConsumerLabel, Gauge>::default();
        let consumer_lag_records = Family::<ConsumerLabel, Gauge>::default();
        let [delivery_objects, delivery_bytes, delivery_records, delivery_failed_records, merge_objects, merge_records, merge_lag_objects] =
            std::array::from_fn(|_| Gauge::default());
        registry.register(
            "events_accepted",
            "Events appended to the stream",
            events_accepted.clone(),
        );
        registry.register("events_rejected", "Events refused, by reason", events_rejected.clone());
        registry.register(
            "stream_records",
            "Records appended to the stream, by shard",
            stream_records.clone(),
        );
        registry.register(
            "stream_bytes",
            "Bytes appended to the stream, by shard",
            stream_bytes.clone(),
        );
        registry.register(
            "websocket_clients",
            "Open here-now WebSockets",
            websocket_clients.clone(),
        );
        registry.register(
            "http_connections",
            "Open HTTP connections, WebSockets included",
            http_connections.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Request latency by route",
            request_seconds.clone(),
        );
        registry.register(
            "consumer_lag_milliseconds",
            "How far each consumer is behind the stream's tip",
            consumer_lag_ms.clone(),
        );
        registry.register(
            "consumer_lag_records",
            "Records each consumer has yet to checkpoint",
            consumer_lag_records.clone(),
        );
        registry.register(
            "delivery_objects",
            "Objects delivered since start",
            delivery_objects.clone(),
        );
        registry.register(
            "delivery_bytes",
            "Compressed bytes delivered since start",
            delivery_bytes.clone(),
        );
        registry.register(
            "delivery_records",
            "Records delivered since start",
            delivery_records.clone(),
        );
        registry.register(
            "delivery_failed_records",
            "Records delivered to processing-failed since start",
            delivery_failed_records.clone(),
        );
        registry.register("merge_objects", "Objects merged since start", merge_objects.clone());
        registry.register("merge_records", "Records merged since start", merge_records.clone());
        registry.register(
            "merge_lag_objects",
            "Objects delivered but not yet merged",
            merge_lag_objects.clone(),
        );
        let pipeline_leader = Gauge::default();
        registry.register(
            "pipeline_leader",
            "1 while this server holds the pipeline lease and runs delivery and merge",
            pipeline_leader.clone(),
        );
        let pipeline_lease_losses = Counter::default();
        registry.register(
            "pipeline_lease_losses",
            "Times this server lost the pipeline lease while running delivery and merge",
            pipeline_lease_losses.clone(),
        );
        let ready = Gauge::default();
        registry.register(
            "ready",
            "1 while the server can do its job (GET /readyz answers 200), as of the last check",
            ready.clone(),
        );
        let component_ready = Family::<ComponentLabel, Gauge>::default();
        registry.register(
            "component_ready",
            "1 while the component lets the server do its job, as of the last readiness check",
            component_ready.clone(),
        );
        Self {
            registry: Arc::new(registry),
            events_accepted,
            events_rejected,
            stream_records,
            stream_bytes,
            websocket_clients,
            http_connections,
            request_seconds,
            consumer_lag_ms,
            consumer_lag_records,
            delivery_objects,
            delivery_bytes,
            delivery_records,
            delivery_failed_records,
            merge_objects,
            merge_records,
            merge_lag_objects,
            pipeline_leader,
            pipeline_lease_losses,
            ready,
            component_ready,
            progress: Arc::default(),
        }
    }

    /// Reports delivery's progress at each scrape.
    pub fn watch_delivery(&self, progress: watch::Receiver<DeliveryProgress>) {
        self.progress.lock().unwrap_or_else(|p| p.into_inner()).delivery = Some(progress);
    }

    /// Reports the merge's progress at each scrape.
    pub fn watch_merge(&self, progress: watch::Receiver<MergeProgress>) {
        self.progress.lock().unwrap_or_else(|p| p.into_inner()).merge = Some(progress);
    }

    /// Records whether this server holds the pipeline lease.
    pub fn set_pipeline_leader(&self, leader: bool) {
        self.pipeline_leader.set(i64::from(leader));
    }

    /// Whether this server holds the pipeline lease (runs delivery and merge).
    pub fn pipeline_leader(&self) -> bool {
        self.pipeline_leader.get() == 1
    }

    /// Counts a loss of the pipeline lease.
    pub fn lost_pipeline_lease(&self) {
        self.pipeline_lease_losses.inc();
    }

    /// How often this server lost the pipeline lease.
    pub fn pipeline_lease_losses(&self) -> u64 {
        self.pipeline_lease_losses.get()
    }

    /// Delivered objects the merge has not folded yet (0 where the pipeline does not run).
    pub fn merge_waiting(&self) -> u64 {
        let progress = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        let delivered = progress.delivery.as_ref().map(|d| d.borrow().objects).unwrap_or_default();
        let merged = progress.merge.as_ref().map(|m| m.borrow().objects).unwrap_or_default();
        delivered.saturating_sub(merged)
    }

    /// Records a readiness check in `alleycat_ready` and `alleycat_component_ready`.
    pub fn set_readiness(&self, readiness: &crate::health::Readiness) {
        self.ready.set(i64::from(readiness.ready));
        for (name, component) in &readiness.components {
            let label = ComponentLabel { component: (*name).to_owned() };
            self.component_ready.get_or_create(&label).set(i64::from(component.ready));
        }
    }

    /// Counts a refused event.
    pub fn reject(&self, reason: &str) {
        self.events_rejected.get_or_create(&ReasonLabel { reason: reason.to_owned() }).inc();
    }

    /// Reads the pipeline's progress and lag, then renders every metric.
    pub async fn render(&self, stream: &dyn Stream) -> String {
        self.read_progress();
        self.read_lag(stream).await;
        let mut text = String::new();
        if encode(&mut text, &self.registry).is_err() {
            tracing::error!("Cannot encode the metrics.");
        }
        text
    }

    fn read_progress(&self) {
        let progress = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        let delivered = progress.delivery.as_ref().map(|d| *d.borrow()).unwrap_or_default();
        let merged = progress.merge.as_ref().map(|m| *m.borrow()).unwrap_or_default();
        let gauge = |g: &Gauge, v: u64| {
            g.set(i64::try_from(v).unwrap_or(i64::MAX));
        };
        gauge(&self.delivery_objects, delivered.objects);
        gauge(&self.delivery_bytes, delivered.bytes);
        gauge(&self.delivery_records, delivered.records);
        gauge(&self.delivery_failed_records, delivered.failed_records);
        gauge(&self.merge_objects, merged.objects);
        gauge(&self.merge_records, merged.records);
        gauge(&self.merge_lag_objects, delivered.objects.saturating_sub(merged.objects));
    }

    async fn read_lag(&self, stream: &dyn Stream) {
        let Some((lag_ms, lag_records)) = delivery_lag(stream).await else { return };
        let label = ConsumerLabel { consumer: DELIVERY_CONSUMER.to_owned() };
        self.consumer_lag_ms.get_or_create(&label).set(i64::try_from(lag_ms).unwrap_or(i64::MAX));
        self.consumer_lag_records
            .get_or_create(&label)
            .set(i64::try_from(lag_records).unwrap_or(i64::MAX));
    }
}

/// How long [`delivery_lag`] may ask the stream: a stream that does not answer (a paused NATS
/// node) must not hold `/readyz` and `/metrics` up.
pub const LAG_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// How far delivery is behind the stream: the age of the oldest record it has not
/// checkpointed (ms) and how many records that is, over every shard; `None` when its
/// checkpoints cannot be read or the stream does not answer within [`LAG_TIMEOUT`].
pub async fn delivery_lag(stream: &dyn Stream) -> Option<(u64, u64)> {
    tokio::time::timeout(LAG_TIMEOUT, lag_of(stream)).await.ok().flatten()
}

async fn lag_of(stream: &dyn Stream) -> Option<(u64, u64)> {
    let checkpoints = stream.checkpoints(DELIVERY_CONSUMER).await.ok()?;
    let (mut lag_ms, mut lag_records) = (0u64, 0u64);
    for shard in stream.shards() {
        let start = match checkpoints.get(&shard.shard_id) {
            Some(&seq) => StartingPosition::AfterSequenceNumber(seq),
            None => StartingPosition::TrimHorizon,
        };
        let (Ok(from), Ok(tip)) = (
            stream.shard_iterator(shard.shard_id, start).await,
            stream.shard_iterator(shard.shard_id, StartingPosition::Latest).await,
        ) else {
            continue;
        };
        lag_records +=
            u64::try_from(tip.position.saturating_sub(from.position)).unwrap_or(u64::MAX);
        if let Ok(page) = stream.get_records(&from, 1, std::time::Duration::ZERO).await {
            lag_ms = lag_ms.max(page.millis_behind_latest);
        }
    }
    Some((lag_ms, lag_records))
}
