/**
 * The implementations the churn trial compares, each doing one phase over N taps spread over
 * bridges (a Linux bridge holds at most 1024 ports) in a given namespace.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Handle } from '../src/rtnl/handle';
import { runBatch, type BatchOp } from '../src/rtnl/batch';

export const PHASES = ['create', 'up', 'attach', 'detach', 'delete'] as const;
export type Phase = (typeof PHASES)[number];

export interface Setup {
  ns: string;
  taps: string[];
  /** Bridge of each tap. */
  bridgeOf: (i: number) => string;
  bridges: string[];
}

export interface Impl {
  name: string;
  /** Operations per phase it really performs (ip-per-op caps this), for scaling. */
  cap?: number;
  open(s: Setup): Promise<void>;
  run(phase: Phase, s: Setup): Promise<void>;
  close(): void;
}

export const PORTS_PER_BRIDGE = 1000;

function fail(what: string, r: ReturnType<typeof spawnSync>): never {
  throw new Error(`${what}: exit ${r.status}: ${String(r.stderr).slice(0, 500)}`);
}

/** hostwire, one batch per phase: pipelined, names resolved once, batched unregister. */
export function hostwireBatch(): Impl {
  let h: Handle;
  const ops = (phase: Phase, s: Setup): BatchOp[] =>
    s.taps.map((name, i): BatchOp => {
      switch (phase) {
        case 'create':
          return { op: 'createTap', name };
        case 'up':
          return { op: 'setLink', dev: name, change: { up: true } };
        case 'attach':
          return { op: 'setLink', dev: name, change: { master: s.bridgeOf(i) } };
        case 'detach':
          return { op: 'setLink', dev: name, change: { master: null } };
        case 'delete':
          return { op: 'delete', dev: name };
      }
    });
  return {
    name: 'hostwire-batch',
    async open(s) {
      h = new Handle({ netns: s.ns });
    },
    async run(phase, s) {
      const r = await runBatch(h, ops(phase, s), { onError: 'stop' });
      const bad = r.results.find((x): x is { ok: false; error: Error } => !x.ok);
      if (bad) throw bad.error;
    },
    close: () => h.close(),
  };
}

/** hostwire, awaiting each operation in turn (bridge indexes resolved once). */
export function hostwireSerial(): Impl {
  let h: Handle;
  const index = new Map<string, number>();
  return {
    name: 'hostwire-serial',
    async open(s) {
      h = new Handle({ netns: s.ns });
      for (const b of s.bridges) index.set(b, (await h.getLink(b)).index);
    },
    async run(phase, s) {
      for (let i = 0; i < s.taps.length; i++) {
        const t = s.taps[i];
        if (phase === 'create') await h.createTap(t);
        else if (phase === 'up') await h.setUp(t);
        else if (phase === 'attach') await h.setMaster(t, index.get(s.bridgeOf(i)) as number);
        else if (phase === 'detach') await h.setNoMaster(t);
        else await h.deleteLink(t);
      }
    },
    close: () => h.close(),
  };
}

function ipLine(phase: Phase, t: string, br: string): string[] {
  switch (phase) {
    case 'create':
      return ['tuntap', 'add', 'dev', t, 'mode', 'tap'];
    case 'up':
      return ['link', 'set', 'dev', t, 'up'];
    case 'attach':
      return ['link', 'set', 'dev', t, 'master', br];
    case 'detach':
      return ['link', 'set', 'dev', t, 'nomaster'];
    case 'delete':
      return ['link', 'del', 'dev', t];
  }
}

/** iproute2, one `ip -batch` process per phase. */
export function ipBatch(): Impl {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hwbench-'));
  return {
    name: 'ip-batch',
    async open() {},
    async run(phase, s) {
      const file = path.join(dir, phase);
      fs.writeFileSync(file, s.taps.map((t, i) => ipLine(phase, t, s.bridgeOf(i)).join(' ')).join('\n') + '\n');
      const r = spawnSync('ip', ['-n', s.ns, '-batch', file], { encoding: 'utf8' });
      if (r.status !== 0) fail(`ip -batch ${phase}`, r);
    },
    close: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** iproute2, one `ip` process per operation (at most `cap` per phase; the caller scales). */
export function ipPerOp(cap = 1000): Impl {
  return {
    name: 'ip-per-op',
    cap,
    async open() {},
    async run(phase, s) {
      for (let i = 0; i < Math.min(cap, s.taps.length); i++) {
        const r = spawnSync('ip', ['-n', s.ns, ...ipLine(phase, s.taps[i], s.bridgeOf(i))], { encoding: 'utf8' });
        if (r.status !== 0) fail(`ip ${phase}`, r);
      }
    },
    close() {},
  };
}
