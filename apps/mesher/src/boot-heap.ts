import { setFlagsFromString } from 'node:v8';

/**
 * Start-up (Nest, TypeORM metadata, module code) allocates in bursts with a high survival rate, so V8
 * doubles its young generation to 2 x 16 MiB and keeps that committed until its memory reducer runs
 * after tens of idle seconds: about 30 MB of a fresh Mesher's RSS. Holding the young generation at its
 * initial size while booting avoids that at no measurable start-up cost; V8's default growth is back
 * once the listeners are open, so traffic sizes it exactly as before. (Only after V8 has configured its
 * heap does a growth factor of 1 stick: on the command line V8 raises it to 2.) A user's own
 * semi-space flags are left alone.
 */
const DEFAULT_GROWTH_FACTOR = 2;
const userTuned = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) => a.includes('semi-space'));
let held = false;

export function holdYoungGeneration(): void {
  if (userTuned || held) return;
  setFlagsFromString('--semi-space-growth-factor=1');
  held = true;
}

export function releaseYoungGeneration(): void {
  if (!held) return;
  setFlagsFromString(`--semi-space-growth-factor=${DEFAULT_GROWTH_FACTOR}`);
  held = false;
}

holdYoungGeneration();
