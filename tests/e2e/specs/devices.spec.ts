// A racer on a real bike. A scripted stand-in for the radio (`navigator.bluetooth`, injected
// with addInitScript, helpers/radio.ts) plays a trainer that notifies Indoor Bike Data and
// answers its control point, and a heart-rate strap; everything from the bytes on is the app's
// own code.
import { expect, test, type Page } from '@playwright/test';
import { find, setSlider, startRide, waitForRaceToStart } from '../helpers/app';
import { standInRadio } from '../helpers/radio';

/** The events the app sends, as the server receives them: on its live WebSocket, or posted. */
function recordEvents(page: Page) {
  const events: Record<string, unknown>[] = [];
  page.on('websocket', (socket) => {
    socket.on('framesent', ({ payload }) => {
      const message = JSON.parse(String(payload));
      if (message.type === 'events') events.push(...(message.events as Record<string, unknown>[]));
    });
  });
  page.on('request', (request) => {
    if (request.url().endsWith('/api/events') && request.method() === 'POST') {
      events.push(...(request.postDataJSON().events as Record<string, unknown>[]));
    }
  });
  return events;
}

test('a racer connects a trainer and a heart-rate strap and races on measured power', async ({ page }) => {
  test.setTimeout(90_000);
  await page.addInitScript(standInRadio);
  const events = recordEvents(page);
  const racer = await startRide(page, { className: 'Fixie' });

  await page.getByRole('button', { name: 'Connect a bike' }).click();
  await expect(page.getByTestId('bike-status')).toHaveText('connected: Stand-in trainer');
  await expect(page.getByTestId('device-power')).toHaveText('250 W');
  await expect(page.getByTestId('trainer-answer')).toHaveText('trainer: done');
  await page.getByRole('button', { name: 'Connect heart rate' }).click();
  await expect(page.getByTestId('heart-status')).toHaveText('connected: Stand-in strap');
  await expect(page.getByTestId('device-heart-rate')).toHaveText('141 bpm');

  // The resistance slider drives the trainer: Set Target Resistance Level (0x04), the slider's
  // share of the trainer's own range (0 to 20.0), in tenths: 60 % is level 12.0, 120 tenths.
  await setSlider(page, find.resistance(page), 60);
  const levels = () =>
    page.evaluate(() =>
      (window as any).radio.writes
        .filter((w: number[]) => w[0] === 0x04)
        .map((w: number[]) => new DataView(new Uint8Array(w).buffer).getInt16(1, true)),
    );
  await expect.poll(async () => (await levels()).at(-1)).toBe(120);
  for (const tenths of await levels()) {
    expect(tenths, 'every level is within the range, on its 1.0 increment').toBeGreaterThanOrEqual(0);
    expect(tenths).toBeLessThanOrEqual(200);
    expect(tenths % 10).toBe(0);
  }

  await waitForRaceToStart(page);
  await expect.poll(() => events.length).toBeGreaterThan(0);
  expect(events[events.length - 1]).toMatchObject({ source: 'trainer', power: 250, heartRate: 141, cadence: 90 });
  // The here-now board marks the rider as on a real bike.
  const myRow = find.hereNowBoard(page).locator('[aria-current="true"]');
  await expect(myRow.getByText('Real bike')).toBeVisible({ timeout: 10_000 });

  // The trainer drops; the app says so and reconnects by itself.
  await page.evaluate(() => (window as any).radio.devices.trainer.drop());
  await expect(page.getByTestId('bike-status')).toHaveText(/reconnecting/);
  await expect(page.getByTestId('bike-status')).toHaveText('connected: Stand-in trainer', { timeout: 5_000 });

  await expect(find.finishHeadline(page)).toBeVisible({ timeout: 40_000 });
  await expect(page.getByRole('link', { name: 'Download .fit' })).toBeVisible({ timeout: 30_000 });
  // The race results mark the ride as on a real bike too.
  const myResult = find.raceResults(page).first().getByRole('row').filter({ hasText: racer.name });
  await expect(myResult.getByText('Real bike')).toBeVisible();
});

test('a browser without Web Bluetooth says why and rides the simulated bike', async ({ page }) => {
  await page.addInitScript(() => Object.defineProperty(navigator, 'bluetooth', { value: undefined }));
  await startRide(page, { className: 'Fixie' });
  await expect(page.getByTestId('no-bluetooth')).toContainText('no Web Bluetooth');
  await expect(page.getByRole('button', { name: 'Connect a bike' })).toHaveCount(0);
});
