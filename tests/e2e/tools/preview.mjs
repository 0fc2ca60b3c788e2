// Design preview: the built app (dist/) against a mocked API, screenshotted at several widths.
// For iterating on the look before (or without) a server: `node tools/preview.mjs [outDir]`.
// The mock follows the API's documented shapes (domain/src/api.rs).
import { chromium } from 'playwright-core';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.resolve(here, '../../../dist');
const out = path.resolve(process.argv[2] ?? path.join(here, '../artifacts/preview'));
fs.mkdirSync(out, { recursive: true });
const RACE_SECONDS = 20;
const CLASSES = [
  ['Fixie', 'One gear, no excuses.'], ['Courier', 'Steady legs, long days.'], ['Gravel', 'Grit for the rough stuff.'],
  ['Tempo', 'Hold the line, hold the pace.'], ['Climber', 'Big resistance, bigger hearts.'], ['Sprinter', 'Spin it up and let it fly.'],
].map(([name, tagline], i) => ({ id: i + 1, name, tagline }));
const FIRST = ['Maya', 'Jonas', 'Priya', 'Theo', 'Amara', 'Luca', 'Sofia', 'Kenji', 'Ines', 'Omar', 'Freya', 'Diego', 'Hana', 'Felix', 'Zara'];
const LAST = ['Okafor', 'Lindqvist', 'Moreau', 'Tanaka', 'Silva', 'Novak', 'Haddad', 'Brennan', 'Kowalski', 'Ferreira'];
const nameOf = (id) => `${FIRST[id % FIRST.length]} ${LAST[(id * 7) % LAST.length]}`;
const ME = { id: 4242, name: nameOf(4242), avatarSeed: 4242, simulated: false };
const output = (c, r) => ((c + 35) * (r + 65)) / 100;

// A history file written by the shared codec (app/examples/seed_history.rs), e.g.
// `seed_history /tmp/preview-class-3.gz 5000 20 3 5`.
const historyFile = process.env.ALLEYCAT_PREVIEW_HISTORY ?? '/tmp/preview-class-3.gz';

const server = http.createServer((req, res) => {
  const file = path.join(dist, decodeURIComponent(new URL(req.url, 'http://x').pathname));
  const target = fs.existsSync(file) && fs.statSync(file).isFile() ? file : path.join(dist, 'index.html');
  const type = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css', '.svg': 'image/svg+xml' }[path.extname(target)] ?? 'application/octet-stream';
  res.writeHead(200, { 'Content-Type': type });
  fs.createReadStream(target).pipe(res);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });

async function open({ width, height, scheme = 'dark', missingHistory = false }) {
  const context = await browser.newContext({ viewport: { width, height }, colorScheme: scheme });
  const page = await context.newPage();
  page.on('console', (m) => m.type() === 'error' && console.log(`[${width}px console] ${m.text().slice(0, 800)}`));
  page.on('pageerror', (e) => console.log(`[${width}px page error] ${e.message.slice(0, 800)}`));
  let seq = 1000;
  await page.route('**/api/**', async (route) => {
    const url = new URL(route.request().url());
    const p = url.pathname;
    const json = (body, status = 200) => route.fulfill({ status, contentType: 'application/json', body: JSON.stringify(body) });
    if (p === '/api/config') {
      const now = Date.now();
      const raceMs = RACE_SECONDS * 1000;
      return json({ classes: CLASSES, raceSeconds: RACE_SECONDS, serverTimeMs: now, currentRaceId: Math.floor(now / raceMs), nextRaceStartMs: (Math.floor(now / raceMs) + 1) * raceMs });
    }
    if (p === '/api/racers') return json({ racers: [ME, ...[11, 23, 97, 105].map((id) => ({ id, name: nameOf(id), avatarSeed: id, simulated: true }))] });
    if (p.startsWith('/api/racers/')) { const id = Number(p.split('/').pop()); return json({ id, name: nameOf(id), avatarSeed: id, simulated: true }); }
    if (p === '/api/session') return json({ token: 'preview', racer: ME, expiresAtMs: Date.now() + 3600e3 });
    if (p === '/api/events') {
      const body = route.request().postDataJSON();
      return json({ failedRecordCount: 0, records: body.events.map(() => ({ shardId: `shardId-00000000000${seq % 4}`, sequenceNumber: String(seq++) })) });
    }
    if (p.startsWith('/api/history/')) {
      if (missingHistory) return json({ error: 'not_found', message: 'Class 3 has no history yet.' }, 404);
      return route.fulfill({ status: 200, contentType: 'application/gzip', body: fs.readFileSync(historyFile) });
    }
    if (p === '/api/leaderboard') return json({ classId: 3, entries: Array.from({ length: 12 }, (_, i) => ({ place: i + 1, racerId: i * 5 + 3 === 13 ? ME.id : i * 5 + 3, name: i === 2 ? ME.name : nameOf(i * 5 + 3), raceId: 88_000_000 + i, total: 3600 - i * 110 })) });
    if (p === '/api/races') return json({ races: Array.from({ length: 5 }, (_, i) => ({ raceId: 88_000_100 - i, classId: 3, startedAtMs: Date.now() - (i + 1) * 20_000, racers: 40 - i })) });
    if (p.startsWith('/api/races/')) return json({ raceId: 1, classId: 3, results: Array.from({ length: 10 }, (_, i) => ({ place: i + 1, racerId: i === 3 ? ME.id : 500 + i, name: i === 3 ? ME.name : nameOf(500 + i), seconds: 20, total: 3000 - i * 97.5, best: 190 - i * 3, finalOutput: 150 - i })) });
    return json({ error: 'not_found', message: 'No such API route.' }, 404);
  });
  await page.routeWebSocket(/\/api\/live/, (ws) => {
    let tick = 0;
    const timer = setInterval(() => {
      tick++;
      const entries = Array.from({ length: 60 }, (_, i) => {
        const id = i * 13 + 7;
        const out = 90 + ((id * 31 + tick * (i % 5)) % 100);
        return { racerId: id, name: nameOf(id), output: out, total: out * tick + (60 - i) * 40 };
      });
      entries.push({ racerId: ME.id, name: ME.name, output: 128, total: 128 * tick + 1200 });
      entries.sort((a, b) => b.total - a.total);
      const ranked = entries.map((e, i) => ({ ...e, rank: i + 1, second: tick }));
      const me = ranked.find((e) => e.racerId === ME.id);
      ws.send(JSON.stringify({ raceId: 1, classId: 3, second: tick, racerCount: ranked.length, entries: ranked.slice(0, 100), me }));
    }, 1000);
    ws.onClose(() => clearInterval(timer));
  });
  return { context, page };
}

const shot = (page, name) => page.screenshot({ path: path.join(out, `${name}.png`), fullPage: true });

for (const [label, width, height, scheme] of [['wide', 1440, 900, 'dark'], ['phone', 390, 844, 'dark'], ['laptop-light', 1180, 820, 'light']]) {
  const { context, page } = await open({ width, height, scheme });
  await page.goto(base);
  await page.getByRole('button', { name: 'Start', exact: true }).waitFor();
  await shot(page, `${label}-setup`);
  await page.getByRole('radio', { name: /Gravel/ }).check();
  await page.getByRole('button', { name: 'Start', exact: true }).click();
  await page.getByRole('switch', { name: 'Autopilot' }).click();
  await page.waitForFunction(() => !/^0 \//.test(document.querySelector('[data-testid=race-second]')?.textContent ?? '0 /'), null, { timeout: 30_000 });
  await page.waitForFunction(() => document.querySelectorAll('.log-entry.ok').length >= 3, null, { timeout: 30_000 });
  await shot(page, `${label}-riding-here-now`);
  await page.getByRole('button', { name: 'All time' }).click();
  await page.getByTestId('history-ready').waitFor({ timeout: 8000 }).catch(async (e) => { await shot(page, label + '-FAILED'); console.log(await page.locator('.boards').innerText()); throw e; });
  await shot(page, `${label}-riding-all-time`);
  if (label === 'wide') {
    await page.getByRole('heading', { name: /^You finished/ }).waitFor({ timeout: 40_000 });
    await page.waitForTimeout(600); // let the confetti fall into the frame for the picture
    await shot(page, `${label}-finished`);
  }
  await context.close();
}
{
  const { context, page } = await open({ width: 1280, height: 860, missingHistory: true });
  await page.goto(base);
  await page.getByRole('button', { name: 'Start', exact: true }).click();
  await page.getByRole('button', { name: 'All time' }).click();
  await page.getByText(/No all-time history/).waitFor();
  await shot(page, 'missing-history');
  await context.close();
}
await browser.close();
server.close();
console.log(`screenshots in ${out}`);
