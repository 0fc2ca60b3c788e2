// Benchmark: the all-time history of one class (6,667 racers x 300 s) made ready to rank in the
// browser (download over loopback, gunzip, decode, index), its memory, one ranking step, and the
// release .wasm's gzipped size. Prints one JSON line per figure; BENCHMARKS.md records them.
//
// Needs the history file and both builds of the app first (BENCHMARKS.md, App):
//   cargo run -p alleycat-app --example seed_history --target x86_64-unknown-linux-gnu -- \
//     /tmp/alleycat-bench-class-3.gz
//   scripts/build-app.sh && scripts/build-app.sh --bench
// The server serves dist-bench/ (the app with the benchmark's probes, cargo feature `bench`);
// the .wasm size is the production build's, in dist/.
import { expect, test } from '@playwright/test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { createRacer, pickClassAndStart } from '../helpers/app';
import { Server } from '../helpers/server';

const seeded = process.env.ALLEYCAT_BENCH_HISTORY ?? '/tmp/alleycat-bench-class-3.gz';
const runs = Number(process.env.ALLEYCAT_BENCH_RUNS ?? 7);
const root = path.resolve(__dirname, '../../..');
const benchDist = process.env.ALLEYCAT_BENCH_DIST ?? path.join(root, 'dist-bench');
const server = new Server(Number(process.env.ALLEYCAT_BENCH_PORT ?? 3937), 300, benchDist);

test.beforeAll(async () => {
  if (!fs.existsSync(path.join(benchDist, 'index.html'))) {
    throw new Error(`${benchDist} has no app: build it with scripts/build-app.sh --bench`);
  }
  // The object store's root is the data directory: history files live in `<data>/history/`.
  fs.mkdirSync(path.join(server.dataDir, 'history'), { recursive: true });
  fs.copyFileSync(seeded, path.join(server.dataDir, 'history', 'class-3.gz'));
  await server.start();
});
test.afterAll(async () => server.stop());

function median(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

test('history ready to rank, memory and one ranking step', async ({ browser }) => {
  const totals: number[] = [];
  const downloads: number[] = [];
  const decodes: number[] = [];
  const memories: number[] = [];
  const steps: number[] = [];
  const fetchOnly: number[] = [];
  const gunzips: number[] = [];
  const decodesAgain: number[] = [];
  let racers = 0;
  let bytes = 0;
  for (let i = 0; i < runs; i++) {
    // A fresh context each run: nothing cached, a fresh WebAssembly memory.
    const context = await browser.newContext();
    const page = await context.newPage();
    await createRacer(page, { name: 'Bench Rider', url: `${server.url}/?bench` });
    await pickClassAndStart(page, 'Gravel');
    await page.waitForFunction(
      () => (window as any).__alleycatStep !== undefined && (window as any).__alleycatDecode !== undefined,
      null,
      { timeout: 60_000 },
    );
    const h = await page.evaluate(() => (window as any).__alleycatHistory);
    // The floor for the download: the same file fetched by JavaScript alone.
    fetchOnly.push(
      await page.evaluate(async () => {
        const t0 = performance.now();
        await (await fetch('/api/history/class-3.gz', { cache: 'no-store' })).arrayBuffer();
        return performance.now() - t0;
      }),
    );
    const s = await page.evaluate(() => (window as any).__alleycatStep);
    const d = await page.evaluate(() => (window as any).__alleycatDecode);
    gunzips.push(d.gunzipMs);
    decodesAgain.push(d.decodeAgainMs);
    totals.push(h.totalMs);
    downloads.push(h.downloadMs);
    decodes.push(h.decodeMs);
    memories.push(h.wasmMemoryBytes);
    steps.push(s.meanMs);
    racers = h.racers;
    bytes = h.bytes;
    await context.close();
  }
  const dist = process.env.ALLEYCAT_E2E_DIST ?? path.join(root, 'dist');
  const wasm = fs.readdirSync(dist).find((f) => f.endsWith('.wasm'))!;
  const wasmBytes = fs.readFileSync(path.join(dist, wasm));
  const result = {
    racers,
    historyBytes: bytes,
    runs,
    readyMsMedian: median(totals),
    readyMsAll: totals.map((x) => Math.round(x)),
    downloadMsMedian: median(downloads),
    jsFetchOnlyMsMedian: median(fetchOnly),
    decodeMsMedian: median(decodes),
    decodeAgainMsMedian: median(decodesAgain),
    ofWhichGunzipMsMedian: median(gunzips),
    wasmMemoryMBMedian: median(memories) / (1024 * 1024),
    stepMsMedian: median(steps),
    wasmBytes: wasmBytes.length,
    wasmGzipBytes: zlib.gzipSync(wasmBytes, { level: 9 }).length,
  };
  console.log(JSON.stringify(result));
  expect(racers).toBe(6667);
});
