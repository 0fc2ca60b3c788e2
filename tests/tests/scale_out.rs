//! Scale-out, the whole system through node failures: two `alleycat serve` processes over a
//! three-node NATS JetStream cluster (the stream, replicated three times), PostgreSQL (results,
//! class records, the roster, shared keys and the pipeline lease) and an S3-compatible bucket
//! (moto: delivered objects and history files), every one started by the test. 1,000 simulated
//! racers ride a 20-second race in class 1 spread over both servers; a few seconds in, the
//! server holding the delivery/merge lease is killed with SIGKILL, and so is one NATS node. The
//! generator carries on against the survivor, which takes the lease over and resumes delivery
//! from the JetStream checkpoint. Afterwards every acknowledged event is in the race results
//! (once, with the generator's totals), in the history file, and in the delivered objects
//! (whose distinct events are exactly the acknowledged ones: an object the dead leader stored
//! but had not checkpointed may be delivered again, as Firehose allows).

#[path = "../../ingest/tests/moto_support/mod.rs"]
mod moto_support;
mod support;

use std::{sync::Arc, time::Duration};

use alleycat_ingest::objects::{self, StoreConfig};
use alleycat_sim::{ClassChoice, SimConfig};
use alleycat_testkit::{alleycat::events_in, nats::NatsCluster, postgres::Postgres};
use futures::TryStreamExt;
use moto_support::Moto;
use object_store::{ObjectStore, ObjectStoreExt};
use support::{assert_stored, eventually, metric, ride, sim_config, Dirs, ServerProcess};

const RACE_SECONDS: u32 = 20;
const RACERS: u32 = 1000;
const ROSTER: u32 = 2000;
const BUCKET: &str = "alleycat-scale-out";

async fn leads(base: &str) -> bool {
    let Ok(response) = support::client().get(format!("{base}/api/metrics")).send().await else {
        return false;
    };
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    body["pipelineLeader"] == true
}

/// Every (race, racer, second) in the delivered objects in `store`, with repeats.
async fn delivered(store: &Arc<dyn ObjectStore>) -> Vec<(u64, u64, u64)> {
    let prefix = object_store::path::Path::from(objects::DELIVERY_PREFIX);
    let listed: Vec<_> = store.list(Some(&prefix)).try_collect().await.unwrap();
    let mut found = Vec::new();
    for meta in listed {
        let bytes = store.get(&meta.location).await.unwrap().bytes().await.unwrap();
        found.extend(events_in(&bytes));
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_lose_nothing_when_the_leader_and_a_nats_node_die_mid_race() {
    let mut nats = NatsCluster::start().await;
    let postgres = Postgres::start().expect("PostgreSQL starts");
    let moto = Moto::start();
    moto.create_bucket(BUCKET);
    let mut env = moto.alleycat_env(&format!("s3://{BUCKET}"));
    env.extend([("ALLEYCAT_STREAM", nats.url()), ("ALLEYCAT_DATABASE_URL", postgres.url())]);
    let (dirs_a, dirs_b) = (Dirs::new(), Dirs::new());
    let a = ServerProcess::spawn_with(&dirs_a, RACE_SECONDS, ROSTER, 0, &env);
    let b = ServerProcess::spawn_with(&dirs_b, RACE_SECONDS, ROSTER, 0, &env);
    let (base_a, base_b) = (a.base.clone(), b.base.clone());

    // Exactly one of them runs delivery and merge.
    let a_leads = eventually(Duration::from_secs(30), "one pipeline leader", || async {
        match (leads(&base_a).await, leads(&base_b).await) {
            (true, false) => Some(true),
            (false, true) => Some(false),
            _ => None,
        }
    })
    .await;
    let (leader, survivor) = if a_leads { (a, b) } else { (b, a) };

    let sim = tokio::spawn(ride(SimConfig {
        servers: vec![base_a.clone(), base_b.clone()],
        ..sim_config(&base_a, RACERS, ClassChoice::One(1))
    }));
    // A few seconds into the race, on both servers, kill the leader and a NATS node.
    eventually(Duration::from_secs(3 * u64::from(RACE_SECONDS)), "racing on both", || async {
        let (on_a, on_b) = (
            metric(&base_a, "events_accepted", "").await,
            metric(&base_b, "events_accepted", "").await,
        );
        (on_a >= 2 * u64::from(RACERS) && on_b >= 2 * u64::from(RACERS)).then_some(())
    })
    .await;
    leader.kill();
    nats.kill(0);

    let report = sim.await.unwrap();
    let s = &report.summary;
    assert!(s.retried_requests > 0, "no request met the killed server: {s:?}");
    eventually(Duration::from_secs(30), "the survivor takes the lease", || async {
        leads(&survivor.base).await.then_some(())
    })
    .await;

    let store = objects::open_store(&StoreConfig::S3(moto.s3_config(BUCKET))).await.unwrap();
    assert_stored(&report, &survivor.base, delivered(&store)).await;
    survivor.terminate();
}
