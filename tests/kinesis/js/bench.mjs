// PutRecords throughput through the Kinesis API with @aws-sdk/client-kinesis: 500-record
// batches of ~200-byte racer events, at each concurrency, against one endpoint.
//
//   node bench.mjs --endpoint http://127.0.0.1:4567 [--seconds 10] [--concurrency 1,8,32]
//                  [--shards 4] [--label alleycat] [--server-pid PID]
//
// Prints one JSON line per concurrency: records/s acknowledged, p50/p99 latency of the PutRecords
// calls in ms, the client's own CPU (% of one core, µs per record) and, given --server-pid, the
// server's (utime + stime of /proc/PID/stat over the run, µs per record acknowledged: unlike
// records/s and latency, robust to other work on the machine). Credentials come from
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
// scripts/bench-kinesis.sh runs it against Alleycat, kinesalite and ferrokinesis in one sitting.
import { KinesisClient, CreateStreamCommand, DescribeStreamSummaryCommand, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Agent } from 'node:http';
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';

const { values: args } = parseArgs({
  options: {
    endpoint: { type: 'string' },
    seconds: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '1,8,32' },
    shards: { type: 'string', default: '4' },
    label: { type: 'string', default: 'endpoint' },
    'server-pid': { type: 'string' },
  },
});

const CLOCK_TICKS_PER_S = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
/** The server's CPU time so far (user + system, all its threads) in µs, or null without a pid. */
function serverCpuUs() {
  if (!args['server-pid']) return null;
  const stat = readFileSync(`/proc/${args['server-pid']}/stat`, 'utf8');
  // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS_PER_S;
}

const client = new KinesisClient({
  endpoint: args.endpoint,
  region: 'us-east-1',
  maxAttempts: 1,
  // Kinesis' client defaults to HTTP/2 (for SubscribeToShard); PutRecords producers use
  // HTTP/1.1 keep-alive connections, one per concurrent call.
  requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: 64 }) }),
  credentials: {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'AKIDALLEYCATLOCAL',
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'alleycat-local-secret',
  },
});

const encoder = new TextEncoder();
/** A racer event of about 200 bytes, as the app sends it. */
function event(racer, second) {
  return encoder.encode(JSON.stringify({
    uuid: randomUUID(), event: 'update', deviceTimestamp: Date.now(), second, raceId: 6000000,
    racerId: racer, classId: 1 + (racer % 6), cadence: 80.5, resistance: 55.25,
  }));
}

function batch(n) {
  const records = [];
  for (let i = 0; i < 500; i++) {
    const racer = 1 + ((n * 500 + i) % 40000);
    records.push({ PartitionKey: String(racer), Data: event(racer, 1 + (n % 300)) });
  }
  return records;
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function run(stream, concurrency, seconds) {
  const end = performance.now() + seconds * 1000;
  const latencies = [];
  let ok = 0;
  let failed = 0;
  let n = 0;
  async function worker() {
    while (performance.now() < end) {
      const records = batch(n++);
      const started = performance.now();
      const answer = await client.send(new PutRecordsCommand({ StreamName: stream, Records: records }));
      latencies.push(performance.now() - started);
      failed += answer.FailedRecordCount ?? 0;
      ok += records.length - (answer.FailedRecordCount ?? 0);
    }
  }
  const started = performance.now();
  const cpu = process.cpuUsage();
  const serverCpu = serverCpuUs();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - started) / 1000;
  const { user, system } = process.cpuUsage(cpu);
  const serverUs = serverCpu === null ? null : serverCpuUs() - serverCpu;
  latencies.sort((a, b) => a - b);
  return {
    label: args.label, concurrency, seconds: +elapsed.toFixed(2), calls: latencies.length,
    records_per_s: Math.round(ok / elapsed), failed,
    p50_ms: +percentile(latencies, 50).toFixed(1), p99_ms: +percentile(latencies, 99).toFixed(1),
    // The SDK's own cost: what one client process needs per record, whatever the server.
    client_cpu_pct: Math.round((100 * (user + system)) / 1e6 / elapsed),
    client_cpu_us_per_record: +((user + system) / Math.max(ok, 1)).toFixed(2),
    ...(serverUs === null ? {} : {
      server_cpu_pct: Math.round((100 * serverUs) / 1e6 / elapsed),
      server_cpu_us_per_record: +(serverUs / Math.max(ok, 1)).toFixed(2),
    }),
    loadavg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
  };
}

const stream = `bench-${Date.now()}`;
await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: Number(args.shards) }));
for (let i = 0; ; i++) {
  const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
  if (summary.StreamDescriptionSummary.StreamStatus === 'ACTIVE') break;
  if (i > 100) throw new Error(`stream ${stream} never became ACTIVE`);
  await new Promise((resolve) => setTimeout(resolve, 100)); // kinesalite creates streams asynchronously
}
// One warm-up call, so connection set-up is not timed.
await client.send(new PutRecordsCommand({ StreamName: stream, Records: batch(0) }));
for (const concurrency of args.concurrency.split(',').map(Number)) {
  console.log(JSON.stringify(await run(stream, concurrency, Number(args.seconds))));
}
