// Talking to the server the way a producer does: with the API key, straight over HTTP. Used to
// put other racers into a race and to read what the server stored.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import type { APIRequestContext } from '@playwright/test';

/** The e2e server's data directory (set by playwright.config.ts). */
export function dataDir(): string {
  const dir = process.env.ALLEYCAT_E2E_DATA;
  if (!dir) throw new Error('ALLEYCAT_E2E_DATA is not set: run through playwright.config.ts');
  return dir;
}

/** The API key the server generated into its data directory on first start. */
export function apiKey(dir = dataDir()): string {
  return fs.readFileSync(path.join(dir, 'api-key'), 'utf8').trim();
}

export interface Config {
  raceSeconds: number;
  serverTimeMs: number;
  currentRaceId: number;
  nextRaceStartMs: number;
  classes: { id: number; name: string }[];
}

export async function config(request: APIRequestContext): Promise<Config> {
  const response = await request.get('/api/config');
  if (!response.ok()) throw new Error(`GET /api/config: ${response.status()}`);
  return response.json();
}

/** The server's clock, estimated from /api/config. */
export async function serverNow(request: APIRequestContext): Promise<number> {
  const before = Date.now();
  const c = await config(request);
  return c.serverTimeMs + (Date.now() - before) / 2;
}

export interface Reading {
  racerId: number;
  cadence: number;
  resistance: number;
}

/** Sends one second of a race for several racers with the API key. Returns the server's answer. */
export async function postSecond(
  request: APIRequestContext,
  opts: { raceId: number; classId: number; second: number; raceSeconds: number; readings: Reading[]; key?: string },
) {
  const events = opts.readings.map((r) => ({
    uuid: randomUUID(),
    event: opts.second >= opts.raceSeconds ? 'final' : 'update',
    deviceTimestamp: Date.now(),
    second: opts.second,
    raceId: opts.raceId,
    racerId: r.racerId,
    classId: opts.classId,
    cadence: r.cadence,
    resistance: r.resistance,
  }));
  const response = await request.post('/api/events', {
    headers: { Authorization: `Bearer ${opts.key ?? apiKey()}` },
    data: { events },
  });
  if (!response.ok()) throw new Error(`POST /api/events: ${response.status()} ${await response.text()}`);
  return response.json();
}

/** The shared output formula. */
export function output(cadence: number, resistance: number): number {
  return ((cadence + 35) * (resistance + 65)) / 100;
}

/** How many racers the class's history file holds (a class without history has an empty one). */
export async function historyRacers(request: APIRequestContext, classId: number): Promise<number> {
  const response = await request.get(`/api/history/class-${classId}.gz`);
  if (!response.ok()) throw new Error(`GET /api/history/class-${classId}.gz: ${response.status()}`);
  return JSON.parse(gunzipSync(await response.body()).toString('utf8')).racers.length;
}

/** The racer ids a class's history file holds (its `racers` are delta-encoded). */
export async function historyRacerIds(request: APIRequestContext, classId: number): Promise<number[]> {
  const response = await request.get(`/api/history/class-${classId}.gz`);
  if (!response.ok()) throw new Error(`GET /api/history/class-${classId}.gz: ${response.status()}`);
  const deltas: number[] = JSON.parse(gunzipSync(await response.body()).toString('utf8')).racers;
  let id = 0;
  return deltas.map((delta) => (id += delta));
}

/** A racer as `GET /api/racers/{id}` answers it (people and roster racers alike). */
export async function racerInfo(request: APIRequestContext, id: number): Promise<{ id: number; name: string }> {
  const response = await request.get(`/api/racers/${id}`);
  if (!response.ok()) throw new Error(`GET /api/racers/${id}: ${response.status()}`);
  return response.json();
}
