// Passkeys and Web Bluetooth work only in a secure context: HTTPS, or localhost. A club serving
// Alleycat under its own name over HTTPS (`--tls-cert`, `--tls-key`) gets one; the same name over
// plain HTTP does not. The name here is `racing.test`, which Chromium resolves to 127.0.0.1, so
// that localhost's own exemption proves nothing; the certificate is a throwaway made with openssl.
// The device cookie a new racer gets is `Secure` there, since the public URL is https.
import { expect, test } from '@playwright/test';
import { HttpsServer, makeCertificate } from '../helpers/server';

const HOST = 'racing.test';
const port = Number(process.env.ALLEYCAT_E2E_TLS_PORT ?? 3941);
let server: HttpsServer;

test.use({
  // The certificate is self-signed: nothing in the browser trusts it.
  ignoreHTTPSErrors: true,
  launchOptions: [
    async ({ launchOptions }, use) => {
      const args = [...(launchOptions.args ?? []), `--host-resolver-rules=MAP ${HOST} 127.0.0.1`];
      await use({ ...launchOptions, args });
    },
    { scope: 'worker' },
  ],
});

test.beforeAll(async () => {
  server = new HttpsServer(port, makeCertificate(HOST));
  await server.start();
});
test.afterAll(async () => server?.stop());

test('over HTTPS the app loads in a secure context', async ({ page }) => {
  const config = page.waitForResponse((response) => response.url().endsWith('/api/config'));
  await page.goto(`${server.url}/`);
  expect(page.url()).toBe(`https://${HOST}:${port}/`);
  expect(await page.evaluate(() => window.isSecureContext)).toBe(true);
  // The app started and reached the API over HTTPS.
  expect((await config).status()).toBe(200);
  await expect(page.getByRole('link', { name: 'Alleycat' })).toBeVisible();
  await expect(page.getByText('Loading the race clock…')).toBeHidden();
});

test('over HTTPS the device cookie of a new racer is Secure', async ({ page }) => {
  await page.goto(`${server.url}/`);
  // The page creates a racer as the app does: a same-origin POST from the browser.
  const status = await page.evaluate(async () => {
    const response = await fetch('/api/racers', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'Secure Rider' }),
    });
    return response.status;
  });
  expect(status).toBe(201);
  const cookies = await page.context().cookies(`${server.url}/api/session`);
  const device = cookies.find((cookie) => cookie.name === 'alleycat_device');
  expect(device).toMatchObject({ secure: true, httpOnly: true, sameSite: 'Strict', path: '/api' });
});

test('the same name over plain HTTP is not a secure context', async ({ page }) => {
  // No server needed to show what the browser decides from the scheme alone.
  await page.route(`http://${HOST}/`, (route) =>
    route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>Plain</title>' }),
  );
  await page.goto(`http://${HOST}/`);
  expect(await page.evaluate(() => window.isSecureContext)).toBe(false);
});
