// A newcomer starts a fresh server and rides: nothing on the way is an error in the browser's
// console (a class without history used to answer 404, which Chromium logs as an error).
import { expect, test, type Page } from '@playwright/test';
import { find, startRide, waitForRaceToStart } from '../helpers/app';
import { Server } from '../helpers/server';

const server = new Server(Number(process.env.ALLEYCAT_E2E_CLEAN_PORT ?? 3928));

test.beforeAll(async () => server.start());
test.afterAll(async () => server.stop());

/** Everything the page reports as going wrong: console errors, uncaught exceptions, failed responses. */
function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`exception: ${error.message}`));
  page.on('response', (response) => {
    if (response.status() >= 400) errors.push(`${response.status()} ${response.url()}`);
  });
  return errors;
}

test('on a fresh server the console stays clean through a whole ride', async ({ page }) => {
  test.setTimeout(120_000);
  const errors = collectErrors(page);
  const racers = await (await page.request.get(`${server.url}/api/racers?q=1042`)).json();
  const racer = racers.racers[0];
  await startRide(page, { query: '1042', racer: racer.name, className: 'Sprinter', url: server.url });
  await find.autopilot(page).click();

  // The all-time board says there is no history yet: the download was answered, not refused.
  await find.boardToggle(page, 'All time').click();
  await expect(page.getByText(/No all-time history for Sprinter yet/)).toBeVisible();
  await find.boardToggle(page, 'Here now').click();

  await waitForRaceToStart(page);
  await expect(find.hereNowBoard(page).getByRole('listitem', { current: true })).toBeVisible();
  await expect(find.finishHeadline(page)).toBeVisible({ timeout: 40_000 });
  const last = find.messages(page).getByRole('listitem').first();
  await expect(last).toContainText('final');
  await expect(last).toContainText(/acknowledged/);
  expect(errors).toEqual([]);
});
