/**
 * The C rtnetlink reference (bench/cref.c) as churn implementations: compiled at run time with
 * the machine's `cc -O2` into a cache under os.tmpdir() keyed by the source's hash (as are the
 * bench's other C programs: cBinary), run once per trial in the trial's namespace, where it times
 * each phase itself and prints them as JSON.
 */
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PHASES, PORTS_PER_BRIDGE, type Impl, type Phase } from './impls';

/** bench/FILE from dist/bench/*.js or from bench/ itself (ts-node and the like). */
function source(file: string): string {
  for (const p of [path.join(__dirname, '..', '..', 'bench', file), path.join(__dirname, file)]) if (fs.existsSync(p)) return p;
  throw new Error(`bench/${file} not found`);
}

const built = new Map<string, string>();

/**
 * bench/FILE (a C program) compiled with `cc -O2`, once per source (and compiler) version; with
 * `shared`, a shared object (-shared -fPIC: bench/libvirt-floor.c, loaded with LD_PRELOAD).
 */
export function cBinary(file: string, shared = false): string {
  const known = built.get(file);
  if (known) return known;
  const src = source(file);
  const cc = spawnSync('cc', ['--version'], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`bench/${file} needs a C compiler: \`cc\` was not found`);
  const hash = createHash('sha256').update(fs.readFileSync(src)).update(cc.stdout).digest('hex').slice(0, 16);
  const dir = path.join(os.tmpdir(), 'hostwire-cref');
  const bin = path.join(dir, `${path.basename(file, '.c')}-${hash}${shared ? '.so' : ''}`);
  if (!fs.existsSync(bin)) {
    fs.mkdirSync(dir, { recursive: true });
    const tmp = `${bin}.${process.pid}`;
    const r = spawnSync('cc', ['-O2', '-Wall', ...(shared ? ['-shared', '-fPIC'] : []), '-o', tmp, src], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`cc -O2 ${src}: exit ${r.status}: ${r.stderr.slice(0, 1000)}`);
    fs.renameSync(tmp, bin); // atomic: a concurrent bench never runs a half-written binary
  }
  built.set(file, bin);
  return bin;
}

/** The compiled reference. */
export const crefBinary = (): string => cBinary('cref.c');

export interface CrefRun {
  variant: string;
  phases: Partial<Record<Phase, number>>;
}

/** Runs the reference once in namespace `ns` over `taps` taps (bt0 ...; bridges bbr0 ...). */
export function runCref(ns: string, taps: number, variant: string, extra: string[] = []): CrefRun {
  const args = ['--netns', ns, '--taps', String(taps), '--variant', variant, '--per-bridge', String(PORTS_PER_BRIDGE), ...extra];
  const r = spawnSync(crefBinary(), args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cref ${variant}: exit ${r.status}: ${r.stderr.slice(0, 500)}`);
  return JSON.parse(r.stdout) as CrefRun;
}

/** A C variant as a churn implementation: all phases in one run, each timed by the C program. */
export function cImpl(variant: string): () => Impl {
  return () => ({
    name: `c-${variant}`,
    async open() {},
    async run() {
      throw new Error('the C reference runs all phases at once (runAll)');
    },
    async runAll(s) {
      const out = runCref(s.ns, s.taps.length, variant);
      for (const p of PHASES) if (typeof out.phases[p] !== 'number') throw new Error(`cref ${variant}: no time for ${p}`);
      return { times: out.phases as Record<Phase, number> };
    },
    close() {},
  });
}
