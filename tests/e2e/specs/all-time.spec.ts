// The all-time board ranks the rider's output this second against every racer's personal best
// at that second, from a seeded history, with a trophy when the rider beats their own best, and
// the real-bike mark on bests a trainer or power meter measured.
import { expect, test } from '@playwright/test';
import { createRacer, find, pickClassAndStart, snapshot, startRide, waitForRaceToStart } from '../helpers/app';
import { config, historyRacerIds, historyRacers, output, postSecond, racerInfo } from '../helpers/api';
import { standInRadio } from '../helpers/radio';

test('the all-time board ranks against the history and shows the trophy on a personal best', async ({ page, request }, testInfo) => {
  test.setTimeout(120_000);
  const me = await createRacer(page);
  const { raceSeconds } = await config(request);
  // Climber's history, backfilled the way a producer would (a past race, with the API key) and
  // merged by the server: two racers above the rider's 126.5, one below, and the rider's own
  // best of 58.5 at every second.
  const rides = [
    { racerId: 301, cadence: 150, resistance: 97 }, // 299.7
    { racerId: 302, cadence: 110, resistance: 73 }, // 200.1
    { racerId: 303, cadence: 40, resistance: 65 }, // 97.5
    { racerId: me.id, cadence: 10, resistance: 65 }, // 58.5
  ];
  expect(output(10, 65)).toBe(58.5);
  const { currentRaceId } = await config(request);
  for (let second = 1; second <= raceSeconds; second++) {
    const answer = await postSecond(request, { raceId: currentRaceId - 3, classId: 5, second, raceSeconds, readings: rides });
    expect(answer.failedRecordCount).toBe(0);
  }
  await expect.poll(() => historyRacers(request, 5), { timeout: 30_000 }).toBe(4);

  await pickClassAndStart(page, 'Climber');
  await find.boardToggle(page, 'All time').click();
  await expect(find.boardToggle(page, 'All time')).toHaveAttribute('aria-pressed', 'true');
  await expect(page.getByTestId('history-ready')).toContainText('4 racers');
  await waitForRaceToStart(page);

  // 126.5 beats 97.5 and the rider's own 58.5: third of five, with the trophy.
  await expect(find.myRank(page)).toHaveText('#3 of 5');
  await expect(find.trophy(page)).toBeVisible();
  const board = find.allTimeBoard(page);
  await expect(board.getByRole('listitem')).toHaveCount(5);
  await expect(board.getByRole('listitem').filter({ hasText: 'Your best' })).toContainText('58.5');
  await snapshot(page, 'all-time-trophy', testInfo);

  // Soft-pedalling below the personal best: last, no trophy.
  const cadence = find.cadence(page);
  await cadence.focus();
  await cadence.press('Home');
  const resistance = find.resistance(page);
  await resistance.focus();
  await resistance.press('Home');
  await expect(find.output(page)).toHaveText('22.8');
  await expect(find.myRank(page)).toHaveText('#5 of 5');
  await expect(find.trophy(page)).toHaveCount(0);
});

test('a class without history says so and the ride goes on', async ({ page }) => {
  await startRide(page, { className: 'Sprinter' });
  await find.boardToggle(page, 'All time').click();
  await expect(page.getByText(/No all-time history for Sprinter yet/)).toBeVisible();
  await expect(find.output(page)).toHaveText(/\d/);
});

test('the all-time board marks a best ridden on a real bike and not one on the simulated bike', async ({ page, request }) => {
  test.setTimeout(150_000);
  await page.addInitScript(standInRadio);
  // A racer on the simulated bike in Gravel's history (a past race, posted by a producer): 97.5.
  const { raceSeconds, currentRaceId } = await config(request);
  const simulated = 401;
  for (let second = 1; second <= raceSeconds; second++) {
    const readings = [{ racerId: simulated, cadence: 40, resistance: 65 }];
    const answer = await postSecond(request, { raceId: currentRaceId - 3, classId: 3, second, raceSeconds, readings });
    expect(answer.failedRecordCount).toBe(0);
  }
  // The rider rides a whole race on the stand-in trainer: 250 W every second.
  const me = await startRide(page, { className: 'Gravel' });
  await page.getByRole('button', { name: 'Connect a bike' }).click();
  await expect(page.getByTestId('bike-status')).toHaveText('connected: Stand-in trainer');
  await expect(find.finishHeadline(page)).toBeVisible({ timeout: 60_000 });
  await expect
    .poll(async () => (await historyRacerIds(request, 3)).filter((id) => id === me.id || id === simulated), {
      timeout: 30_000,
    })
    .toHaveLength(2);

  // The next race, on the simulated bike: the rider's best and the simulated racer's on the board.
  await page.getByRole('button', { name: 'Ride another race' }).click();
  await pickClassAndStart(page, 'Gravel');
  await find.boardToggle(page, 'All time').click();
  await expect(page.getByTestId('history-ready')).toBeVisible();
  await waitForRaceToStart(page);
  const board = find.allTimeBoard(page);
  const myBest = board.getByRole('listitem').filter({ hasText: 'Your best' });
  await expect(myBest).toContainText('250');
  await expect(myBest.getByText('Real bike')).toBeVisible();
  const { name } = await racerInfo(request, simulated);
  const theirBest = board.getByRole('listitem').filter({ hasText: name });
  await expect(theirBest).toContainText('97.5');
  await expect(theirBest.getByText('Real bike')).toHaveCount(0);
  const myLiveRow = board.locator('[aria-current="true"]');
  await expect(myLiveRow).toBeVisible();
  await expect(myLiveRow.getByText('Real bike')).toHaveCount(0);

  // On the trainer again, the rider's live row carries the mark too.
  await page.getByRole('button', { name: 'Connect a bike' }).click();
  await expect(myLiveRow.getByText('Real bike')).toBeVisible();
});
