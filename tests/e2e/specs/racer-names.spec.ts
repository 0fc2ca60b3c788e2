// A newcomer's name is checked as they type, with the server's own rules: a bad name says why
// next to the field, markup is shown as text and never runs, and nothing is sent until the name
// is good. (The server's own refusals, shown as it words them: invite.spec.ts.)
import { expect, test } from '@playwright/test';
import { find, snapshot } from '../helpers/app';

test('bad names say why as they are typed, markup stays text, and nothing is sent', async ({ page }, testInfo) => {
  const posted: string[] = [];
  page.on('request', (request) => {
    if (request.url().endsWith('/api/racers') && request.method() === 'POST') posted.push(request.postData() ?? '');
  });
  await page.goto('/');
  const name = find.racerName(page);

  // Cleared: empty.
  await name.fill('Ada');
  await name.fill('   ');
  await expect(name).toHaveAccessibleDescription('Choose a name: it cannot be empty.');
  await expect(name).toHaveAttribute('aria-invalid', 'true');
  await find.createRacer(page).click();
  await expect(name).toBeFocused();

  // Markup: refused, and the message shows the character as text.
  const markup = '<script>window.__ran = true</script><img src=x onerror="window.__ran = true">';
  await name.fill(markup);
  await expect(name).toHaveAccessibleDescription(`A name may hold letters, digits, spaces and . ' - only, not '<'.`);
  await find.createRacer(page).click();
  await expect(find.yourRacer(page).locator('script, img')).toHaveCount(0);
  expect(await page.evaluate(() => (window as any).__ran)).toBeUndefined();
  await snapshot(page, 'racer-name-refused', testInfo);

  // Too long, and a line break pasted in.
  await name.fill('a'.repeat(41));
  await expect(name).toHaveAccessibleDescription('A name is at most 40 characters; this one has 41.');
  await name.fill('Ada\tLovelace');
  await expect(name).toHaveAccessibleDescription('A name cannot hold control characters such as line breaks or tabs.');
  expect(posted, 'no bad name was sent').toEqual([]);

  // A good name (any script) is taken as typed, trimmed.
  await name.fill('  李小龍  ');
  await expect(name).toHaveAttribute('aria-invalid', 'false');
  await find.createRacer(page).click();
  await expect(find.yourRacer(page)).toContainText('李小龍');
  expect(posted.map((body) => JSON.parse(body).name)).toEqual(['李小龍']);
});
