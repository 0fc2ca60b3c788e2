// A racer's own page: after a race, the racer finds it on their page (from the set-up screen)
// with its total, place, a chart of its output against their personal best and a working .fit
// link; and every board marks the simulated racers (the generated field) with an icon whose
// text alternative says so, while a person's racer goes unmarked.
import { expect, test } from '@playwright/test';
import { find, snapshot, startRide, waitForRaceToStart } from '../helpers/app';
import { config, historyRacers, postSecond, searchRacers } from '../helpers/api';

/** A person's racer id (people's ids start at 1,000,000; the generated roster is below). */
const PERSON = 1_000_007;

test('a racer rides a race and finds it on their page with total, place, chart and .fit file', async ({ page, request }, testInfo) => {
  test.setTimeout(150_000);
  const [racer] = await searchRacers(request, '4343');
  await startRide(page, { query: '4343', racer: racer.name, className: 'Climber' });
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
  // The racer search: the generated field is marked.
  await page.goto('/');
  await find.racerSearch(page).fill('6161');
  const result = find.racerResult(page, /./).first();
  await expect(result.getByRole('img', { name: 'Simulated racer' })).toBeVisible();

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

  const [racer] = await searchRacers(request, '6161');
  await startRide(page, { query: '6161', racer: racer.name, className: 'Courier' });
  const title = await page.getByRole('heading', { name: /^Courier · Race \d+$/ }).textContent();
  const raceId = Number(title!.match(/Race (\d+)/)![1]);
  await waitForRaceToStart(page);
  // A person rides the same race (sent with the API key, as a producer would).
  const second = Number((await find.raceSecond(page).textContent())!.split(' ')[0]);
  await postSecond(request, { raceId, classId: 2, second, raceSeconds, readings: [{ racerId: PERSON, cadence: 80, resistance: 50 }] });

  // Here now: the rider (generated) is marked; the person is not.
  const board = find.hereNowBoard(page);
  const mine = board.locator('[aria-current="true"]');
  await expect(mine.getByRole('img', { name: 'Simulated racer' })).toBeVisible();
  const person = board.getByRole('listitem').filter({ hasText: `Racer ${PERSON}` });
  await expect(person).toBeVisible({ timeout: 10_000 });
  await expect(person.getByRole('img', { name: 'Simulated racer' })).toHaveCount(0);
  // The name links to the racer's page, in a new tab so the race goes on.
  const link = mine.getByRole('link', { name: racer.name });
  await expect(link).toHaveAttribute('href', `/racers/${racer.id}`);
  await expect(link).toHaveAttribute('target', '_blank');

  // All time: the generated racers are marked (the rider and their rival), the person is not.
  await find.boardToggle(page, 'All time').click();
  const allTime = find.allTimeBoard(page);
  await expect(allTime.locator('[aria-current="true"]').getByRole('img', { name: 'Simulated racer' })).toBeVisible();
  await expect(allTime.locator('li[data-racer="6162"]').getByRole('img', { name: 'Simulated racer' })).toBeVisible();
  await expect(allTime.locator(`li[data-racer="${PERSON}"]`)).toBeVisible();
  await expect(allTime.locator(`li[data-racer="${PERSON}"]`).getByRole('img', { name: 'Simulated racer' })).toHaveCount(0);

  // The results: marked for the rider, not for the person.
  await expect(find.finishHeadline(page)).toBeVisible({ timeout: 60_000 });
  const results = find.raceResults(page).first();
  const myResult = results.getByRole('row').filter({ hasText: racer.name });
  await expect(myResult).toBeVisible({ timeout: 30_000 });
  await expect(myResult.getByRole('img', { name: 'Simulated racer' })).toBeVisible();
  const personResult = results.getByRole('row').filter({ hasText: `Racer ${PERSON}` });
  await expect(personResult).toBeVisible();
  await expect(personResult.getByRole('img', { name: 'Simulated racer' })).toHaveCount(0);
});
