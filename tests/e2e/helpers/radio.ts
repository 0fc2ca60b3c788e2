// A stand-in for the radio: `navigator.bluetooth`, injected into the page with addInitScript
// before the app starts. It plays a trainer that notifies Indoor Bike Data and answers its
// control point, and a heart-rate strap; everything from the bytes on is the app's own code.

/** Runs in the page before the app: the stand-in radio. */
export function standInRadio() {
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
