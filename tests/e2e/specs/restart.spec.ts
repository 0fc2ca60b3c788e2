// The server restarts in the middle of a race: the app says the live board is disconnected,
// keeps riding with its seconds waiting in the outbox, reconnects by itself when the server is
// back, and sends them.
import { expect, test } from '@playwright/test';
import { find, snapshot, startRide, waitForRaceToStart } from '../helpers/app';
import { Server } from '../helpers/server';

const server = new Server(Number(process.env.ALLEYCAT_E2E_OWN_PORT ?? 3927));

test.beforeAll(async () => server.start());
test.afterAll(async () => server.stop());

test('a server restart mid-race is survived with a visible reconnection', async ({ page }, testInfo) => {
  test.setTimeout(120_000);
  const racers = await (await page.request.get(`${server.url}/api/racers?q=555`)).json();
  const racer = racers.racers[0];
  await startRide(page, { query: '555', racer: racer.name, className: 'Courier', url: server.url });
  await waitForRaceToStart(page);
  await expect(find.hereNowBoard(page).getByRole('listitem', { current: true })).toBeVisible();

  await server.stop('SIGKILL');
  await expect(find.liveDisconnected(page)).toBeVisible();
  await expect(find.liveDisconnected(page)).toContainText(/Reconnecting in \d+ s/);
  await expect(find.messages(page).getByRole('listitem').filter({ hasText: 'waiting to be sent' }).first()).toBeVisible();
  await expect(page.getByTestId('connection')).toContainText(/Offline: \d+ seconds? waiting to be sent/);
  await snapshot(page, 'restart-disconnected', testInfo);

  await server.start();
  await expect(find.liveDisconnected(page)).toHaveCount(0, { timeout: 20_000 });
  await expect(find.messages(page).getByRole('listitem').first()).toContainText(/acknowledged/, { timeout: 10_000 });
  await expect(page.getByTestId('connection')).not.toContainText('waiting', { timeout: 20_000 });
  await expect(find.messages(page).getByRole('listitem').filter({ hasText: /rejected/ })).toHaveCount(0);
  await expect(find.hereNowBoard(page).getByRole('listitem', { current: true })).toBeVisible();
  await snapshot(page, 'restart-reconnected', testInfo);
});
