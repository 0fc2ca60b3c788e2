// A newcomer opens Alleycat: the six classes are there and the race clock is ticking, and they
// get their own racer and ride with one field, one button and a class.
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

test('a newcomer gets from the first page to riding with one field, one button and a class', async ({ page }, testInfo) => {
  const started = Date.now();
  await page.goto('/');
  // Nothing to read first: the one field is in the first step, with its button.
  await expect(find.yourRacer(page).getByRole('textbox')).toHaveCount(1);
  await expect(find.yourRacer(page).getByRole('textbox')).toHaveAccessibleName("Your racer's name");
  await snapshot(page, 'setup-newcomer', testInfo);
  await find.racerName(page).fill('Zoë O\'Neil-Smith');
  await find.racerName(page).press('Enter');
  await expect(find.yourRacer(page)).toContainText("Zoë O'Neil-Smith");
  // The class is next, and Start is the focused button.
  await expect(find.start(page)).toBeFocused();
  await snapshot(page, 'setup-your-racer', testInfo);
  await find.classRadio(page, 'Courier').check();
  await find.start(page).click();
  await expect(page.getByRole('heading', { name: /^Courier · Race \d+$/ })).toBeVisible();
  await expect(find.racerMenu(page)).toContainText("Zoë O'Neil-Smith");
  expect(Date.now() - started, 'first page to riding, ms').toBeLessThan(60_000);
});
