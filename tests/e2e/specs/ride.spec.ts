// A racer rides a whole race: set-up, countdown, riding with the autopilot, every second
// acknowledged, the final second, the finish with their place, the results and the class
// leaderboard.
import { expect, test } from '@playwright/test';
import { createRacer, find, pickClassAndStart, snapshot, startRide, waitForRaceToStart } from '../helpers/app';

test('a racer rides a whole race from the set-up screen to the results', async ({ page }, testInfo) => {
  test.setTimeout(150_000);
  const racer = await createRacer(page);

  // Before the race the racer is not on the Gravel leaderboard.
  await find.classRadio(page, 'Gravel').check();
  await find.recordsTab(page, 'Class leaderboard').click();
  // The leaderboard loaded (a table, or the empty board's note; not an error) without them.
  await expect(find.classLeaderboard(page).or(find.emptyClassLeaderboard(page))).toBeVisible();
  await expect(find.classLeaderboard(page).getByText(racer.name)).toHaveCount(0);

  await pickClassAndStart(page, 'Gravel');
  await expect(page.getByRole('heading', { name: /^Gravel · Race \d+$/ })).toBeVisible();
  await find.autopilot(page).click();
  await expect(find.autopilot(page)).toHaveAttribute('aria-checked', 'true');
  await snapshot(page, 'ride-waiting', testInfo);

  await waitForRaceToStart(page);
  const acknowledged = find.messages(page).getByRole('listitem').filter({ hasText: /acknowledged · shard \d+ · seq …?\d+/ });
  await expect(acknowledged.first()).toBeVisible();
  await expect(find.progress(page)).not.toHaveAttribute('aria-valuenow', '0');
  await expect(find.output(page)).toHaveText(/^\d+\.\d$/);
  await snapshot(page, 'ride-riding', testInfo);

  await expect(find.finishHeadline(page)).toBeVisible({ timeout: 40_000 });
  const last = find.messages(page).getByRole('listitem').first();
  await expect(last).toContainText('final');
  await expect(last).toContainText(/acknowledged/);
  await expect(find.messages(page).getByRole('listitem').filter({ hasText: /rejected|not delivered/ })).toHaveCount(0);
  const total = (await find.raceTotal(page).textContent())!.trim();

  // The race's results list the racer with the total the app counted.
  const myResult = find.raceResults(page).first().getByRole('row').filter({ hasText: racer.name });
  await expect(myResult).toBeVisible({ timeout: 30_000 });
  await expect(myResult).toContainText(total);
  await expect(find.finishHeadline(page)).toHaveText(/^You finished \d+(st|nd|rd|th) of \d+/);
  await snapshot(page, 'ride-finished', testInfo);

  // The class leaderboard now has them.
  await find.recordsTab(page, 'Class leaderboard').click();
  await expect(find.classLeaderboard(page).getByRole('row').filter({ hasText: racer.name })).toBeVisible({ timeout: 30_000 });
  await snapshot(page, 'class-leaderboard', testInfo);

  // The racer and the class are there next time.
  await page.goto('/');
  await expect(find.yourRacer(page)).toContainText(racer.name);
  await expect(find.yourRacer(page)).toContainText(`Racer #${racer.id.toLocaleString('en-US')}`);
  await expect(find.classRadio(page, 'Gravel')).toBeChecked();
  await expect(find.start(page)).toBeEnabled();
});

test('the bike answers the keyboard alone', async ({ page }) => {
  await startRide(page, { className: 'Fixie' });
  const cadence = find.cadence(page);
  await cadence.focus();
  await cadence.press('Home');
  await expect(cadence).toHaveValue('0');
  const resistance = find.resistance(page);
  await resistance.focus();
  await resistance.press('End');
  await expect(resistance).toHaveValue('100');
  // Output = ((0 + 35) * (100 + 65)) / 100 = 57.75
  await expect(find.output(page)).toHaveText('57.8');
  // Global arrows work once focus leaves the sliders.
  await page.getByRole('button', { name: 'Leave race' }).focus();
  await page.keyboard.press('ArrowUp');
  await expect(cadence).toHaveValue('5');
  await page.keyboard.press('ArrowLeft');
  await expect(resistance).toHaveValue('95');
  await page.keyboard.press('a');
  await expect(find.autopilot(page)).toHaveAttribute('aria-checked', 'true');
});
