// A newcomer opens Alleycat: the six classes are there and the race clock is ticking.
import { expect, test } from '@playwright/test';

const CLASS_NAMES = ['Fixie', 'Courier', 'Gravel', 'Tempo', 'Climber', 'Sprinter'];

test('the lobby shows the six classes and a countdown that ticks', async ({ page }, testInfo) => {
  await page.goto('/');

  const classes = page.getByRole('list').filter({ has: page.getByRole('heading', { name: 'Fixie' }) });
  for (const name of CLASS_NAMES) {
    await expect(classes.getByRole('heading', { name, exact: true })).toBeVisible();
  }
  await expect(classes.getByRole('listitem')).toHaveCount(6);

  const countdown = page.getByRole('timer');
  await expect(countdown).toHaveText(/^\d+:\d{2}$/);
  const first = await countdown.textContent();
  await expect(countdown).not.toHaveText(first!, { timeout: 3_000 });

  await page.screenshot({ path: testInfo.outputPath('lobby.png'), fullPage: true });
  await page.screenshot({ path: 'artifacts/lobby.png', fullPage: true });
});
