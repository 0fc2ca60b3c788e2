// A server that takes new racers by invitation only: a newcomer without one is told so in the
// server's words and can paste a code; an invitation link fills the code in; a used invitation
// is refused.
import { expect, test } from '@playwright/test';
import { find } from '../helpers/app';
import { apiKey } from '../helpers/api';
import { Server } from '../helpers/server';

const server = new Server(Number(process.env.ALLEYCAT_E2E_INVITE_PORT ?? 3931), 20, undefined, {
  ALLEYCAT_REGISTRATION: 'invite',
});

test.beforeAll(async () => server.start());
test.afterAll(async () => server.stop());

/** Single-use invitation codes, made with the API key as `alleycat invite` makes them. */
async function invitations(request: import('@playwright/test').APIRequestContext, count: number) {
  const answer = await request.post(`${server.url}/api/invites`, {
    headers: { Authorization: `Bearer ${apiKey(server.dataDir)}` },
    data: { count },
  });
  expect(answer.status()).toBe(201);
  const { links } = await answer.json();
  return (links as string[]).map((link) => new URL(link).searchParams.get('invite')!);
}

test('a newcomer needs an invitation, pasted or from its link, and each invitation makes one racer', async ({ page, browser, request }) => {
  const [pasted, linked] = await invitations(request, 2);

  // Without an invitation: the server's reason, and a field to paste one.
  await page.goto(server.url);
  await expect(find.invite(page)).toHaveCount(0);
  await find.racerName(page).fill('Invited Rider');
  await find.createRacer(page).click();
  await expect(find.racerName(page)).toHaveAccessibleDescription(/need an invitation/);
  await find.invite(page).fill(pasted);
  await find.createRacer(page).click();
  await expect(find.yourRacer(page)).toContainText('Invited Rider');

  // The link fills the code in.
  const friend = await browser.newContext();
  const friendPage = await friend.newPage();
  await friendPage.goto(`${server.url}/?invite=${linked}`);
  await expect(find.invite(friendPage)).toHaveValue(linked);
  await find.racerName(friendPage).fill('Linked Rider');
  await find.createRacer(friendPage).click();
  await expect(find.yourRacer(friendPage)).toContainText('Linked Rider');
  await friend.close();

  // A used invitation makes no second racer.
  const late = await browser.newContext();
  const latePage = await late.newPage();
  await latePage.goto(`${server.url}/?invite=${linked}`);
  await find.racerName(latePage).fill('Late Rider');
  await find.createRacer(latePage).click();
  await expect(find.racerName(latePage)).toHaveAccessibleDescription(/invitation/);
  await expect(find.yourRacer(latePage)).not.toContainText('Racer #');
  await late.close();
});
