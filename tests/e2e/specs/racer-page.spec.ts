// A racer's own page: after a race, the racer finds it on their page (from the set-up screen)
// with its total, place, a chart of its output against their personal best and a working .fit
// link; and every board marks the simulated racers (the generated field) with an icon whose
// text alternative says so, while a person's racer goes unmarked.
import { expect, test } from '@playwright/test';
import { createRacer, find, pickClassAndStart, snapshot, startRide, waitForRaceToStart } from '../helpers/app';
import { config, historyRacers, postSecond, racerInfo } from '../helpers/api';

/** A person's racer id (people's ids start at 1,000,000; the generated roster is below). */
const PERSON = 1_000_007;
/** A generated (simulated) racer who rides the marks test's race beside the person. */
const ROSTER_RIDER = 6161;

test('a racer rides a race and finds it on their page with total, place, chart and .fit file', async ({ page }, testInfo) => {
  test.setTimeout(150_000);
  const racer = await startRide(page, { className: 'Climber' });
  const title = await page.getByRole('heading', { name: /^Climber · Race \d+$/ }).textContent();
  const raceId = Number(title!.match(/Race (\d+)/)![1]);
  await find.autopilot(page).click();
  await expect(find.finishHeadline(page)).toBeVisible({ timeout: 60_000 });
  // The official results are in (the finish shows them, and the .fit link with them).
  await expect(find.raceResults(page).first().getByRole('row').filter({ hasText: racer.name })).toBeVisible({ timeout: 30_000 });
  await expect(find.finishHeadline(page)).toHaveText(/^You finished \d+(st|nd|rd|th) of \d+/);
  const [, place, field] = (await find.finishHeadline(page).textContent())!.match(/(\d+)(?:st|nd|rd|th) of ([\d,]+)/)!;
  const total = (await find.raceTotal(page).textContent())!.trim();

  // From the set-up screen to the racer's page.
  await page.getByRole('button', { name: 'Ride another race' }).click();
  await page.getByRole('link', { name: 'Races and personal bests' }).click();
  await expect(page).toHaveURL(new RegExp(`/racers/${racer.id}$`));
  await expect(page.getByRole('heading', { level: 1, name: racer.name })).toBeVisible();

  // Their personal best in Climber is this race's total (their only Climber race).
  const bests = page.getByRole('table', { name: 'Personal bests' });
  await expect(bests.getByRole('row').filter({ hasText: 'Climber' })).toContainText(total);
  await expect(bests.getByRole('row').filter({ hasText: 'Climber' })).toContainText(String(raceId));

  // The race, with its total, place and chart.
  const card = page.getByRole('listitem', { name: `Climber · Race ${raceId}` });
  await expect(card).toContainText(`Total ${total}`);
  await expect(card).toContainText(`Place #${place} of ${field}`);
  const chart = card.getByRole('img', { name: `Climber · Race ${raceId}: output each second against the personal best` });
  await expect(chart).toBeVisible();
  await expect(chart.locator('path.chart-mine')).toHaveAttribute('d', /^M[\d.]+,[\d.]+( L[\d.]+,[\d.]+)+/);
  await expect(chart.locator('path.chart-best')).toHaveAttribute('d', /^M/);
  await snapshot(page, 'racer-page', testInfo);

  // The .fit link downloads the ride: a FIT file (".FIT" at byte 8 of its header).
  const downloading = page.waitForEvent('download');
  await card.getByRole('link', { name: 'Download .fit' }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toBe(`alleycat-race-${raceId}-racer-${racer.id}.fit`);
  const fs = await import('node:fs');
  const bytes = fs.readFileSync((await download.path())!);
  expect(bytes.length).toBeGreaterThan(100);
  expect(bytes.subarray(8, 12).toString('ascii')).toBe('.FIT');
});

test('every board marks simulated racers and leaves a person unmarked', async ({ page, request }) => {
  test.setTimeout(120_000);
  // The rider is a person: they make their racer on this device.
  const rider = await createRacer(page);
  const roster = await racerInfo(request, ROSTER_RIDER);

  // The racer search finds both and says which is which: the generated field is marked, the
  // person is not.
  await find.racerSearch(page).fill(String(ROSTER_RIDER));
  const result = find.racerResult(page, /./).first();
  await expect(result.getByRole('img', { name: 'Simulated racer' })).toBeVisible();
  await expect(result).toHaveAttribute('href', `/racers/${ROSTER_RIDER}`);
  await find.racerSearch(page).fill(rider.name);
  const me = find.racerResult(page, new RegExp(rider.name));
  await expect(me).toHaveAttribute('href', `/racers/${rider.id}`);
  await expect(me.getByRole('img', { name: 'Simulated racer' })).toHaveCount(0);

  // Courier's history, backfilled with the API key as a producer would: a generated racer and
  // a person, both far above the rider, so both are on the all-time board.
  const { raceSeconds, currentRaceId } = await config(request);
  const rivals = [
    { racerId: 6162, cadence: 150, resistance: 97 },
    { racerId: PERSON, cadence: 140, resistance: 97 },
  ];
  for (let second = 1; second <= raceSeconds; second++) {
    const answer = await postSecond(request, { raceId: currentRaceId - 3, classId: 2, second, raceSeconds, readings: rivals });
    expect(answer.failedRecordCount).toBe(0);
  }
  await expect.poll(() => historyRacers(request, 2), { timeout: 30_000 }).toBeGreaterThanOrEqual(2);

  await pickClassAndStart(page, 'Courier');
  const title = await page.getByRole('heading', { name: /^Courier · Race \d+$/ }).textContent();
  const raceId = Number(title!.match(/Race (\d+)/)![1]);
  await waitForRaceToStart(page);
  // A generated racer rides the same race (sent with the API key, as a producer would).
  const second = Number((await find.raceSecond(page).textContent())!.split(' ')[0]);
  await postSecond(request, { raceId, classId: 2, second, raceSeconds, readings: [{ racerId: ROSTER_RIDER, cadence: 80, resistance: 50 }] });

  // Here now: the generated racer is marked; the rider (a person) is not.
  const board = find.hereNowBoard(page);
  const mine = board.locator('[aria-current="true"]');
  await expect(mine).toBeVisible();
  await expect(mine.getByRole('img', { name: 'Simulated racer' })).toHaveCount(0);
  const generated = board.getByRole('listitem').filter({ hasText: roster.name });
  await expect(generated).toBeVisible({ timeout: 10_000 });
  await expect(generated.getByRole('img', { name: 'Simulated racer' })).toBeVisible();
  // The name links to the racer's page, in a new tab so the race goes on.
  const link = mine.getByRole('link', { name: rider.name });
  await expect(link).toHaveAttribute('href', `/racers/${rider.id}`);
  await expect(link).toHaveAttribute('target', '_blank');

  // All time: the generated rival is marked; the people (the rider and the backfilled person)
  // are not.
  await find.boardToggle(page, 'All time').click();
  const allTime = find.allTimeBoard(page);
  await expect(allTime.locator('[aria-current="true"]')).toBeVisible();
  await expect(allTime.locator('[aria-current="true"]').getByRole('img', { name: 'Simulated racer' })).toHaveCount(0);
  await expect(allTime.locator('li[data-racer="6162"]').getByRole('img', { name: 'Simulated racer' })).toBeVisible();
  await expect(allTime.locator(`li[data-racer="${PERSON}"]`)).toBeVisible();
  await expect(allTime.locator(`li[data-racer="${PERSON}"]`).getByRole('img', { name: 'Simulated racer' })).toHaveCount(0);

  // The results: marked for the generated racer, not for the rider.
  await expect(find.finishHeadline(page)).toBeVisible({ timeout: 60_000 });
  const results = find.raceResults(page).first();
  const myResult = results.getByRole('row').filter({ hasText: rider.name });
  await expect(myResult).toBeVisible({ timeout: 30_000 });
  await expect(myResult.getByRole('img', { name: 'Simulated racer' })).toHaveCount(0);
  const rosterResult = results.getByRole('row').filter({ hasText: roster.name });
  await expect(rosterResult).toBeVisible();
  await expect(rosterResult.getByRole('img', { name: 'Simulated racer' })).toBeVisible();
});
