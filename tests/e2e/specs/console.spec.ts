// A newcomer starts a fresh server and rides: nothing on the way is an error in the browser's
// console (a class without history used to answer 404, which Chromium logs as an error). One
// refusal is the design: on load the app asks who this device is (`POST /api/session` with the
// device cookie), and a newcomer's device has nobody yet (401).
import { expect, test, type Page } from '@playwright/test';
import { find, startRide, waitForRaceToStart } from '../helpers/app';
import { Server } from '../helpers/server';

const server = new Server(Number(process.env.ALLEYCAT_E2E_CLEAN_PORT ?? 3928));

test.beforeAll(async () => server.start());
test.afterAll(async () => server.stop());

/** The newcomer's "who is this device?" and its answer, nobody yet. */
const isNewcomersSessionCheck = (url: string, status: number) =>
  status === 401 && new URL(url).pathname === '/api/session';

/**
 * Everything the page reports as going wrong: console errors, uncaught exceptions, failed
 * responses (but the newcomer's session check, counted in `sessionChecks`).
 */
function collectErrors(page: Page) {
  const errors: string[] = [];
  const sessionChecks: number[] = [];
  page.on('console', (message) => {
    // Chromium logs every failed fetch, the expected 401 included.
    const refused = message.text().includes('status of 401');
    if (message.type() === 'error' && !(refused && isNewcomersSessionCheck(message.location().url, 401))) {
      errors.push(`console: ${message.text()}`);
    }
  });
  page.on('pageerror', (error) => errors.push(`exception: ${error.message}`));
  page.on('response', (response) => {
    if (isNewcomersSessionCheck(response.url(), response.status())) sessionChecks.push(response.status());
    else if (response.status() >= 400) errors.push(`${response.status()} ${response.url()}`);
  });
  return { errors, sessionChecks };
}

test('on a fresh server the console stays clean through a whole ride', async ({ page }) => {
  test.setTimeout(120_000);
  const { errors, sessionChecks } = collectErrors(page);
  await startRide(page, { className: 'Sprinter', url: server.url });
  expect(sessionChecks, 'the newcomer was asked for once').toEqual([401]);
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
