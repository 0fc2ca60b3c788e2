// The racing app as a person sees it: find what is on screen, act on it, check it. Role and label
// locators only; waits are for what a person would wait for, never fixed sleeps.
import { expect, type Page } from '@playwright/test';

// ---- find ---------------------------------------------------------------------------------
export const find = {
  yourRacer: (page: Page) => page.getByRole('region', { name: '1. Your racer' }),
  racerName: (page: Page) => page.getByLabel("Your racer's name"),
  invite: (page: Page) => page.getByLabel('Invitation code'),
  createRacer: (page: Page) => page.getByRole('button', { name: 'Create your racer' }),
  racerSearch: (page: Page) => page.getByLabel('Find a racer by name or id'),
  racerResult: (page: Page, name: string | RegExp) =>
    page.getByRole('list', { name: 'Matching racers' }).getByRole('link', { name }),
  passkeySignIn: (page: Page) => page.getByRole('button', { name: 'Sign in with a passkey' }),
  racerMenu: (page: Page) => page.getByRole('button', { name: /^Your racer: / }),
  menu: (page: Page) => page.getByRole('region', { name: "Your racer's menu" }),
  addPasskey: (page: Page) => page.getByRole('button', { name: 'Add a passkey' }),
  passkeys: (page: Page) => page.getByRole('list', { name: 'Your passkeys' }),
  devices: (page: Page) => page.getByRole('list', { name: 'Your devices' }),
  signOut: (page: Page) => page.getByRole('button', { name: 'Sign out' }),
  classRadio: (page: Page, name: string) => page.getByRole('radio', { name }),
  start: (page: Page) => page.getByRole('button', { name: 'Start', exact: true }),
  cadence: (page: Page) => page.getByRole('slider', { name: /Cadence/ }),
  resistance: (page: Page) => page.getByRole('slider', { name: /Resistance/ }),
  autopilot: (page: Page) => page.getByRole('switch', { name: 'Autopilot' }),
  output: (page: Page) => page.getByTestId('output'),
  raceTotal: (page: Page) => page.getByTestId('race-total'),
  raceSecond: (page: Page) => page.getByTestId('race-second'),
  progress: (page: Page) => page.getByRole('progressbar', { name: 'Race progress' }),
  messages: (page: Page) => page.getByRole('log', { name: 'Messages sent to the server' }),
  boardToggle: (page: Page, name: 'Here now' | 'All time') =>
    page.getByRole('group', { name: 'Leaderboard to show' }).getByRole('button', { name }),
  hereNowBoard: (page: Page) => page.getByRole('list', { name: 'Here now: this race, ranked by total' }),
  allTimeBoard: (page: Page) => page.getByRole('list', { name: "All time: everyone's best at this second" }),
  myRank: (page: Page) => page.getByTestId('my-rank'),
  trophy: (page: Page) => page.getByRole('img', { name: 'Personal best for this second' }),
  finishHeadline: (page: Page) => page.getByRole('heading', { name: /^You finished/ }),
  raceResults: (page: Page) => page.getByRole('table', { name: 'Race results' }),
  classLeaderboard: (page: Page) => page.getByRole('table', { name: 'Class leaderboard' }),
  emptyClassLeaderboard: (page: Page) => page.getByText('No races finished in this class yet.'),
  recordsTab: (page: Page, name: 'Class leaderboard' | 'Past races') =>
    page.getByRole('group', { name: 'Records to show' }).getByRole('button', { name }),
  liveDisconnected: (page: Page) => page.getByTestId('live-disconnected'),
};

// ---- act ----------------------------------------------------------------------------------
/** A racer as the server answers it. */
export interface Racer {
  id: number;
  name: string;
}

/** A display name no other test uses (letters, digits and a space, as names allow). */
export function uniqueName(prefix = 'Rider'): string {
  return `${prefix} ${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * Opens the app (at `url`, default the suite's server) and creates a racer called `name` (a
 * fresh one by default) with the set-up screen's one field and one button; the page then shows
 * them as the device's racer. Returns the racer the server made.
 */
export async function createRacer(page: Page, opts: { name?: string; url?: string } = {}): Promise<Racer> {
  await page.goto(opts.url ?? '/');
  await find.racerName(page).fill(opts.name ?? uniqueName());
  const created = page.waitForResponse((r) => r.url().endsWith('/api/racers') && r.request().method() === 'POST');
  await find.createRacer(page).click();
  const response = await created;
  expect(response.status(), await response.text()).toBe(201);
  const { racer } = await response.json();
  await expect(find.yourRacer(page)).toContainText(racer.name);
  return racer;
}

/** Picks the class on the set-up screen and presses Start (the device has its racer). */
export async function pickClassAndStart(page: Page, className: string) {
  await find.classRadio(page, className).check();
  await find.start(page).click();
}

/** Opens the app as a newcomer, creates their racer, picks the class and presses Start. */
export async function startRide(page: Page, opts: { className: string; name?: string; url?: string }): Promise<Racer> {
  const racer = await createRacer(page, opts);
  await pickClassAndStart(page, opts.className);
  return racer;
}

/** Sets a slider from the keyboard, as a person without a mouse would. */
export async function setSlider(page: Page, slider: ReturnType<Page['getByRole']>, value: number) {
  await slider.focus();
  await slider.press('Home');
  const current = Number(await slider.inputValue());
  for (let v = current; v < value; v++) await slider.press('ArrowRight');
}

/** Waits until the race this page joined is running (the countdown is over). */
export async function waitForRaceToStart(page: Page, timeout = 30_000) {
  await expect(find.raceSecond(page)).not.toHaveText(/^0 \//, { timeout });
}

// ---- check --------------------------------------------------------------------------------
/** The here-now board's rows, top to bottom, as [place, name] pairs. */
export async function boardRows(board: ReturnType<Page['getByRole']>) {
  const rows = board.getByRole('listitem');
  const n = await rows.count();
  const out: { place: number; name: string; top: number; me: boolean }[] = [];
  for (let i = 0; i < n; i++) {
    const row = rows.nth(i);
    const place = Number(await row.locator('.place').textContent());
    const name = (await row.locator('.name').textContent()) ?? '';
    const box = await row.boundingBox();
    const me = (await row.getAttribute('aria-current')) === 'true';
    out.push({ place, name, top: box?.y ?? 0, me });
  }
  return out.sort((a, b) => a.top - b.top);
}

/** Saves a screenshot of the whole page under artifacts/ and in the test's output. */
export async function snapshot(page: Page, name: string, testInfo: { outputPath: (n: string) => string }) {
  await page.screenshot({ path: testInfo.outputPath(`${name}.png`), fullPage: true });
  await page.screenshot({ path: `artifacts/${name}.png`, fullPage: true });
}
