// A full field: 1,000 simulated racers (the load generator, `alleycat-sim`) ride the same Fixie
// race as a person in the browser. The here-now board counts all 1,001 and places the rider
// where their total puts them: pedalling at the bike's top, above every simulated racer (who
// ride at most 90 rpm and 86 %), they lead from the first second to the finish, and the results
// list all 1,001 with the rider first.
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { expect, test } from '@playwright/test';
import { createRacer, find, pickClassAndStart, snapshot, waitForRaceToStart } from '../helpers/app';
import { config, dataDir } from '../helpers/api';

const root = path.resolve(__dirname, '../../..');
const simBinary = process.env.ALLEYCAT_SIM_BIN ?? path.join(root, 'target/debug/alleycat-sim');

/** Starts the load generator on `raceId`; resolves with its exit code and output when it ends. */
function rideWithSimulatedRacers(baseURL: string, raceId: number, racers: number) {
  const sim = spawn(simBinary, [
    '--server', baseURL,
    '--data-dir', dataDir(),
    '--racers', String(racers),
    '--class', '1',
    '--race', String(raceId),
    '--join-within', '20',
  ]);
  let output = '';
  sim.stderr.on('data', (chunk) => (output += chunk));
  return new Promise<{ code: number | null; output: string }>((resolve) =>
    sim.on('close', (code) => resolve({ code, output })),
  );
}

test('a thousand simulated racers ride with the rider, who is ranked among all 1,001', async ({ page, request, baseURL }, testInfo) => {
  test.setTimeout(150_000);
  const me = await createRacer(page);
  // Press Start once the running race is too far along to join, so the rider (and the field)
  // ride the next one from its first second.
  await expect
    .poll(async () => {
      const c = await config(request);
      const intoRace = c.serverTimeMs % (c.raceSeconds * 1000);
      return intoRace >= 10_500 && intoRace <= 14_000;
    }, { timeout: 30_000, intervals: [200] })
    .toBe(true);
  await pickClassAndStart(page, 'Fixie');
  const raceTitle = await page.getByRole('heading', { name: /^Fixie · Race \d+$/ }).textContent();
  const raceId = Number(raceTitle!.match(/Race (\d+)/)![1]);
  // The bike at its top: 160 rpm at 100 %, output 321.75.
  for (const slider of [find.cadence(page), find.resistance(page)]) {
    await slider.focus();
    await slider.press('End');
  }
  await expect(find.output(page)).toHaveText('321.8');
  const sim = rideWithSimulatedRacers(baseURL!, raceId, 1000);

  await waitForRaceToStart(page);
  await expect(find.myRank(page)).toHaveText('#1 of 1,001', { timeout: 15_000 });
  const board = find.hereNowBoard(page);
  await expect(board.getByRole('listitem').first()).toHaveAttribute('aria-current', 'true');
  await snapshot(page, 'load-here-now', testInfo);

  await expect(find.finishHeadline(page)).toBeVisible({ timeout: 40_000 });
  await expect(find.finishHeadline(page)).toHaveText(/^You finished 1st of 1,001/);
  const { code, output } = await sim;
  expect(code, `alleycat-sim failed:\n${output}`).toBe(0);
  expect(output).toContain('acknowledged   20000');

  // The results list every racer, the rider first.
  await expect(async () => {
    const response = await request.get(`/api/races/${raceId}?classId=1`);
    expect(response.ok()).toBe(true);
    const { results } = await response.json();
    expect(results).toHaveLength(1001);
    expect(results[0].racerId).toBe(me.id);
  }).toPass({ timeout: 30_000 });
});
