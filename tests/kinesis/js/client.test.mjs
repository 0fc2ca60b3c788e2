// Alleycat's Kinesis API through @aws-sdk/client-kinesis, configured only with the endpoint
// and credentials (KINESIS_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY). Run by
// tests/tests/kinesis_clients.rs against a server started with --throttle.
import {
  KinesisClient, CreateStreamCommand, DescribeStreamCommand, ListShardsCommand, PutRecordCommand,
  PutRecordsCommand, GetShardIteratorCommand, GetRecordsCommand, ListStreamsCommand,
  DescribeStreamSummaryCommand, RegisterStreamConsumerCommand, DescribeStreamConsumerCommand,
  SubscribeToShardCommand,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler, NodeHttp2Handler } from '@smithy/node-http-handler';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';

const DEADLINE_MS = 30_000;

function client(credentials = {}) {
  return new KinesisClient({
    endpoint: process.env.KINESIS_ENDPOINT,
    region: 'eu-west-1',
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler(),
    credentials: {
      accessKeyId: process.env.AWS_ACCESS_KEY_ID,
      secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
      ...credentials,
    },
  });
}

const kinesis = client();
const text = (bytes) => new TextDecoder().decode(bytes);
const bytes = (s) => new TextEncoder().encode(s);

async function created(shards) {
  const name = `js-${randomUUID().slice(0, 8)}`;
  await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  return name;
}

async function failure(command, via = kinesis) {
  try {
    await via.send(command);
  } catch (error) {
    return error;
  }
  assert.fail('the call should have failed');
}

async function readToTip(iterator, limit) {
  const records = [];
  const lags = [];
  const deadline = Date.now() + DEADLINE_MS;
  while (Date.now() < deadline) {
    const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }));
    records.push(...page.Records);
    lags.push(page.MillisBehindLatest);
    iterator = page.NextShardIterator;
    if (page.MillisBehindLatest === 0 && page.Records.length < (limit ?? Infinity)) return { records, lags };
  }
  assert.fail(`GetRecords did not reach the tip: ${lags}`);
}

test('a stream is created, described, listed and paged by shard', async () => {
  const name = await created(3);
  const { StreamDescription: d } = await kinesis.send(new DescribeStreamCommand({ StreamName: name }));
  assert.equal(d.StreamStatus, 'ACTIVE');
  assert.equal(d.Shards.length, 3);
  assert.ok(d.StreamCreationTimestamp instanceof Date);
  const { StreamNames } = await kinesis.send(new ListStreamsCommand({}));
  assert.ok(StreamNames.includes(name) && StreamNames.includes('alleycat'));
  const first = await kinesis.send(new ListShardsCommand({ StreamName: name, MaxResults: 2 }));
  const second = await kinesis.send(new ListShardsCommand({ NextToken: first.NextToken }));
  assert.deepEqual([...first.Shards, ...second.Shards].map((s) => s.ShardId),
    ['shardId-000000000000', 'shardId-000000000001', 'shardId-000000000002']);
  assert.equal(second.NextToken, undefined);
});

test('records put one by one and in batches are read with every iterator type', async () => {
  const name = await created(1);
  const ShardId = 'shardId-000000000000';
  const one = await kinesis.send(new PutRecordCommand({ StreamName: name, PartitionKey: 'p', Data: bytes('one') }));
  const batch = await kinesis.send(new PutRecordsCommand({
    StreamName: name,
    Records: [{ PartitionKey: 'p', Data: bytes('two') }, { PartitionKey: 'q', Data: bytes('three') }],
  }));
  assert.equal(batch.FailedRecordCount, 0);
  const seq = batch.Records[0].SequenceNumber;
  const read = async (type, extra = {}) => {
    const { ShardIterator } = await kinesis.send(new GetShardIteratorCommand({ StreamName: name, ShardId, ShardIteratorType: type, ...extra }));
    return (await readToTip(ShardIterator)).records.map((r) => text(r.Data));
  };
  assert.deepEqual(await read('TRIM_HORIZON'), ['one', 'two', 'three']);
  assert.deepEqual(await read('AT_SEQUENCE_NUMBER', { StartingSequenceNumber: one.SequenceNumber }), ['one', 'two', 'three']);
  assert.deepEqual(await read('AFTER_SEQUENCE_NUMBER', { StartingSequenceNumber: seq }), ['three']);
  assert.deepEqual(await read('AT_TIMESTAMP', { Timestamp: new Date(0) }), ['one', 'two', 'three']);
  assert.deepEqual(await read('LATEST'), []);
});

test('paging GetRecords to the tip brings MillisBehindLatest to 0', async () => {
  const name = await created(1);
  for (let i = 0; i < 3; i++) {
    await kinesis.send(new PutRecordsCommand({
      StreamName: name, Records: Array.from({ length: 20 }, (_, j) => ({ PartitionKey: `${j}`, Data: bytes(`${i}-${j}`) })),
    }));
  }
  await new Promise((resolve) => setTimeout(resolve, 20)); // not synchronisation: the records must be measurably old
  const { ShardIterator } = await kinesis.send(new GetShardIteratorCommand({ StreamName: name, ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }));
  const { records, lags } = await readToTip(ShardIterator, 25);
  assert.equal(records.length, 60);
  assert.ok(lags[0] > 0, `${lags}`);
  assert.equal(lags.at(-1), 0);
});

test('throttled records fail one by one and are accepted when retried', async () => {
  const name = await created(1);
  const records = Array.from({ length: 500 }, (_, i) => ({ PartitionKey: `k${i}`, Data: new Uint8Array(4096).fill(65) }));
  const answer = await kinesis.send(new PutRecordsCommand({ StreamName: name, Records: records }));
  assert.ok(answer.FailedRecordCount > 0 && answer.FailedRecordCount < 500);
  const rejected = answer.Records.find((r) => r.ErrorCode);
  assert.equal(rejected.ErrorCode, 'ProvisionedThroughputExceededException');
  assert.equal(rejected.ErrorMessage, `Rate exceeded for shard shardId-000000000000 in stream ${name} under account 000000000000.`);
  let pending = records.filter((_, i) => answer.Records[i].ErrorCode);
  let backoff = 100;
  const deadline = Date.now() + DEADLINE_MS;
  while (pending.length && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, backoff)); // the producer's retry backoff
    const retry = await kinesis.send(new PutRecordsCommand({ StreamName: name, Records: pending }));
    pending = pending.filter((_, i) => retry.Records[i].ErrorCode);
    backoff = Math.min(backoff * 2, 1000);
  }
  assert.equal(pending.length, 0);
});

test('bad requests and bad credentials get the documented errors', async () => {
  let error = await failure(new DescribeStreamCommand({ StreamName: 'no-such-stream' }));
  assert.equal(error.name, 'ResourceNotFoundException');
  assert.equal(error.$metadata.httpStatusCode, 400);
  assert.equal(error.message, 'Stream no-such-stream under account 000000000000 not found.');
  error = await failure(new GetRecordsCommand({ ShardIterator: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }));
  assert.equal(error.name, 'InvalidArgumentException');
  error = await failure(new GetShardIteratorCommand({ StreamName: 'alleycat', ShardId: 'shardId-000000000000', ShardIteratorType: 'AT_SEQUENCE_NUMBER' }));
  assert.equal(error.name, 'InvalidArgumentException');
  error = await failure(new CreateStreamCommand({ StreamName: 'alleycat', ShardCount: 1 }));
  assert.equal(error.name, 'ResourceInUseException');
  error = await failure(new ListStreamsCommand({}), client({ accessKeyId: 'AKIDSOMEONEELSE' }));
  assert.equal(error.name, 'UnrecognizedClientException');
  error = await failure(new ListStreamsCommand({}), client({ secretAccessKey: 'wrong' }));
  assert.equal(error.name, 'InvalidSignatureException');
});

// SubscribeToShard as the SDK makes it by default: over HTTP/2 (h2c to an http:// endpoint).
const http2 = new KinesisClient({
  endpoint: process.env.KINESIS_ENDPOINT,
  region: 'eu-west-1',
  maxAttempts: 1,
  requestHandler: new NodeHttp2Handler(),
  credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY },
});

async function consumer(stream, name) {
  const { StreamDescriptionSummary: { StreamARN } } = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
  const { Consumer } = await kinesis.send(new RegisterStreamConsumerCommand({ StreamARN, ConsumerName: name }));
  const deadline = Date.now() + DEADLINE_MS;
  while (Date.now() < deadline) {
    const { ConsumerDescription: d } = await kinesis.send(new DescribeStreamConsumerCommand({ ConsumerARN: Consumer.ConsumerARN }));
    if (d.ConsumerStatus === 'ACTIVE') return Consumer.ConsumerARN;
  }
  assert.fail(`consumer ${name} did not become ACTIVE`);
}

/** Reads SubscribeToShardEvents until `count` records came; the records and the last event. */
async function pushed(EventStream, count) {
  const records = [];
  let last;
  const deadline = Date.now() + DEADLINE_MS;
  for await (const event of EventStream) {
    assert.ok(event.SubscribeToShardEvent, `unexpected event ${JSON.stringify(Object.keys(event))}`);
    last = event.SubscribeToShardEvent;
    records.push(...last.Records);
    if (records.length >= count || Date.now() > deadline) break;
  }
  assert.equal(records.length, count);
  return { records, last };
}

test('SubscribeToShard over HTTP/2 pushes records put after it subscribed and resumes from the continuation', async () => {
  const subscriptions = new AbortController();
  try {
    await subscribeAndResume(subscriptions.signal);
  } finally {
    subscriptions.abort(); // the subscriptions would otherwise stream on for five minutes
    http2.destroy();
  }
});

async function subscribeAndResume(abortSignal) {
  const name = await created(1);
  const ShardId = 'shardId-000000000000';
  const first = await consumer(name, 'js-first');
  const { EventStream } = await http2.send(new SubscribeToShardCommand({ ConsumerARN: first, ShardId, StartingPosition: { Type: 'LATEST' } }), { abortSignal });
  await kinesis.send(new PutRecordsCommand({ StreamName: name, Records: ['a', 'b', 'c'].map((d) => ({ PartitionKey: 'p', Data: bytes(d) })) }));
  const { records, last } = await pushed(EventStream, 3);
  assert.deepEqual(records.map((r) => text(r.Data)), ['a', 'b', 'c']);
  assert.equal(last.ContinuationSequenceNumber, records.at(-1).SequenceNumber);
  assert.equal(last.MillisBehindLatest, 0);

  await kinesis.send(new PutRecordsCommand({ StreamName: name, Records: ['d', 'e'].map((d) => ({ PartitionKey: 'p', Data: bytes(d) })) }));
  const second = await consumer(name, 'js-second');
  const resumed = await http2.send(new SubscribeToShardCommand({
    ConsumerARN: second, ShardId, StartingPosition: { Type: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: last.ContinuationSequenceNumber },
  }), { abortSignal });
  const again = await pushed(resumed.EventStream, 2);
  assert.deepEqual(again.records.map((r) => text(r.Data)), ['d', 'e']);
  const error = await failure(new SubscribeToShardCommand({ ConsumerARN: second, ShardId, StartingPosition: { Type: 'LATEST' } }), http2);
  assert.equal(error.name, 'ResourceInUseException');
}
