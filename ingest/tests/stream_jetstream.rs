//! What only the JetStream engine has to show: records survive a NATS node's SIGKILL and puts
//! and reads carry on; several handles (servers) share one stream, and follow each other's
//! reshards; checkpoints, being durable JetStream consumers, move both ways and survive
//! reopening.

mod stream_support;

use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use alleycat_ingest::stream::{
    JetStreamStream, PutRecord, Reshard, SequenceNumber, ShardId, StartingPosition, Stream,
    StreamConfig,
};
use alleycat_testkit::nats::NatsCluster;
use stream_support::{
    jetstream_config, read_all, read_everything, rec, shared_cluster, small_config,
    unique_stream_name,
};

async fn open(cluster: &NatsCluster, name: &str, config: &StreamConfig) -> JetStreamStream {
    JetStreamStream::open(jetstream_config(cluster, name, config)).await.expect("open the stream")
}

/// Puts `records` until every one is acknowledged, resending only the failed ones (all
/// retryable), within `limit`.
async fn put_all(stream: &dyn Stream, mut records: Vec<PutRecord>, limit: Duration) {
    let deadline = Instant::now() + limit;
    while !records.is_empty() {
        assert!(Instant::now() < deadline, "{} records still unacknowledged", records.len());
        match stream.put_records(records.clone()).await {
            Ok(out) => {
                records = records
                    .into_iter()
                    .zip(out.records)
                    .filter_map(|(record, result)| match result {
                        Ok(_) => None,
                        Err(error) => {
                            assert!(error.code.is_retryable(), "{error}");
                            Some(record)
                        }
                    })
                    .collect();
            }
            Err(error) => panic!("a whole put failed: {error}"),
        }
        if !records.is_empty() {
            // An election is under way: ask again shortly.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Every record's data on every shard, read until it succeeds (reads error while a stream or
/// consumer has no leader) within `limit`.
async fn read_data(stream: &dyn Stream, limit: Duration) -> Vec<String> {
    let deadline = Instant::now() + limit;
    loop {
        let attempt = async {
            let mut out = Vec::new();
            for shard in stream.shards() {
                let mut it =
                    stream.shard_iterator(shard.shard_id, StartingPosition::TrimHorizon).await?;
                loop {
                    let page = stream.get_records(&it, 10_000, Duration::ZERO).await?;
                    if page.records.is_empty() {
                        break;
                    }
                    out.extend(
                        page.records.iter().map(|r| String::from_utf8_lossy(&r.data).into_owned()),
                    );
                    it = page.next_iterator;
                }
            }
            Ok::<_, alleycat_ingest::stream::StreamError>(out)
        };
        match attempt.await {
            Ok(out) => return out,
            Err(error) => {
                assert!(Instant::now() < deadline, "reads still fail: {error}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_survive_sigkill_of_one_node_and_puts_and_reads_carry_on() {
    // Its own cluster: killing a node would disturb the other tests' streams.
    let mut cluster = NatsCluster::start().await;
    let name = unique_stream_name();
    let stream = open(&cluster, &name, &small_config(2)).await;
    let batch = |from: usize| -> Vec<PutRecord> {
        (from..from + 300)
            .map(|i| rec(&format!("racer-{}", i % 37), &format!("event {i}")))
            .collect()
    };
    put_all(&stream, batch(0), Duration::from_secs(30)).await;

    // Node 0 is the first the client connected to; it may also lead the stream.
    cluster.kill(0);
    put_all(&stream, batch(300), Duration::from_secs(60)).await;
    let data = read_data(&stream, Duration::from_secs(60)).await;
    let distinct: BTreeSet<_> = data.iter().cloned().collect();
    // Everything acknowledged is there (a lost PubAck may have stored a retried record twice).
    assert_eq!(distinct.len(), 600, "with one node down");
    assert!((0..600).all(|i| distinct.contains(&format!("event {i}"))));

    // The node comes back and catches up; a second handle (another server) sees it all.
    cluster.restart(0).await;
    put_all(&stream, batch(600), Duration::from_secs(60)).await;
    let other = open(&cluster, &name, &small_config(2)).await;
    let distinct: BTreeSet<_> =
        read_data(&other, Duration::from_secs(60)).await.into_iter().collect();
    assert_eq!(distinct.len(), 900, "after the restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_handles_on_one_cluster_see_each_others_records() {
    let cluster = shared_cluster().await;
    let name = unique_stream_name();
    let a = open(&cluster, &name, &small_config(2)).await;
    let b = open(&cluster, &name, &small_config(2)).await;
    let out_a =
        a.put_records((0..50).map(|i| rec(&i.to_string(), "from a")).collect()).await.unwrap();
    let out_b =
        b.put_records((0..50).map(|i| rec(&i.to_string(), "from b")).collect()).await.unwrap();
    assert_eq!(out_a.failed_record_count + out_b.failed_record_count, 0);
    for (reader, who) in [(&a, "a"), (&b, "b")] {
        let shards = read_everything(reader).await;
        let all: Vec<_> = shards.iter().flatten().collect();
        assert_eq!(all.len(), 100, "{who} reads both handles' records");
        assert_eq!(all.iter().filter(|r| &r.data[..] == b"from a").count(), 50);
        for records in &shards {
            assert!(records.windows(2).all(|w| w[0].sequence_number < w[1].sequence_number));
        }
    }
    // A reader waiting on one handle wakes for a put through the other.
    let it = a.shard_iterator(ShardId(0), StartingPosition::Latest).await.unwrap();
    let put = async {
        b.put_records(vec![PutRecord {
            partition_key: "k".into(),
            explicit_hash_key: Some(0),
            data: bytes::Bytes::from_static(b"late"),
        }])
        .await
        .unwrap()
    };
    let (page, _) = tokio::join!(a.get_records(&it, 10, Duration::from_secs(30)), put);
    assert_eq!(&page.unwrap().records[0].data[..], b"late");
    // A checkpoint through one handle is the other's.
    let last = out_a.records.iter().rev().flatten().find(|r| r.shard_id == ShardId(1)).unwrap();
    a.checkpoint("delivery", ShardId(1), last.sequence_number).await.unwrap();
    assert_eq!(b.checkpoints("delivery").await.unwrap()[&ShardId(1)], last.sequence_number);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reshard_through_one_handle_is_followed_by_the_others_puts_and_reads() {
    let cluster = shared_cluster().await;
    let name = unique_stream_name();
    let a = open(&cluster, &name, &small_config(1)).await;
    let b = open(&cluster, &name, &small_config(1)).await;
    // `stale` knows only the first map: its puts race the reshard it has not seen.
    let stale = open(&cluster, &name, &small_config(1)).await;
    let batch = |tag: &str| -> Vec<PutRecord> {
        (0..20).map(|i| rec(&format!("k{i}"), &format!("{tag}-{i}"))).collect()
    };
    let before = b.put_records(batch("before")).await.unwrap();
    assert_eq!(before.failed_record_count, 0);

    // b waits at the parent's tip while a splits it: the reshard ends the wait with the children.
    let tip = b.shard_iterator(ShardId(0), StartingPosition::Latest).await.unwrap();
    let split = Reshard::Split { shard: ShardId(0), new_starting_hash_key: 1u128 << 127 };
    let started = Instant::now();
    let (page, resharded) =
        tokio::join!(b.get_records(&tip, 10, Duration::from_secs(30)), a.reshard(split));
    resharded.unwrap();
    let page = page.unwrap();
    assert!(page.records.is_empty());
    let children: Vec<_> =
        page.child_shards.expect("the end of a closed shard").iter().map(|c| c.shard_id).collect();
    assert_eq!(children, [ShardId(1), ShardId(2)]);
    assert!(started.elapsed() < Duration::from_secs(20), "woken by the reshard, not the wait");
    assert_eq!(b.shards(), a.shards(), "b follows a's map");

    // A put routed by the old map lands past the parent's end, is found there and goes to a
    // child: it is acknowledged only from there.
    let after = stale.put_records(batch("after")).await.unwrap();
    assert_eq!(after.failed_record_count, 0);
    for ok in after.records.iter().map(|r| r.as_ref().unwrap()) {
        assert_ne!(ok.shard_id, ShardId(0), "acknowledged from the closed parent");
    }
    assert_eq!(stale.shards(), a.shards(), "the stale handle follows too");
    for reader in [&a, &b, &stale] {
        let shards = read_everything(reader).await;
        let data = |shard: usize| -> Vec<String> {
            shards[shard].iter().map(|r| String::from_utf8_lossy(&r.data).into_owned()).collect()
        };
        assert_eq!(data(0), (0..20).map(|i| format!("before-{i}")).collect::<Vec<_>>());
        let mut later = [data(1), data(2)].concat();
        later.sort();
        let mut expected: Vec<String> = (0..20).map(|i| format!("after-{i}")).collect();
        expected.sort();
        assert_eq!(later, expected, "each later record once, in a child");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reshards_through_two_handles_at_once_both_apply() {
    let cluster = shared_cluster().await;
    let name = unique_stream_name();
    let a = open(&cluster, &name, &small_config(2)).await;
    let b = open(&cluster, &name, &small_config(2)).await;
    let (in_a, in_b) = tokio::join!(
        a.reshard(Reshard::Split { shard: ShardId(0), new_starting_hash_key: 1u128 << 126 }),
        b.reshard(Reshard::Split {
            shard: ShardId(1),
            new_starting_hash_key: (1u128 << 127) + (1u128 << 126),
        }),
    );
    in_a.unwrap();
    in_b.unwrap();
    let fresh = open(&cluster, &name, &small_config(2)).await;
    let shards = fresh.shards();
    assert_eq!(shards.len(), 6);
    assert!(!shards[0].is_open() && !shards[1].is_open());
    assert_eq!(shards.iter().filter(|s| s.is_open()).count(), 4);
    let parents: BTreeSet<_> = shards[2..].iter().map(|s| s.parent_shard_id).collect();
    assert_eq!(parents, BTreeSet::from([Some(ShardId(0)), Some(ShardId(1))]));
}

#[tokio::test]
async fn checkpoints_move_both_ways_and_survive_reopening() {
    let cluster = shared_cluster().await;
    let name = unique_stream_name();
    let config = small_config(1);
    let stream = open(&cluster, &name, &config).await;
    for b in 0..3 {
        stream
            .put_records((0..100).map(|i| rec("k", &format!("{b}-{i}"))).collect())
            .await
            .unwrap();
    }
    let seqs: Vec<SequenceNumber> =
        read_all(&stream, ShardId(0)).await.iter().map(|r| r.sequence_number).collect();
    assert_eq!(seqs.len(), 300);
    // Forward: the first creates the durable, the rest ack forward (each fetch takes headers
    // past the target, which are handed back for the next).
    for at in [10, 100, 101, 250] {
        stream.checkpoint("delivery", ShardId(0), seqs[at]).await.unwrap();
        assert_eq!(stream.checkpoints("delivery").await.unwrap()[&ShardId(0)], seqs[at], "at {at}");
    }
    stream.close().await;
    let stream = open(&cluster, &name, &config).await;
    assert_eq!(stream.checkpoints("delivery").await.unwrap()[&ShardId(0)], seqs[250]);
    // Backwards (a replay asked for), then forward again to the last.
    stream.checkpoint("delivery", ShardId(0), seqs[50]).await.unwrap();
    assert_eq!(stream.checkpoints("delivery").await.unwrap()[&ShardId(0)], seqs[50]);
    stream.checkpoint("delivery", ShardId(0), seqs[299]).await.unwrap();
    stream.close().await;
    let stream = open(&cluster, &name, &config).await;
    assert_eq!(stream.checkpoints("delivery").await.unwrap()[&ShardId(0)], seqs[299]);
    // Resuming after it reads nothing; consumer names with dots and underscores stay apart.
    stream.checkpoint("a.b", ShardId(0), seqs[1]).await.unwrap();
    stream.checkpoint("a_b", ShardId(0), seqs[2]).await.unwrap();
    assert_eq!(stream.checkpoints("a.b").await.unwrap()[&ShardId(0)], seqs[1]);
    assert_eq!(stream.checkpoints("a_b").await.unwrap()[&ShardId(0)], seqs[2]);
}

#[tokio::test]
async fn a_stream_of_that_name_with_other_subjects_is_refused() {
    let cluster = shared_cluster().await;
    let name = unique_stream_name();
    let client = async_nats::connect(cluster.servers()[0].as_str()).await.unwrap();
    async_nats::jetstream::new(client)
        .create_stream(async_nats::jetstream::stream::Config {
            name: name.clone(),
            subjects: vec![format!("{name}.orders")],
            ..Default::default()
        })
        .await
        .unwrap();
    match JetStreamStream::open(jetstream_config(&cluster, &name, &small_config(2))).await {
        Err(alleycat_ingest::stream::StreamError::InvalidArgument(message)) => {
            assert!(message.contains("not Alleycat's shards"), "{message}")
        }
        Err(other) => panic!("unexpected {other:?}"),
        Ok(_) => panic!("opened another application's stream"),
    }
}

#[tokio::test]
async fn an_idle_shards_reader_reads_on_when_other_shards_records_expire() {
    let cluster = shared_cluster().await;
    let name = unique_stream_name();
    let config = StreamConfig { retention: Duration::from_secs(2), ..small_config(2) };
    let stream = open(&cluster, &name, &config).await;
    let idle = stream.shard_iterator(ShardId(0), StartingPosition::Latest).await.unwrap();
    let to = |hash: u128, data: &'static str| PutRecord {
        partition_key: "k".into(),
        explicit_hash_key: Some(hash),
        data: bytes::Bytes::from_static(data.as_bytes()),
    };
    stream.put_records((0..50).map(|_| to(u128::MAX, "busy")).collect()).await.unwrap();
    // Shard 1's records expire, which moves the stream's first sequence past `idle`.
    alleycat_testkit::eventually(Duration::from_secs(30), "shard 1's records expire", || async {
        read_all(&stream, ShardId(1)).await.is_empty().then_some(())
    })
    .await;
    let page = stream.get_records(&idle, 10, Duration::ZERO).await.unwrap();
    assert!(page.records.is_empty());
    stream.put_records(vec![to(0, "idle no more")]).await.unwrap();
    let page = stream.get_records(&page.next_iterator, 10, Duration::ZERO).await.unwrap();
    assert_eq!(&page.records[0].data[..], b"idle no more");
}

/// A message the engine's read consumer delivered that never reached the engine (lost on the
/// way while a NATS node was paused, or sent to a pull request given up on) is read again, not
/// skipped (#19). The test takes that delivery from the engine's consumer itself.
#[tokio::test]
async fn a_delivery_that_never_arrived_is_read_again_not_skipped() {
    use futures::TryStreamExt;
    let cluster = shared_cluster().await;
    let name = unique_stream_name();
    let stream = open(&cluster, &name, &small_config(1)).await;
    let sent = ["one", "two", "three"];
    put_all(&stream, sent.iter().map(|d| rec("k", d)).collect(), Duration::from_secs(30)).await;
    let start = stream.shard_iterator(ShardId(0), StartingPosition::TrimHorizon).await.unwrap();
    let first = stream.get_records(&start, 1, Duration::ZERO).await.unwrap();
    assert_eq!(&first.records[0].data[..], b"one");

    // The engine keeps its read consumer for the next read: take its next delivery.
    let client = async_nats::connect(cluster.servers()[0].as_str()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let js_stream = js.get_stream(&name).await.unwrap();
    let names: Vec<String> = js_stream.consumer_names().try_collect().await.unwrap();
    assert_eq!(names.len(), 1, "the engine's read consumer: {names:?}");
    let reader: async_nats::jetstream::consumer::PullConsumer =
        js_stream.get_consumer(&names[0]).await.unwrap();
    let taken: Vec<_> = reader
        .fetch()
        .max_messages(1)
        .expires(Duration::from_secs(5))
        .messages()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(&taken[0].payload[..], b"two");

    // Three reads at most (one may come back empty while the engine replaces its consumer).
    let mut it = first.next_iterator;
    let mut read = Vec::new();
    for _ in 0..3 {
        let page = stream.get_records(&it, 10, Duration::ZERO).await.unwrap();
        read.extend(page.records.iter().map(|r| String::from_utf8_lossy(&r.data).into_owned()));
        it = page.next_iterator;
    }
    assert_eq!(read, ["two", "three"]);
}

/// The delivery-lag probe reads one record at each new checkpoint: a new position, so a new
/// read consumer, each time. nats-server limits a stream to 1,000 consumers by default (shared
/// by every server on it); consumers left to idle out reached it within a minute of a race.
#[tokio::test]
async fn reads_that_move_around_do_not_pile_up_consumers_against_the_servers_limit() {
    const READS: usize = 1_050;
    let cluster = shared_cluster().await;
    let name = unique_stream_name();
    let stream = open(&cluster, &name, &small_config(1)).await;
    for batch in 0..3 {
        let records = (0..400).map(|i| rec("k", &format!("{batch}-{i}"))).collect();
        put_all(&stream, records, Duration::from_secs(60)).await;
    }
    let seqs: Vec<SequenceNumber> =
        read_all(&stream, ShardId(0)).await.iter().map(|r| r.sequence_number).collect();
    // Backwards: each read's consumer is cached at the position after it, never asked again.
    for &seq in seqs.iter().rev().take(READS) {
        let at = StartingPosition::AtSequenceNumber(seq);
        let iterator = stream.shard_iterator(ShardId(0), at).await.expect("an iterator");
        let page = stream.get_records(&iterator, 1, Duration::ZERO).await.expect("a read");
        assert_eq!(page.records[0].sequence_number, seq);
    }
    // What the handle will not use again is deleted: the stream keeps about its cache's worth.
    let client = async_nats::connect(cluster.servers()[0].as_str()).await.unwrap();
    let mut info = async_nats::jetstream::new(client).get_stream(&name).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let consumers = info.info().await.unwrap().state.consumer_count;
        if consumers <= 200 {
            break;
        }
        assert!(Instant::now() < deadline, "{consumers} consumers left after {READS} reads");
        tokio::time::sleep(Duration::from_millis(200)).await; // polling, with a deadline
    }
}
