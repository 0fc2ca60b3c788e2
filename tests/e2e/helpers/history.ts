// A small all-time history in the shared codec's format (version 1, see domain/src/history.rs),
// written where the server serves history files from.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

/** bests[racerId][second - 1] = output (0 where none). */
export type Bests = Map<number, number[]>;

/** The gzipped version-1 history file for these bests. */
export function encodeHistory(classId: number, raceSeconds: number, bests: Bests): Buffer {
  const ids = [...bests.keys()].sort((a, b) => a - b);
  const racers: number[] = [];
  const deltas: number[] = [];
  let prevId = 0;
  let prev = 0;
  for (const id of ids) {
    racers.push(id - prevId);
    prevId = id;
    const row = bests.get(id)!;
    for (let s = 0; s < raceSeconds; s++) {
      const centi = Math.round((row[s] ?? 0) * 100);
      deltas.push(centi - prev);
      prev = centi;
    }
  }
  const json = JSON.stringify({ format: 'alleycat-history', version: 1, classId, raceSeconds, racers, bests: deltas });
  return zlib.gzipSync(Buffer.from(json));
}

/** Writes the history of `classId` into the server's data directory. */
export function seedHistory(dataDir: string, classId: number, raceSeconds: number, bests: Bests): string {
  const file = path.join(dataDir, 'objects', 'history', `class-${classId}.gz`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, encodeHistory(classId, raceSeconds, bests));
  return file;
}
