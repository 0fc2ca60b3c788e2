// Other racers ride the same race (sent by the test with the API key, as a producer would): the
// here-now board ranks everyone by total, highlights the rider and updates every second.
import { expect, test } from '@playwright/test';
import { boardRows, find, snapshot, startRide, waitForRaceToStart } from '../helpers/app';
import { config, output, postSecond } from '../helpers/api';

test('the here-now board ranks the racers of this race and updates each second', async ({ page, request }, testInfo) => {
  test.setTimeout(120_000);
  const rivals = [
    { racerId: 201, cadence: 110, resistance: 90 }, // strongest
    { racerId: 202, cadence: 40, resistance: 10 }, // weakest
    { racerId: 203, cadence: 90, resistance: 70 },
  ];
  const names = new Map<number, string>();
  for (const r of rivals) {
    const response = await request.get(`/api/racers/${r.racerId}`);
    names.set(r.racerId, (await response.json()).name);
  }

  const me = await startRide(page, { className: 'Tempo' });
  const raceTitle = await page.getByRole('heading', { name: /^Tempo · Race \d+$/ }).textContent();
  const raceId = Number(raceTitle!.match(/Race (\d+)/)![1]);
  const { raceSeconds } = await config(request);
  // The rider holds 75 rpm at 50 %: output 126.5, between rival 203 and rival 202.
  await waitForRaceToStart(page);

  const board = find.hereNowBoard(page);
  const joined = Number((await find.raceSecond(page).textContent())!.split(' ')[0]);
  // The strong rivals rode from the start (their earlier seconds sent at once); the weakest,
  // like the rider, from now on.
  for (let second = 1; second < joined; second++) {
    await postSecond(request, { raceId, classId: 4, second, raceSeconds, readings: rivals.filter((r) => r.racerId !== 202) });
  }
  // Updated each second: the leader's total shown changes from one second to the next, seen
  // at least three times.
  const leaderTotal = board.locator('.tot').first();
  let previousTotal: string | undefined;
  let updates = 0;
  for (let second = joined; second <= Math.min(joined + 5, raceSeconds); second++) {
    await expect(find.raceSecond(page)).toHaveText(new RegExp(`^(${second}|${second + 1}) /`));
    await postSecond(request, { raceId, classId: 4, second, raceSeconds, readings: rivals });
    if (previousTotal !== undefined) {
      await expect(leaderTotal).not.toHaveText(previousTotal);
      updates++;
    }
    await expect(leaderTotal).toHaveText(/\d/);
    previousTotal = (await leaderTotal.textContent())!;
  }
  expect(updates, 'the board was seen updating from second to second').toBeGreaterThanOrEqual(3);

  const expectedOrder = [201, 203, 0, 202]; // 0 = the rider
  expect(output(110, 90)).toBeGreaterThan(output(90, 70));
  expect(output(90, 70)).toBeGreaterThan(output(75, 50));
  expect(output(75, 50)).toBeGreaterThan(output(40, 10));
  await expect(board.getByRole('listitem')).toHaveCount(4);
  await expect(find.myRank(page)).toHaveText('#3 of 4');
  const rows = await boardRows(board);
  expect(rows.map((r) => r.place)).toEqual([1, 2, 3, 4]);
  expectedOrder.forEach((id, i) => {
    if (id === 0) {
      expect(rows[i].me).toBe(true);
      expect(rows[i].name).toContain(me.name);
    } else {
      expect(rows[i].name).toContain(names.get(id)!);
    }
  });
  await snapshot(page, 'here-now', testInfo);
});
