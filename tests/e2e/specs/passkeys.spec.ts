// A racer's passkey brings their racer back to a browser that forgot it. Chromium's virtual
// authenticator (the DevTools protocol's WebAuthn domain, made for testing) stands in for a
// phone or a security key: it keeps discoverable credentials and verifies the user at once.
//
// Passkeys need a name, not an IP address, so these pages are on http://localhost:<port> (the
// server's default public URL), not the suite's 127.0.0.1.
import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { createRacer, find, snapshot, startRide } from '../helpers/app';

/** The suite's server by its name. */
const byName = (baseURL: string | undefined) => baseURL!.replace('127.0.0.1', 'localhost');

/** A fresh browser at `site` with a virtual platform authenticator (like a phone's). */
async function browserWithAuthenticator(browser: Browser, site: string) {
  const context = await browser.newContext({ baseURL: site });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
  });
  const passkeysKept = async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
  /** Forgets everything the site stored in this browser: cookies, local and session storage. */
  const forgetSite = async () => {
    await cdp.send('Storage.clearDataForOrigin', { origin: site, storageTypes: 'all' });
    await context.clearCookies();
  };
  return { context, page, passkeysKept, forgetSite };
}

/** Adds a passkey from the racer's menu and waits until the menu lists it. */
async function addPasskey(page: Page) {
  await find.racerMenu(page).click();
  await expect(find.menu(page)).toContainText('No passkeys yet');
  await find.addPasskey(page).click();
  await expect(find.passkeys(page).getByRole('listitem')).toHaveCount(1);
}

/** What another browser gets when it asks for a session: nothing without proof. */
async function strangerSessions(browser: Browser, site: string, racerId: number) {
  const stranger: BrowserContext = await browser.newContext({ baseURL: site });
  try {
    const plain = await stranger.request.post('/api/session', { data: {} });
    const byId = await stranger.request.post('/api/session', { data: { racerId } });
    return [plain.status(), byId.status()];
  } finally {
    await stranger.close();
  }
}

test('a racer rides, adds a passkey, and signs in with it as the same racer after the browser forgot them', async ({ browser, baseURL }, testInfo) => {
  test.setTimeout(150_000);
  const site = byName(baseURL);
  const { context, page, passkeysKept, forgetSite } = await browserWithAuthenticator(browser, site);

  // Create a racer and ride a race (20 s on the suite's server) to its results.
  const racer = await startRide(page, { className: 'Tempo' });
  await find.autopilot(page).click();
  await expect(find.finishHeadline(page)).toBeVisible({ timeout: 60_000 });
  await expect(find.raceResults(page).first().getByRole('row').filter({ hasText: racer.name })).toBeVisible({ timeout: 30_000 });

  // Add a passkey: the authenticator keeps it as a discoverable credential.
  await addPasskey(page);
  const kept = await passkeysKept();
  expect(kept).toHaveLength(1);
  expect(kept[0].isResidentCredential).toBe(true);
  await expect(find.devices(page).getByRole('listitem').filter({ hasText: 'this device' })).toHaveCount(1);
  await snapshot(page, 'racer-menu', testInfo);

  // The browser forgets the site: a newcomer again.
  await forgetSite();
  expect(await context.cookies()).toEqual([]);
  await page.goto('/');
  await expect(find.racerName(page)).toBeVisible();
  expect(await page.evaluate(() => localStorage.length)).toBe(0);

  // Sign in with the passkey: the same racer, with their results.
  await find.passkeySignIn(page).click();
  await expect(find.yourRacer(page)).toContainText(racer.name);
  await expect(find.yourRacer(page)).toContainText(`Racer #${racer.id.toLocaleString('en-US')}`);
  await find.classRadio(page, 'Tempo').check();
  await find.recordsTab(page, 'Class leaderboard').click();
  const myRow = find.classLeaderboard(page).getByRole('row').filter({ hasText: racer.name });
  await expect(myRow).toBeVisible({ timeout: 30_000 });
  await expect(myRow).toHaveClass(/\bme\b/);
  // The sign-in made this device theirs: it stays signed in after a reload.
  await page.reload();
  await expect(find.yourRacer(page)).toContainText(racer.name);

  // Another browser cannot get a session for them, with or without their id.
  expect(await strangerSessions(browser, site, racer.id)).toEqual([401, 401]);
  await context.close();
});

test('a racer signs out, signs back in with a passkey, and a removed passkey no longer signs in', async ({ browser, baseURL }) => {
  const site = byName(baseURL);
  const { context, page } = await browserWithAuthenticator(browser, site);
  const racer = await createRacer(page);
  await addPasskey(page);

  // The menu closes with Escape (back to its button) and with a click elsewhere.
  await page.keyboard.press('Escape');
  await expect(find.menu(page)).toHaveCount(0);
  await expect(find.racerMenu(page)).toBeFocused();
  await find.racerMenu(page).click();
  await expect(find.menu(page)).toBeVisible();
  await page.getByRole('heading', { level: 1 }).click();
  await expect(find.menu(page)).toHaveCount(0);
  await find.racerMenu(page).click();

  // Sign out: this device forgets the racer, also after a reload.
  await find.signOut(page).click();
  await expect(find.racerName(page)).toBeVisible();
  await expect(find.racerMenu(page)).toHaveCount(0);
  await page.reload();
  await expect(find.racerName(page)).toBeVisible();

  // The passkey brings them back.
  await find.passkeySignIn(page).click();
  await expect(find.yourRacer(page)).toContainText(racer.name);

  // Removed from the menu, the passkey is refused with the server's reason.
  await find.racerMenu(page).click();
  await find.passkeys(page).getByRole('button', { name: /^Remove / }).click();
  await expect(find.menu(page)).toContainText('No passkeys yet');
  await find.signOut(page).click();
  await find.passkeySignIn(page).click();
  await expect(find.yourRacer(page).getByRole('alert')).not.toBeEmpty();
  await expect(find.racerName(page)).toBeVisible();
  await context.close();
});

test('where passkeys cannot work, the page says why instead of offering them', async ({ page, browser, baseURL }) => {
  // The suite's own address is an IP address.
  await page.goto('/');
  await expect(find.passkeySignIn(page)).toHaveCount(0);
  await expect(page.getByTestId('passkeys-missing')).toContainText('not an IP address');

  // A browser without WebAuthn, at a name.
  const context = await browser.newContext({ baseURL: byName(baseURL) });
  const other = await context.newPage();
  await other.addInitScript(() => {
    delete (window as any).PublicKeyCredential;
  });
  await other.goto('/');
  await expect(find.passkeySignIn(other)).toHaveCount(0);
  await expect(other.getByTestId('passkeys-missing')).toContainText('This browser has no passkeys (WebAuthn).');
  await context.close();
});
