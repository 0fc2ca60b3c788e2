// The app's performance benchmark (not a test): `npx --no-install playwright test --config bench.config.ts`.
// It starts its own servers, so the shared webServer of playwright.config.ts is not used.
import { defineConfig } from '@playwright/test';
import base from './playwright.config';

export default defineConfig({
  ...base,
  testDir: './bench',
  testMatch: '**/*.bench.ts',
  timeout: 300_000,
  reporter: [['list']],
  webServer: undefined,
});
