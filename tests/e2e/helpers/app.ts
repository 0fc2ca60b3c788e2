// The racing app as a person sees it: find what is on screen, act on it, check it. Role and label
// locators only; waits are for what a person would wait for, never fixed sleeps.
import { expect, type Page } from '@playwright/test';

// ---- find ---------------------------------------------------------------------------------
export const find = {
  racerSearch: (page: Page) => page.getByLabel('Find a racer by name or id'),
  racerResult: (page: Page, name: string | RegExp) =>
    page.getByRole('list', { name: 'Matching racers' }).getByRole('button', { name }),
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
/** Opens the app, picks the racer by searching for `query` and the class, and presses Start. */
export async function startRide(
  page: Page,
  opts: { query: string; racer: string | RegExp; className: string; url?: string },
) {
  await page.goto(opts.url ?? '/');
  await find.racerSearch(page).fill(opts.query);
  await find.racerResult(page, opts.racer).first().click();
  await find.classRadio(page, opts.className).check();
  await find.start(page).click();
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
