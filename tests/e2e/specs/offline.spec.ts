// Nothing ridden is lost: the rider's events wait in the outbox while the network is gone, and
// across a reload, and reach the server once it is back; the page says it is offline and how
// many seconds wait. Checked against the race results the server keeps.
import { expect, test, type Page } from '@playwright/test';
import { find, snapshot, startRide, waitForRaceToStart } from '../helpers/app';
import { Server } from '../helpers/server';

// 40-second races: room for 20 seconds offline and the catch-up inside one race.
const server = new Server(Number(process.env.ALLEYCAT_E2E_OFFLINE_PORT ?? 3937), 40);

test.beforeAll(async () => server.start());
test.afterAll(async () => server.stop());

// ---- find ---------------------------------------------------------------------------------
const connection = (page: Page) => page.getByTestId('connection');
const logEntries = (page: Page) => find.messages(page).getByRole('listitem');
const raceHeading = (page: Page) => page.getByRole('heading', { name: /· Race \d+$/ });
/** The log's entry for second `label` (`s12`). */
const logEntry = (page: Page, label: string) =>
  logEntries(page).filter({ has: page.locator('.log-second', { hasText: new RegExp(`^${label}$`) }) });

// ---- check --------------------------------------------------------------------------------
/** The race this page rides, from its heading. */
async function raceOnScreen(page: Page): Promise<number> {
  const title = (await raceHeading(page).textContent()) ?? '';
  return Number(title.match(/Race (\d+)/)![1]);
}

/** The second of the race on screen. */
async function secondOnScreen(page: Page): Promise<number> {
  return Number(((await find.raceSecond(page).textContent()) ?? '0').split(' ')[0]);
}

/** How many seconds the page says wait to be sent (0 when it says none). */
async function waitingOnScreen(page: Page): Promise<number> {
  const text = (await connection(page).textContent()) ?? '';
  return Number(text.match(/(\d+) seconds? waiting/)?.[1] ?? 0);
}

/** The racer's row in the race's results, once the server has one. */
async function result(page: Page, raceId: number, classId: number, racerId: number) {
  const response = await page.request.get(`${server.url}/api/races/${raceId}?classId=${classId}`);
  if (!response.ok()) return undefined;
  const body = await response.json();
  return (body.results as { racerId: number; seconds: number; total: number }[]).find((r) => r.racerId === racerId);
}

/** At the finish, once nothing waits: the results hold every second the page rode. */
async function expectEverySecondStored(page: Page, racer: { id: number }, classId: number, raceId: number) {
  await expect(find.finishHeadline(page)).toBeVisible({ timeout: 60_000 });
  await expect(connection(page)).not.toContainText('waiting', { timeout: 30_000 });
  await expect(logEntries(page).filter({ hasText: /rejected/ })).toHaveCount(0);
  const ridden = await logEntries(page).count();
  expect(ridden, 'the page rode most of the race').toBeGreaterThan(15);
  await expect(logEntries(page).filter({ hasText: /acknowledged/ })).toHaveCount(ridden);
  await expect
    .poll(async () => (await result(page, raceId, classId, racer.id))?.seconds, { timeout: 30_000 })
    .toBe(ridden);
  // The total the page counted (whole, as shown), reload or not.
  const total = Number((await find.raceTotal(page).textContent())!.replace(/,/g, ''));
  const stored = (await result(page, raceId, classId, racer.id))!;
  expect(Math.abs(stored.total - total), `stored ${stored.total}, on screen ${total}`).toBeLessThanOrEqual(1);
}

test('twenty seconds offline mid-race: the page says so, counts what waits, and loses nothing', async ({ page, context }, testInfo) => {
  test.setTimeout(180_000);
  const racer = await startRide(page, { className: 'Courier', url: server.url });
  const raceId = await raceOnScreen(page);
  await waitForRaceToStart(page, 45_000);
  await expect(connection(page)).toHaveText('Sending over the live connection');
  await expect(logEntries(page).filter({ hasText: /acknowledged/ }).first()).toBeVisible();

  await context.setOffline(true);
  // Chromium says it is offline but leaves open WebSockets open: the app closes its own.
  expect(await page.evaluate(() => navigator.onLine)).toBe(false);
  const wentOffline = await secondOnScreen(page);
  await expect(connection(page)).toContainText('Offline');
  await expect(find.liveDisconnected(page)).toBeVisible();
  // The race goes on for twenty seconds with no network; the count of waiting seconds grows.
  await expect.poll(() => secondOnScreen(page), { timeout: 30_000 }).toBeGreaterThanOrEqual(wentOffline + 20);
  await expect(connection(page)).toContainText('Offline');
  expect(await waitingOnScreen(page), 'the seconds ridden offline wait').toBeGreaterThanOrEqual(15);
  await snapshot(page, 'offline-waiting', testInfo);

  await context.setOffline(false);
  await expect(connection(page)).toContainText('Sending over the live connection', { timeout: 15_000 });
  await expect(find.liveDisconnected(page)).toHaveCount(0);
  await expectEverySecondStored(page, racer, 2, raceId);
  await snapshot(page, 'offline-caught-up', testInfo);
});

test('a dead socket is noticed, and a reload mid-race comes back to the same race and sends what waited before it', async ({ page }, testInfo) => {
  test.setTimeout(180_000);
  // The test stands between the page and the server: it can silence the open socket (a
  // connection that died without closing), refuse new ones and fail the event posts, as a
  // network that lets nothing through would.
  let refuse = false;
  let silence = () => {};
  await page.routeWebSocket(/\/api\/live/, (socket) => {
    if (refuse) return socket.close();
    const server = socket.connectToServer();
    silence = () => {
      socket.onMessage(() => {});
      server.onMessage(() => {});
    };
  });
  const racer = await startRide(page, { className: 'Fixie', url: server.url });
  const raceId = await raceOnScreen(page);
  await waitForRaceToStart(page, 45_000);
  await expect(connection(page)).toHaveText('Sending over the live connection');
  await expect(logEntries(page).filter({ hasText: /acknowledged/ }).first()).toBeVisible();

  // Nothing gets through, and the open socket falls silent without closing: the page notices
  // (no ranking for a few seconds), and the seconds wait in the outbox.
  refuse = true;
  await page.route('**/api/events', (route) => route.abort());
  silence();
  await expect(connection(page)).toContainText(/Offline: ([3-9]|\d\d+) seconds waiting/, { timeout: 20_000 });
  const before = await waitingOnScreen(page);
  const ridden = await logEntries(page).count();
  const oldestWaiting = (await logEntries(page).filter({ hasText: 'waiting to be sent' }).last().locator('.log-second').textContent())!;

  await page.reload();
  await expect(raceHeading(page)).toHaveText(new RegExp(`Race ${raceId}$`));
  // The outbox came back with the page: the seconds that waited still wait, and the log still
  // holds what was ridden before the reload.
  await expect(connection(page)).toContainText('Offline');
  await expect(logEntry(page, oldestWaiting)).toContainText('waiting to be sent');
  expect(await waitingOnScreen(page)).toBeGreaterThanOrEqual(before);
  expect(await logEntries(page).count()).toBeGreaterThanOrEqual(ridden);
  await snapshot(page, 'reload-waiting', testInfo);

  refuse = false;
  await page.unroute('**/api/events');
  await expectEverySecondStored(page, racer, 1, raceId);
  await snapshot(page, 'reload-caught-up', testInfo);
});

test('leaving the race while offline loses nothing: the app sends what waited once the network is back', async ({ page, context }, testInfo) => {
  test.setTimeout(180_000);
  const racer = await startRide(page, { className: 'Gravel', url: server.url });
  const raceId = await raceOnScreen(page);
  await waitForRaceToStart(page, 45_000);
  await expect(logEntries(page).filter({ hasText: /acknowledged/ }).first()).toBeVisible();

  await context.setOffline(true);
  await expect(connection(page)).toContainText(/Offline: ([3-9]|\d\d+) seconds waiting/, { timeout: 20_000 });
  await page.getByRole('button', { name: 'Leave race' }).click();
  // Off the ride, the app says what still waits, and cannot send it yet.
  const leftovers = page.getByTestId('leftovers');
  await expect(leftovers).toContainText(new RegExp(`Sending \\d+ seconds of race ${raceId} that waited`));
  const saved = await page.evaluate(
    ([racerId, race]) => JSON.parse(localStorage.getItem(`alleycat.outbox.${racerId}.${race}`) ?? '{"log":[],"waiting":[]}'),
    [racer.id, raceId],
  );
  const ridden = saved.log.length as number;
  expect(saved.waiting.length, 'seconds wait in the saved outbox').toBeGreaterThanOrEqual(3);
  await snapshot(page, 'left-offline-waiting', testInfo);

  await context.setOffline(false);
  await expect(leftovers).toHaveCount(0, { timeout: 30_000 });
  const after = await page.evaluate(
    ([racerId, race]) => JSON.parse(localStorage.getItem(`alleycat.outbox.${racerId}.${race}`) ?? 'null'),
    [racer.id, raceId],
  );
  expect(after?.waiting ?? [], 'nothing waits any more').toHaveLength(0);
  // Every second ridden is in the race's results once the race is over and merged.
  const classId = await classIdOf(page, 'Gravel');
  await expect
    .poll(async () => (await result(page, raceId, classId, racer.id))?.seconds, { timeout: 90_000 })
    .toBe(ridden);
});

/** The id of the class named `name`, from the server's configuration. */
async function classIdOf(page: Page, name: string): Promise<number> {
  const config = await (await page.request.get(`${server.url}/api/config`)).json();
  return (config.classes as { id: number; name: string }[]).find((c) => c.name === name)!.id;
}
