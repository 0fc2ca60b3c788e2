// The all-time board ranks the rider's output this second against every racer's personal best
// at that second, from a seeded history, with a trophy when the rider beats their own best.
import { expect, test } from '@playwright/test';
import { createRacer, find, pickClassAndStart, snapshot, startRide, waitForRaceToStart } from '../helpers/app';
import { config, historyRacers, output, postSecond } from '../helpers/api';

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
