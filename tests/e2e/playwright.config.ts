// Playwright drives the real app, served by the real `alleycat` binary, in Debian's Chromium.
// scripts/test.sh builds both before running this; nothing is downloaded here.
import { defineConfig } from '@playwright/test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../..');
const port = Number(process.env.ALLEYCAT_E2E_PORT ?? 3917);
const baseURL = `http://127.0.0.1:${port}`;
const binary = process.env.ALLEYCAT_BIN ?? path.join(root, 'target/debug/alleycat');
// A fresh data directory per run, made once in the main process and handed to workers.
process.env.ALLEYCAT_E2E_DATA ??= fs.mkdtempSync(path.join(os.tmpdir(), 'alleycat-e2e-'));

export default defineConfig({
  testDir: './specs',
  outputDir: './test-results',
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [['list'], ['html', { outputFolder: 'playwright-report', open: 'never' }]],
  use: {
    baseURL,
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  projects: [{ name: 'chromium', use: { browserName: 'chromium' } }],
  webServer: {
    command: `"${binary}" serve`,
    url: `${baseURL}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe',
    stderr: 'pipe',
    env: {
      ALLEYCAT_HOST: '127.0.0.1',
      ALLEYCAT_PORT: String(port),
      ALLEYCAT_DATA_DIR: process.env.ALLEYCAT_E2E_DATA,
      ALLEYCAT_DIST: path.join(root, 'dist'),
      ALLEYCAT_RACE_SECONDS: '20',
      // Issue 6's e2e runs with a 1-second delivery interval, so results follow a race at once.
      ALLEYCAT_DELIVERY_INTERVAL_MS: '1000',
      ALLEYCAT_LOG: 'info',
      // Every spec creates its racers from this one address.
      ALLEYCAT_RACER_CREATIONS_PER_HOUR: '1000',
    },
  },
});
