// A newcomer opens Alleycat: the six classes are there and the race clock is ticking.
import { expect, test } from '@playwright/test';
import { find, snapshot } from '../helpers/app';

const CLASS_NAMES = ['Fixie', 'Courier', 'Gravel', 'Tempo', 'Climber', 'Sprinter'];

test('the set-up screen offers the six classes and a countdown that ticks', async ({ page }, testInfo) => {
  await page.goto('/');

  const classes = page.getByRole('group', { name: '2. Pick your class' });
  for (const name of CLASS_NAMES) {
    await expect(classes.getByRole('radio', { name: new RegExp(`^${name}`) })).toBeVisible();
  }
  await expect(classes.getByRole('radio')).toHaveCount(6);
  await expect(find.start(page)).toBeDisabled();

  const countdown = page.getByRole('timer', { name: 'Next race starts in' });
  await expect(countdown).toHaveText(/^\d+:\d{2}$/);
  const first = await countdown.textContent();
  await expect(countdown).not.toHaveText(first!, { timeout: 3_000 });

  await snapshot(page, 'setup-empty', testInfo);
});

test('the racer search suggests a name and an id that each find a racer', async ({ page }) => {
  await page.goto('/');
  const search = find.racerSearch(page);
  // "e.g. Kenji or 1042": whatever the placeholder suggests must be there.
  const placeholder = (await search.getAttribute('placeholder')) ?? '';
  const suggestions = placeholder.replace(/^e\.g\.\s*/, '').split(/\s*(?:,|\bor\b)\s*/).filter(Boolean);
  expect(suggestions.length, placeholder).toBeGreaterThanOrEqual(2);
  for (const suggestion of suggestions) {
    await search.fill(suggestion);
    const first = find.racerResult(page, /./).first();
    await expect(first, `searching for "${suggestion}"`).toBeVisible();
    await expect(first).toContainText(suggestion);
  }
});
