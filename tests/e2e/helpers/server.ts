// A private `alleycat serve` for specs that stop and start the server themselves, over HTTP or
// (`HttpsServer`) HTTPS.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
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
        if (await this.healthy()) return;
      } catch {
        // Not up yet.
      }
      if (Date.now() > deadline) throw new Error(`alleycat did not start:\n${this.log}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Whether /healthz answers. */
  protected async healthy(): Promise<boolean> {
    return (await fetch(`${this.url}/healthz`)).ok;
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

/** A PEM certificate and its key, for `--tls-cert` / `--tls-key`. */
export interface Certificate {
  cert: string;
  key: string;
  /** The host name the certificate is for. */
  host: string;
}

/**
 * A throwaway self-signed certificate for `host` (and 127.0.0.1), made with the `openssl` CLI
 * into a new temporary directory; valid for a day.
 */
export function makeCertificate(host = 'localhost'): Certificate {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alleycat-e2e-tls-'));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-days', '1', '-subj', `/CN=${host}`, '-addext', `subjectAltName=DNS:${host},IP:127.0.0.1`,
    '-keyout', key, '-out', cert,
  ], { stdio: 'pipe' });
  return { cert, key, host };
}

/** `alleycat serve` over HTTPS (`--tls-cert`, `--tls-key`) with `certificate`, on 127.0.0.1. */
export class HttpsServer extends Server {
  constructor(
    port: number,
    readonly certificate: Certificate,
    raceSeconds = 20,
  ) {
    super(port, raceSeconds, undefined, {
      ALLEYCAT_TLS_CERT: certificate.cert,
      ALLEYCAT_TLS_KEY: certificate.key,
    });
  }

  /** Where a browser opens it: the certificate's host name (the browser must resolve it). */
  override get url() {
    return `https://${this.certificate.host}:${this.port}`;
  }

  /** Whether /healthz answers over HTTPS, trusting only the server's certificate. */
  protected override async healthy(): Promise<boolean> {
    const ca = fs.readFileSync(this.certificate.cert);
    const options = {
      host: '127.0.0.1',
      port: this.port,
      path: '/healthz',
      servername: this.certificate.host,
      ca,
      timeout: 5_000,
    };
    return new Promise((resolve, reject) => {
      const request = https.get(options, (response) => {
        response.resume();
        resolve(response.statusCode === 200);
      });
      request.on('timeout', () => request.destroy(new Error('no answer in time')));
      request.on('error', reject);
    });
  }
}
