// The server restarts in the middle of a race: the app says the live board is disconnected,
// keeps riding, and reconnects by itself when the server is back.
import { expect, test } from '@playwright/test';
import { find, snapshot, startRide, waitForRaceToStart } from '../helpers/app';
import { Server } from '../helpers/server';

const server = new Server(Number(process.env.ALLEYCAT_E2E_OWN_PORT ?? 3927));

test.beforeAll(async () => server.start());
test.afterAll(async () => server.stop());

test('a server restart mid-race is survived with a visible reconnection', async ({ page }, testInfo) => {
  test.setTimeout(120_000);
  await startRide(page, { className: 'Courier', url: server.url });
  await waitForRaceToStart(page);
  await expect(find.hereNowBoard(page).getByRole('listitem', { current: true })).toBeVisible();

  await server.stop('SIGKILL');
  await expect(find.liveDisconnected(page)).toBeVisible();
  await expect(find.liveDisconnected(page)).toContainText(/Reconnecting in \d+ s/);
  await expect(find.messages(page).getByRole('listitem').filter({ hasText: 'not delivered' }).first()).toBeVisible();
  await snapshot(page, 'restart-disconnected', testInfo);

  await server.start();
  await expect(find.liveDisconnected(page)).toHaveCount(0, { timeout: 20_000 });
  await expect(find.messages(page).getByRole('listitem').first()).toContainText(/acknowledged/, { timeout: 10_000 });
  await expect(find.hereNowBoard(page).getByRole('listitem', { current: true })).toBeVisible();
  await snapshot(page, 'restart-reconnected', testInfo);
});
