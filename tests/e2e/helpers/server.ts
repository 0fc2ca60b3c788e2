// A private `alleycat serve` for specs that stop and start the server themselves.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../../..');
const binary = process.env.ALLEYCAT_BIN ?? path.join(root, 'target/debug/alleycat');

export class Server {
  readonly dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alleycat-e2e-own-'));
  private child?: ChildProcess;
  log = '';

  /**
   * `dist` is the built app it serves (default: dist/, or ALLEYCAT_E2E_DIST); `env` adds
   * settings (`ALLEYCAT_*` variables).
   */
  constructor(
    readonly port: number,
    readonly raceSeconds = 20,
    readonly dist = process.env.ALLEYCAT_E2E_DIST ?? path.join(root, 'dist'),
    readonly env: Record<string, string> = {},
  ) {}

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts the server and waits until /healthz answers. */
  async start(timeoutMs = 30_000) {
    this.child = spawn(binary, ['serve'], {
      env: {
        ...process.env,
        ALLEYCAT_HOST: '127.0.0.1',
        ALLEYCAT_PORT: String(this.port),
        ALLEYCAT_DATA_DIR: this.dataDir,
        ALLEYCAT_DIST: this.dist,
        ALLEYCAT_RACE_SECONDS: String(this.raceSeconds),
        ALLEYCAT_DELIVERY_INTERVAL_MS: '1000',
        ALLEYCAT_LOG: 'info',
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout?.on('data', (d) => (this.log += d));
    this.child.stderr?.on('data', (d) => (this.log += d));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const response = await fetch(`${this.url}/healthz`);
        if (response.ok) return;
      } catch {
        // Not up yet.
      }
      if (Date.now() > deadline) throw new Error(`alleycat did not start:\n${this.log}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Stops the server with `signal` and waits for the process to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM') {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
    this.child = undefined;
  }
}
