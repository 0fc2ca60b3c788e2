"""Alleycat's Kinesis API through real clients: boto3 and the AWS CLI.

Run by tests/tests/kinesis_clients.rs against a real `alleycat serve`, configured only with
the endpoint URL and the credentials, as a producer or consumer would be:

    KINESIS_ENDPOINT      http://127.0.0.1:<kinesis port>
    AWS_ACCESS_KEY_ID     the server's --kinesis-access-key-id
    AWS_SECRET_ACCESS_KEY the server's --kinesis-secret-access-key
    ALLEYCAT_URL          http://127.0.0.1:<port> (the racing API, to see events arrive; its
                          /api/config gives the race clock, on the server's time)
    ALLEYCAT_DATA_DIR     the server's data directory (its object store's local root)

The server runs with --throttle (Kinesis' per-shard write limits).
"""

import base64
import gzip
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid

import boto3
import botocore.config
import botocore.exceptions
import pytest
import websocket

ENDPOINT = os.environ["KINESIS_ENDPOINT"]
REGION = "eu-west-1"
DEADLINE_SECONDS = 30


def client(**overrides):
    config = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"})
    args = dict(
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        config=config,
    )
    args.update(overrides)
    return boto3.client("kinesis", **args)


@pytest.fixture(scope="module")
def kinesis():
    return client()


def error_of(call, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call(**kwargs)
    error = raised.value.response
    return error["Error"]["Code"], error["Error"]["Message"], error["ResponseMetadata"]["HTTPStatusCode"]


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def read_all(kinesis, iterator, limit=None):
    """Pages GetRecords until MillisBehindLatest is 0; returns the records and the lags seen."""
    records, lags = [], []
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        args = {"ShardIterator": iterator}
        if limit:
            args["Limit"] = limit
        page = kinesis.get_records(**args)
        records += page["Records"]
        lags.append(page["MillisBehindLatest"])
        iterator = page["NextShardIterator"]
        if page["MillisBehindLatest"] == 0 and not (limit and len(page["Records"]) == limit):
            return records, lags, iterator
    raise AssertionError(f"GetRecords did not reach the tip: lags {lags}")


def test_create_describe_list_and_delete_a_stream(kinesis):
    name = unique("life")
    kinesis.create_stream(StreamName=name, ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 50})
    described = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    assert described["StreamStatus"] == "ACTIVE"
    assert described["StreamARN"] == f"arn:aws:kinesis:{REGION}:000000000000:stream/{name}"
    assert [s["ShardId"] for s in described["Shards"]] == ["shardId-000000000000", "shardId-000000000001"]
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 2 and summary["RetentionPeriodHours"] == 24
    assert name in kinesis.list_streams()["StreamNames"]
    code, message, status = error_of(kinesis.create_stream, StreamName=name, ShardCount=1)
    assert (code, status) == ("ResourceInUseException", 400)
    kinesis.delete_stream(StreamName=name)
    code, message, status = error_of(kinesis.describe_stream, StreamName=name)
    assert (code, message, status) == (
        "ResourceNotFoundException", f"Stream {name} under account 000000000000 not found.", 400)


def test_list_shards_pages_with_next_token_and_exclusive_start(kinesis):
    name = unique("shards")
    kinesis.create_stream(StreamName=name, ShardCount=5)
    first = kinesis.list_shards(StreamName=name, MaxResults=2)
    ids = [s["ShardId"] for s in first["Shards"]]
    token = first["NextToken"]
    while token:
        page = kinesis.list_shards(NextToken=token, MaxResults=2)
        ids += [s["ShardId"] for s in page["Shards"]]
        token = page.get("NextToken")
    assert ids == [f"shardId-00000000000{i}" for i in range(5)]
    after = kinesis.list_shards(StreamName=name, ExclusiveStartShardId="shardId-000000000002")
    assert [s["ShardId"] for s in after["Shards"]] == ["shardId-000000000003", "shardId-000000000004"]
    # (boto3's list_shards paginator resends StreamName with NextToken, which Kinesis refuses
    # as below, so it is not used here.)
    code, message, _ = error_of(kinesis.list_shards, StreamName=name, NextToken=first["NextToken"])
    assert (code, message) == ("InvalidArgumentException", "NextToken and StreamName cannot be provided together.")


def test_put_single_records_and_batches_and_read_them_with_every_iterator_type(kinesis):
    name = unique("rw")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    shard = "shardId-000000000000"
    first = kinesis.put_record(StreamName=name, PartitionKey="p", Data=b"one")
    assert first["ShardId"] == shard
    before_batch = time.time()
    time.sleep(0.01)  # not synchronisation: two arrival times must differ for AT_TIMESTAMP
    batch = kinesis.put_records(StreamName=name, Records=[
        {"PartitionKey": "p", "Data": b"two"},
        {"PartitionKey": "q", "Data": b"three", "ExplicitHashKey": "7"},
    ])
    assert batch["FailedRecordCount"] == 0
    second = batch["Records"][0]["SequenceNumber"]

    def read(kind, **extra):
        iterator = kinesis.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType=kind, **extra)
        records, _, _ = read_all(kinesis, iterator["ShardIterator"])
        return [r["Data"] for r in records]

    assert read("TRIM_HORIZON") == [b"one", b"two", b"three"]
    assert read("AT_SEQUENCE_NUMBER", StartingSequenceNumber=second) == [b"two", b"three"]
    assert read("AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=second) == [b"three"]
    assert read("AT_TIMESTAMP", Timestamp=before_batch) == [b"two", b"three"]
    latest = kinesis.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType="LATEST")
    empty = kinesis.get_records(ShardIterator=latest["ShardIterator"])
    assert empty["Records"] == [] and empty["MillisBehindLatest"] == 0
    kinesis.put_record(StreamName=name, PartitionKey="p", Data=b"four")
    after = kinesis.get_records(ShardIterator=empty["NextShardIterator"])
    assert [r["Data"] for r in after["Records"]] == [b"four"]
    record = after["Records"][0]
    assert record["PartitionKey"] == "p"
    assert abs(record["ApproximateArrivalTimestamp"].timestamp() - time.time()) < 60


def test_paging_get_records_to_the_tip_brings_millis_behind_latest_to_zero(kinesis):
    name = unique("tip")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    for i in range(4):
        kinesis.put_records(StreamName=name, Records=[{"PartitionKey": str(j), "Data": f"{i}-{j}".encode()} for j in range(25)])
    time.sleep(0.05)  # not synchronisation: the records must be measurably old for a lag > 0
    iterator = kinesis.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON")
    records, lags, _ = read_all(kinesis, iterator["ShardIterator"], limit=30)
    assert len(records) == 100
    assert lags[0] > 0, lags
    assert lags[-1] == 0, lags


def test_throttled_entries_fail_alone_and_succeed_when_retried(kinesis):
    name = unique("throttle")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    # 500 records of 4 KiB are 2 MiB: twice one shard's 1 MiB per second.
    records = [{"PartitionKey": f"k{i}", "Data": bytes([65 + i % 26]) * 4096} for i in range(500)]
    answer = kinesis.put_records(StreamName=name, Records=records)
    assert 0 < answer["FailedRecordCount"] < 500
    failed = [i for i, r in enumerate(answer["Records"]) if "ErrorCode" in r]
    assert len(failed) == answer["FailedRecordCount"]
    entry = answer["Records"][failed[0]]
    assert entry["ErrorCode"] == "ProvisionedThroughputExceededException"
    assert entry["ErrorMessage"] == f"Rate exceeded for shard shardId-000000000000 in stream {name} under account 000000000000."
    assert "SequenceNumber" not in entry
    pending = failed
    deadline = time.monotonic() + DEADLINE_SECONDS
    backoff = 0.1
    while pending and time.monotonic() < deadline:
        time.sleep(backoff)  # the producer's retry backoff, as the Kinesis docs advise
        retry = kinesis.put_records(StreamName=name, Records=[records[i] for i in pending])
        pending = [i for i, r in zip(pending, retry["Records"]) if "ErrorCode" in r]
        backoff = min(backoff * 2, 1.0)
    assert pending == [], "throttled records were never accepted"
    iterator = kinesis.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON")
    stored, _, _ = read_all(kinesis, iterator["ShardIterator"])
    assert sorted(r["PartitionKey"] for r in stored) == sorted(r["PartitionKey"] for r in records)


def test_retention_and_tags(kinesis):
    name = unique("meta")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    def retention():
        return kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["RetentionPeriodHours"]

    kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=48)
    assert retention() == 48
    code, message, _ = error_of(kinesis.decrease_stream_retention_period, StreamName=name, RetentionPeriodHours=72)
    assert code == "InvalidArgumentException" and "Use IncreaseRetentionPeriod API." in message
    assert retention() == 48, "a refused decrease changes nothing"
    kinesis.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=24)
    assert retention() == 24
    kinesis.add_tags_to_stream(StreamName=name, Tags={"team": "red", "env": "test"})
    tags = kinesis.list_tags_for_stream(StreamName=name)
    assert tags["Tags"] == [{"Key": "env", "Value": "test"}, {"Key": "team", "Value": "red"}]
    kinesis.remove_tags_from_stream(StreamName=name, TagKeys=["env"])
    assert kinesis.list_tags_for_stream(StreamName=name)["Tags"] == [{"Key": "team", "Value": "red"}]


def test_each_kind_of_bad_request_gets_the_documented_error(kinesis):
    name = unique("bad")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    code, message, status = error_of(kinesis.put_record, StreamName="no-such-stream", PartitionKey="p", Data=b"x")
    assert (code, status) == ("ResourceNotFoundException", 400)
    # Client-side validation would stop these before the wire; the server's own checks are
    # what is tested, so turn it off.
    raw = client(config=botocore.config.Config(parameter_validation=False, retries={"max_attempts": 1}))
    code, message, status = error_of(raw.put_record, StreamName=name, PartitionKey="", Data=b"x")
    assert (code, status) == ("ValidationException", 400)
    assert message == ("1 validation error detected: Value '' at 'partitionKey' failed to satisfy constraint: "
                       "Member must have length greater than or equal to 1")
    code, message, _ = error_of(raw.create_stream, StreamName="bad name", ShardCount=0)
    assert code == "ValidationException" and message.startswith("2 validation errors detected: ")
    code, _, _ = error_of(kinesis.get_shard_iterator, StreamName=name, ShardId="shardId-000000000007", ShardIteratorType="LATEST")
    assert code == "ResourceNotFoundException"
    code, message, _ = error_of(kinesis.get_shard_iterator, StreamName=name, ShardId="shardId-000000000000", ShardIteratorType="AT_SEQUENCE_NUMBER")
    assert code == "InvalidArgumentException"
    code, message, _ = error_of(kinesis.get_shard_iterator, StreamName=name, ShardId="shardId-000000000000", ShardIteratorType="AT_TIMESTAMP")
    assert code == "InvalidArgumentException" and "AT_TIMESTAMP" in message
    code, message, _ = error_of(kinesis.get_records, ShardIterator="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    assert (code, message) == ("InvalidArgumentException", "Invalid ShardIterator.")
    code, _, _ = error_of(raw.put_records, StreamName=name, Records=[])
    assert code == "ValidationException"
    code, _, _ = error_of(kinesis.delete_stream, StreamName="alleycat")
    assert code == "ResourceInUseException"


def test_wrong_credentials_and_a_bad_signature_are_refused(kinesis):
    stranger = client(aws_access_key_id="AKIDSOMEONEELSE")
    code, message, status = error_of(stranger.list_streams)
    assert (code, status) == ("UnrecognizedClientException", 400)
    assert message == "The security token included in the request is invalid."
    wrong_secret = client(aws_secret_access_key="not-the-secret")
    code, message, status = error_of(wrong_secret.list_streams)
    assert (code, status) == ("InvalidSignatureException", 400)
    assert message.startswith("The request signature we calculated does not match the signature you provided.")
    # An unsigned request, as a client without credentials would send it.
    unsigned = client(config=botocore.config.Config(signature_version=botocore.UNSIGNED, retries={"max_attempts": 1}))
    code, message, status = error_of(unsigned.list_streams)
    assert (code, message, status) == ("MissingAuthenticationTokenException", "Missing Authentication Token", 400)


def aws_cli(*args):
    env = dict(os.environ, AWS_DEFAULT_REGION=REGION, AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent", AWS_EC2_METADATA_DISABLED="true")
    aws = os.path.join(os.path.dirname(sys.executable), "aws")
    done = subprocess.run([aws, "kinesis", *args, "--endpoint-url", ENDPOINT, "--output", "json"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


def test_the_aws_cli_puts_a_record_and_reads_it_back(kinesis):
    name = unique("cli")
    aws_cli("create-stream", "--stream-name", name, "--shard-count", "1")
    put = aws_cli("put-record", "--stream-name", name, "--partition-key", "racer-7", "--data", "hello from the cli")
    assert put["ShardId"] == "shardId-000000000000"
    iterator = aws_cli("get-shard-iterator", "--stream-name", name, "--shard-id", put["ShardId"],
                       "--shard-iterator-type", "AT_SEQUENCE_NUMBER", "--starting-sequence-number", put["SequenceNumber"])
    records = aws_cli("get-records", "--shard-iterator", iterator["ShardIterator"])["Records"]
    assert [base64.b64decode(r["Data"]) for r in records] == [b"hello from the cli"]
    assert records[0]["PartitionKey"] == "racer-7"


def stream_arn(kinesis, name):
    return kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]


def active_consumer(kinesis, stream, name):
    """Registers consumer `name` on `stream` and waits for it to be ACTIVE, as a KCL does."""
    consumer = kinesis.register_stream_consumer(StreamARN=stream_arn(kinesis, stream), ConsumerName=name)["Consumer"]
    assert consumer["ConsumerStatus"] in ("CREATING", "ACTIVE")
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        described = kinesis.describe_stream_consumer(ConsumerARN=consumer["ConsumerARN"])["ConsumerDescription"]
        if described["ConsumerStatus"] == "ACTIVE":
            return consumer["ConsumerARN"]
        time.sleep(0.1)  # polling the documented way, with a deadline
    raise AssertionError(f"consumer {name} did not become ACTIVE")


def pushed_records(events, count):
    """Reads SubscribeToShardEvents until `count` records came; returns them and the last event."""
    records, last = [], None
    deadline = time.monotonic() + DEADLINE_SECONDS
    for event in events:
        last = event["SubscribeToShardEvent"]
        records += last["Records"]
        if len(records) >= count or time.monotonic() > deadline:
            break
    assert len(records) == count, f"{len(records)} of {count} records pushed"
    return records, last


def test_subscribe_to_shard_pushes_records_put_after_it_subscribed_and_resumes_from_the_continuation(kinesis):
    name = unique("efo")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    first = active_consumer(kinesis, name, "boto3-first")
    shard = "shardId-000000000000"
    subscription = kinesis.subscribe_to_shard(ConsumerARN=first, ShardId=shard, StartingPosition={"Type": "LATEST"})
    events = subscription["EventStream"]
    kinesis.put_records(StreamName=name, Records=[{"PartitionKey": "p", "Data": d} for d in (b"a", b"b", b"c")])
    records, last = pushed_records(events, 3)
    assert [r["Data"] for r in records] == [b"a", b"b", b"c"]
    assert last["ContinuationSequenceNumber"] == records[-1]["SequenceNumber"]
    assert last["MillisBehindLatest"] == 0
    # The same consumer on the same shard again within five seconds: refused, as in Kinesis.
    code, _, status = error_of(kinesis.subscribe_to_shard, ConsumerARN=first, ShardId=shard,
                               StartingPosition={"Type": "LATEST"})
    assert (code, status) == ("ResourceInUseException", 400)
    events.close()

    kinesis.put_records(StreamName=name, Records=[{"PartitionKey": "p", "Data": d} for d in (b"d", b"e")])
    # Another consumer resumes exactly after the continuation: nothing lost, nothing twice.
    second = active_consumer(kinesis, name, "boto3-second")
    resumed = kinesis.subscribe_to_shard(ConsumerARN=second, ShardId=shard, StartingPosition={
        "Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": last["ContinuationSequenceNumber"]})
    records, _ = pushed_records(resumed["EventStream"], 2)
    assert [r["Data"] for r in records] == [b"d", b"e"]
    resumed["EventStream"].close()

    consumers = kinesis.list_stream_consumers(StreamARN=stream_arn(kinesis, name))["Consumers"]
    assert [c["ConsumerName"] for c in consumers] == ["boto3-first", "boto3-second"]
    code, _, _ = error_of(kinesis.delete_stream, StreamName=name)
    assert code == "ResourceInUseException"
    kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)


def test_the_aws_cli_registers_lists_and_deregisters_consumers(kinesis):
    name = unique("cli-efo")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    arn = stream_arn(kinesis, name)
    registered = aws_cli("register-stream-consumer", "--stream-arn", arn, "--consumer-name", "cli-reader")["Consumer"]
    assert registered["ConsumerARN"].startswith(f"{arn}/consumer/cli-reader:")
    listed = aws_cli("list-stream-consumers", "--stream-arn", arn)["Consumers"]
    assert [(c["ConsumerName"], c["ConsumerStatus"]) for c in listed] == [("cli-reader", "ACTIVE")]
    described = aws_cli("describe-stream-consumer", "--consumer-arn", registered["ConsumerARN"])
    assert described["ConsumerDescription"]["StreamARN"] == arn
    aws_cli("deregister-stream-consumer", "--consumer-arn", registered["ConsumerARN"])
    assert aws_cli("list-stream-consumers", "--stream-arn", arn)["Consumers"] == []


def test_subscribe_to_shard_ends_a_split_shard_with_its_child_shards(kinesis):
    name = unique("split")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    reader = active_consumer(kinesis, name, "boto3-split")
    parent = "shardId-000000000000"
    subscription = kinesis.subscribe_to_shard(ConsumerARN=reader, ShardId=parent,
                                              StartingPosition={"Type": "TRIM_HORIZON"})
    events = subscription["EventStream"]
    kinesis.put_record(StreamName=name, PartitionKey="p", Data=b"before the split")
    records, _ = pushed_records(events, 1)
    assert [r["Data"] for r in records] == [b"before the split"]
    kinesis.split_shard(StreamName=name, ShardToSplit=parent, NewStartingHashKey=str(2 ** 127))
    # The parent's subscription ends with its children, and no continuation.
    deadline = time.monotonic() + DEADLINE_SECONDS
    last = None
    for event in events:
        last = event["SubscribeToShardEvent"]
        if last.get("ChildShards") or time.monotonic() > deadline:
            break
    assert [c["ShardId"] for c in last["ChildShards"]] == ["shardId-000000000001", "shardId-000000000002"]
    assert all(c["ParentShards"] == [parent] for c in last["ChildShards"])
    assert "ContinuationSequenceNumber" not in last
    events.close()
    # A later record goes to a child; the parent is closed with an ending sequence number.
    put = kinesis.put_record(StreamName=name, PartitionKey="p", Data=b"after the split")
    assert put["ShardId"] != parent
    shards = kinesis.list_shards(StreamName=name)["Shards"]
    assert shards[0]["SequenceNumberRange"]["EndingSequenceNumber"] == records[0]["SequenceNumber"]
    assert [s.get("ParentShardId") for s in shards] == [None, parent, parent]


def test_the_aws_cli_splits_merges_and_updates_the_shard_count(kinesis):
    name = unique("cli-reshard")
    aws_cli("create-stream", "--stream-name", name, "--shard-count", "2")
    first, second = "shardId-000000000000", "shardId-000000000001"
    aws_cli("merge-shards", "--stream-name", name, "--shard-to-merge", first, "--adjacent-shard-to-merge", second)
    merged = aws_cli("list-shards", "--stream-name", name, "--shard-filter", "Type=AT_LATEST")["Shards"]
    assert [(s["ShardId"], s["ParentShardId"], s["AdjacentParentShardId"]) for s in merged] == [
        ("shardId-000000000002", first, second)]
    aws_cli("split-shard", "--stream-name", name, "--shard-to-split", "shardId-000000000002",
            "--new-starting-hash-key", str(2 ** 127))
    updated = aws_cli("update-shard-count", "--stream-name", name, "--target-shard-count", "4",
                      "--scaling-type", "UNIFORM_SCALING")
    assert (updated["CurrentShardCount"], updated["TargetShardCount"]) == (2, 4)
    summary = aws_cli("describe-stream-summary", "--stream-name", name)["StreamDescriptionSummary"]
    assert (summary["OpenShardCount"], summary["StreamStatus"]) == (4, "ACTIVE")
    everything = aws_cli("list-shards", "--stream-name", name)["Shards"]
    closed = [s["ShardId"] for s in everything if "EndingSequenceNumber" in s["SequenceNumberRange"]]
    assert closed[:3] == [first, second, "shardId-000000000002"]


def test_the_other_actions_answer_as_kinesis_does(kinesis):
    name = unique("settings")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    arn = stream_arn(kinesis, name)
    limits = kinesis.describe_limits()
    assert limits["ShardLimit"] >= limits["OpenShardCount"] >= 1
    assert kinesis.describe_account_settings()["MinimumThroughputBillingCommitment"]["Status"] in (
        "ENABLED", "DISABLED", "ENABLED_UNTIL_EARLIEST_ALLOWED_END")
    monitoring = kinesis.enable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=["IncomingBytes"])
    assert monitoring["DesiredShardLevelMetrics"] == ["IncomingBytes"]
    kinesis.start_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId="alias/aws/kinesis")
    assert kinesis.put_record(StreamName=name, PartitionKey="p", Data=b"x")["EncryptionType"] == "KMS"
    kinesis.stop_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId="alias/aws/kinesis")
    kinesis.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    warm = kinesis.update_stream_warm_throughput(StreamARN=arn, WarmThroughputMiBps=64)
    assert warm["WarmThroughput"] == {"TargetMiBps": 64, "CurrentMiBps": 64}
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["StreamModeDetails"]["StreamMode"] == "ON_DEMAND" and summary["EncryptionType"] == "NONE"
    kinesis.update_max_record_size(StreamARN=arn, MaxRecordSizeInKiB=1024)
    kinesis.tag_resource(ResourceARN=arn, Tags={"k": "v"})
    assert kinesis.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
    kinesis.untag_resource(ResourceARN=arn, TagKeys=["k"])
    policy = json.dumps({"Version": "2012-10-17", "Statement": []})
    kinesis.put_resource_policy(ResourceARN=arn, Policy=policy)
    assert kinesis.get_resource_policy(ResourceARN=arn)["Policy"] == policy
    kinesis.delete_resource_policy(ResourceARN=arn)

def server_race_now():
    """The race running on the server's clock and its second, from GET /api/config."""
    with urllib.request.urlopen(f"{os.environ['ALLEYCAT_URL']}/api/config", timeout=5) as response:
        config = json.load(response)
    race_ms = config["raceSeconds"] * 1000
    now_ms = config["serverTimeMs"]
    return now_ms, now_ms // race_ms, (now_ms % race_ms) // 1000 + 1


def test_a_racer_event_put_into_stream_alleycat_reaches_the_race_results(kinesis):
    base = os.environ["ALLEYCAT_URL"]
    now_ms, race, _ = server_race_now()
    past_race = race - 1
    racer, class_id = 7, 3
    events = [{
        "uuid": str(uuid.uuid4()), "event": "update", "deviceTimestamp": now_ms,
        "second": second, "raceId": past_race, "racerId": racer, "classId": class_id,
        "cadence": 80.0, "resistance": 50.0,
    } for second in (1, 2, 3)]
    answer = kinesis.put_records(StreamName="alleycat", Records=[
        {"PartitionKey": str(racer), "Data": json.dumps(e).encode()} for e in events])
    assert answer["FailedRecordCount"] == 0
    deadline = time.monotonic() + DEADLINE_SECONDS
    results = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/api/races/{past_race}?classId={class_id}", timeout=5) as response:
                results = json.load(response)["results"]
                if results:
                    break
        except urllib.error.HTTPError as error:
            assert error.code == 404, error
        time.sleep(0.1)  # polling the public API for the pipeline's result, with a deadline
    assert results, "the event never reached the race results"
    assert results[0]["racerId"] == racer and results[0]["seconds"] == 3
    with urllib.request.urlopen(f"{base}/api/history/class-{class_id}.gz", timeout=5) as response:
        assert response.status == 200 and len(response.read()) > 0


def test_records_that_are_not_racer_events_land_in_processing_failed_with_firehose_fields(kinesis):
    marker = uuid.uuid4().hex
    bad = [b"not json " + marker.encode(), json.dumps({"marker": marker, "classId": 9}).encode()]
    answer = kinesis.put_records(StreamName="alleycat", Records=[
        {"PartitionKey": "garbage", "Data": data} for data in bad])
    assert answer["FailedRecordCount"] == 0
    root = os.path.join(os.environ["ALLEYCAT_DATA_DIR"], "processing-failed")
    deadline = time.monotonic() + DEADLINE_SECONDS
    found = {}
    while time.monotonic() < deadline and len(found) < len(bad):
        for folder, _, files in os.walk(root):
            for name in files:
                with gzip.open(os.path.join(folder, name), "rt") as f:
                    for line in f:
                        record = json.loads(line)
                        if marker.encode() in base64.b64decode(record["rawData"]):
                            found[record["sequenceNumber"]] = record
        time.sleep(0.1)  # polling the delivered objects for delivery's next flush, with a deadline
    assert len(found) == len(bad), f"only {len(found)} of {len(bad)} under processing-failed/"
    raw = sorted(base64.b64decode(r["rawData"]) for r in found.values())
    assert raw == sorted(bad)
    for record in found.values():
        assert record["attemptsMade"] == 1
        assert record["errorCode"] and record["errorMessage"]
        assert record["arrivalTimestamp"] <= record["attemptEndingTimestamp"]
        assert record["shardId"].startswith("shardId-")
    # The stream's own sequence numbers, as PutRecords answered them (the delivered records
    # write them zero-padded to 39 digits, so that they sort as strings).
    assert sorted(map(int, found)) == sorted(int(r["SequenceNumber"]) for r in answer["Records"])


def test_a_racer_event_put_through_kinesis_shows_on_the_here_now_board(kinesis):
    racer, class_id = 42, 4
    socket = websocket.create_connection(
        os.environ["ALLEYCAT_URL"].replace("http://", "ws://") + f"/api/live?classId={class_id}",
        timeout=5)
    try:
        first = json.loads(socket.recv())
        assert first["classId"] == class_id, first
        # The board shows the running race only: should a race end between the put and the
        # board (once an hour with hour-long races), ride the new one instead. Two tries.
        for _ in range(2):
            now_ms, race, second = server_race_now()
            event = {
                "uuid": str(uuid.uuid4()), "event": "update", "deviceTimestamp": now_ms,
                "second": second, "raceId": race, "racerId": racer, "classId": class_id,
                "cadence": 90.0, "resistance": 50.0,
            }
            kinesis.put_record(StreamName="alleycat", PartitionKey=str(racer), Data=json.dumps(event))
            deadline = time.monotonic() + DEADLINE_SECONDS
            while time.monotonic() < deadline:
                ranking = json.loads(socket.recv())
                if ranking["raceId"] > race:
                    break
                mine = [e for e in ranking["entries"] if e["racerId"] == racer]
                if mine and ranking["raceId"] == race:
                    assert mine[0]["total"] == 143.75  # (90 + 35) * (50 + 65) / 100
                    return
            else:
                raise AssertionError("the event never showed on the here-now board")
        raise AssertionError("two races ended while the event was on its way to the board")
    finally:
        socket.close()
