// A racer on a real bike. A scripted stand-in for the radio (`navigator.bluetooth`, injected
// with addInitScript) plays a trainer that notifies Indoor Bike Data and answers its control
// point, and a heart-rate strap; everything from the bytes on is the app's own code.
import { expect, test, type Page } from '@playwright/test';
import { find, setSlider, startRide, waitForRaceToStart } from '../helpers/app';

/** Runs in the page before the app: the stand-in radio. */
function standInRadio() {
  type Listener = (event: { target: unknown }) => void;
  class Emitter {
    listeners: Record<string, Listener[]> = {};
    addEventListener(type: string, listener: Listener) {
      (this.listeners[type] ??= []).push(listener);
    }
    emit(type: string) {
      for (const l of this.listeners[type] ?? []) l({ target: this });
    }
  }
  const radio = { writes: [] as number[][], devices: {} as Record<string, Device> };
  (window as unknown as { radio: typeof radio }).radio = radio;
  class Characteristic extends Emitter {
    value: DataView | null = null;
    timer: number | undefined;
    constructor(public uuid: number, public packet: (() => number[]) | null, public device: Device) {
      super();
    }
    notify(bytes: number[]) {
      this.value = new DataView(new Uint8Array(bytes).buffer);
      this.emit('characteristicvaluechanged');
    }
    /** A readable characteristic's value (`fixed`), as a DataView. */
    fixed: number[] | null = null;
    async readValue() {
      if (!this.fixed) throw new Error(`characteristic ${this.uuid} is not readable`);
      return new DataView(new Uint8Array(this.fixed).buffer);
    }
    async startNotifications() {
      if (this.packet) {
        this.timer = window.setInterval(() => this.device.connected && this.notify(this.packet!()), 250);
      }
      return this;
    }
    async writeValue(data: Uint8Array) {
      const bytes = Array.from(data);
      radio.writes.push(bytes);
      // The trainer answers every request: 0x80, the op code, success.
      setTimeout(() => this.notify([0x80, bytes[0], 0x01]), 10);
    }
  }
  class Device extends Emitter {
    connected = false;
    characteristics: Record<number, Record<number, Characteristic>> = {};
    constructor(public name: string) {
      super();
    }
    gatt = {
      connect: async () => {
        this.connected = true;
        return {
          getPrimaryService: async (service: number) => {
            const chars = this.characteristics[service];
            if (!chars) throw new Error(`no service ${service}`);
            return {
              getCharacteristic: async (uuid: number) => {
                if (!chars[uuid]) throw new Error(`no characteristic ${uuid}`);
                return chars[uuid];
              },
            };
          },
        };
      },
    };
    drop() {
      this.connected = false;
      this.emit('gattserverdisconnected');
    }
  }
  // A trainer: flags 0x0044 (speed, cadence, power): 30 km/h, 90 rpm (180 half-rpm), 250 W.
  // Its Supported Resistance Level Range (0x2AD6): 0 to 20.0 in steps of 1.0, in tenths.
  const trainer = new Device('Stand-in trainer');
  const range = new Characteristic(0x2ad6, null, trainer);
  range.fixed = [0x00, 0x00, 0xc8, 0x00, 0x0a, 0x00];
  trainer.characteristics[0x1826] = {
    0x2ad2: new Characteristic(0x2ad2, () => [0x44, 0x00, 0xb8, 0x0b, 0xb4, 0x00, 0xfa, 0x00], trainer),
    0x2ad6: range,
    0x2ad9: new Characteristic(0x2ad9, null, trainer),
  };
  // A strap: flags 0x16 (u8 rate, contact, RR intervals): 141 bpm.
  const strap = new Device('Stand-in strap');
  strap.characteristics[0x180d] = {
    0x2a37: new Characteristic(0x2a37, () => [0x16, 141, 0xb5, 0x01], strap),
  };
  radio.devices = { trainer, strap };
  Object.defineProperty(navigator, 'bluetooth', {
    value: {
      requestDevice: async (options: { filters: { services: number[] }[] }) =>
        options.filters[0].services[0] === 0x180d ? strap : trainer,
    },
  });
}

/** The events the app sends, as the server receives them: on its live WebSocket, or posted. */
function recordEvents(page: Page) {
  const events: Record<string, unknown>[] = [];
  page.on('websocket', (socket) => {
    socket.on('framesent', ({ payload }) => {
      const message = JSON.parse(String(payload));
      if (message.type === 'events') events.push(...(message.events as Record<string, unknown>[]));
    });
  });
  page.on('request', (request) => {
    if (request.url().endsWith('/api/events') && request.method() === 'POST') {
      events.push(...(request.postDataJSON().events as Record<string, unknown>[]));
    }
  });
  return events;
}

test('a racer connects a trainer and a heart-rate strap and races on measured power', async ({ page }) => {
  test.setTimeout(90_000);
  await page.addInitScript(standInRadio);
  const events = recordEvents(page);
  const racer = await startRide(page, { className: 'Fixie' });

  await page.getByRole('button', { name: 'Connect a bike' }).click();
  await expect(page.getByTestId('bike-status')).toHaveText('connected: Stand-in trainer');
  await expect(page.getByTestId('device-power')).toHaveText('250 W');
  await expect(page.getByTestId('trainer-answer')).toHaveText('trainer: done');
  await page.getByRole('button', { name: 'Connect heart rate' }).click();
  await expect(page.getByTestId('heart-status')).toHaveText('connected: Stand-in strap');
  await expect(page.getByTestId('device-heart-rate')).toHaveText('141 bpm');

  // The resistance slider drives the trainer: Set Target Resistance Level (0x04), the slider's
  // share of the trainer's own range (0 to 20.0), in tenths: 60 % is level 12.0, 120 tenths.
  await setSlider(page, find.resistance(page), 60);
  const levels = () =>
    page.evaluate(() =>
      (window as any).radio.writes
        .filter((w: number[]) => w[0] === 0x04)
        .map((w: number[]) => new DataView(new Uint8Array(w).buffer).getInt16(1, true)),
    );
  await expect.poll(async () => (await levels()).at(-1)).toBe(120);
  for (const tenths of await levels()) {
    expect(tenths, 'every level is within the range, on its 1.0 increment').toBeGreaterThanOrEqual(0);
    expect(tenths).toBeLessThanOrEqual(200);
    expect(tenths % 10).toBe(0);
  }

  await waitForRaceToStart(page);
  await expect.poll(() => events.length).toBeGreaterThan(0);
  expect(events[events.length - 1]).toMatchObject({ source: 'trainer', power: 250, heartRate: 141, cadence: 90 });
  // The here-now board marks the rider as on a real bike.
  const myRow = find.hereNowBoard(page).locator('[aria-current="true"]');
  await expect(myRow.getByText('Real bike')).toBeVisible({ timeout: 10_000 });

  // The trainer drops; the app says so and reconnects by itself.
  await page.evaluate(() => (window as any).radio.devices.trainer.drop());
  await expect(page.getByTestId('bike-status')).toHaveText(/reconnecting/);
  await expect(page.getByTestId('bike-status')).toHaveText('connected: Stand-in trainer', { timeout: 5_000 });

  await expect(find.finishHeadline(page)).toBeVisible({ timeout: 40_000 });
  await expect(page.getByRole('link', { name: 'Download .fit' })).toBeVisible({ timeout: 30_000 });
  // The race results mark the ride as on a real bike too.
  const myResult = find.raceResults(page).first().getByRole('row').filter({ hasText: racer.name });
  await expect(myResult.getByText('Real bike')).toBeVisible();
});

test('a browser without Web Bluetooth says why and rides the simulated bike', async ({ page }) => {
  await page.addInitScript(() => Object.defineProperty(navigator, 'bluetooth', { value: undefined }));
  await startRide(page, { className: 'Fixie' });
  await expect(page.getByTestId('no-bluetooth')).toContainText('no Web Bluetooth');
  await expect(page.getByRole('button', { name: 'Connect a bike' })).toHaveCount(0);
});
