/**
 * The implementations the churn trial compares, each doing one phase over N taps spread over
 * bridges (a Linux bridge holds at most 1024 ports) in a given namespace.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { monitorEventLoopDelay } from 'perf_hooks';
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
  /**
   * Watch the event loop while measuring (default true). Its 1 ms timer wakes the JS thread
   * about once per millisecond, which costs that thread some 2 us per operation in the long
   * phases: the churn measures the loop in some reps and the JS thread's CPU in the others.
   */
  watchLoop?: boolean;
}

/** What an implementation measured about one phase itself (the caller times it otherwise). */
export interface PhaseReport {
  ms: number;
  /** Event-loop delay over the phase (perf_hooks.monitorEventLoopDelay, 1 ms resolution). */
  loopMaxMs?: number;
  loopP99Ms?: number;
  /** process.cpuUsage() user + system over the phase, divided by the operations. */
  cpuUsPerOp?: number;
  /** The JS thread's own CPU over the phase (user + kernel), divided by the operations. */
  jsThreadUsPerOp?: number;
}

export interface Impl {
  name: string;
  /** Operations per phase it really performs (ip-per-op caps this), for scaling. */
  cap?: number;
  open(s: Setup): Promise<void>;
  run(phase: Phase, s: Setup): Promise<PhaseReport | void>;
  /** Runs every phase at once and reports their times (the C reference, which times itself). */
  runAll?(s: Setup): Promise<{ times: Record<Phase, number> }>;
  close(): void;
}

/** On-CPU time of this process's main (JS) thread alone, in ns (schedstat), or undefined. */
function jsThreadNs(): number | undefined {
  try {
    return Number(fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    return undefined;
  }
}

/**
 * Runs `work` (N operations) and measures it from inside the process: wall time, and either the
 * event-loop delay (max, p99) while it ran (watchLoop) or the CPU per operation (otherwise, so
 * that the loop monitor's own timer is not counted). The CPU is jsThreadUsPerOp, the JS thread's
 * own (/proc/self/task/PID/schedstat: user + kernel, so its syscalls too), and cpuUsPerOp,
 * process.cpuUsage() user + system: the whole process, every thread, including the socket's
 * thread and the kernel's work inside its sendmsg() (rtnetlink runs the requests there).
 */
export async function measured(n: number, work: () => Promise<void>, watchLoop = true): Promise<PhaseReport> {
  const h = watchLoop ? monitorEventLoopDelay({ resolution: 1 }) : undefined;
  h?.enable();
  const thread0 = jsThreadNs();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await work();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  const thread1 = jsThreadNs();
  if (!h) {
    return {
      ms,
      cpuUsPerOp: (cpu.user + cpu.system) / n,
      ...(thread0 !== undefined && thread1 !== undefined ? { jsThreadUsPerOp: (thread1 - thread0) / 1e3 / n } : {}),
    };
  }
  // A block at the very end is recorded when the histogram's timer next fires: let it.
  await new Promise((r) => setTimeout(r, 3));
  h.disable();
  return { ms, loopMaxMs: h.max / 1e6, loopP99Ms: h.count ? h.percentile(99) / 1e6 : 0 };
}

export const PORTS_PER_BRIDGE = 1000;

/** One phase of the churn as batch operations over the taps (tap i on bridgeOf(i)): every trial uses these. */
export function phaseOps(phase: Phase, taps: string[], bridgeOf: (i: number) => string): BatchOp[] {
  return taps.map((name, i): BatchOp => {
    switch (phase) {
      case 'create':
        return { op: 'createTap', name };
      case 'up':
        return { op: 'setLink', dev: name, change: { up: true } };
      case 'attach':
        return { op: 'setLink', dev: name, change: { master: bridgeOf(i) } };
      case 'detach':
        return { op: 'setLink', dev: name, change: { master: null } };
      case 'delete':
        return { op: 'delete', dev: name };
    }
  });
}

/** Taps bt0 ... and bridges bbr0 ... (bench/cref.c assumes these names). */
export function setup(ns: string, n: number, bridgesUp = false): Setup {
  const bridges = Array.from({ length: Math.ceil(n / PORTS_PER_BRIDGE) }, (_, i) => `bbr${i}`);
  spawnSync('ip', ['netns', 'add', ns]);
  for (const b of bridges) {
    spawnSync('ip', ['-n', ns, 'link', 'add', b, 'type', 'bridge']);
    if (bridgesUp) spawnSync('ip', ['-n', ns, 'link', 'set', b, 'up']);
  }
  return { ns, taps: Array.from({ length: n }, (_, i) => `bt${i}`), bridges, bridgeOf: (i) => bridges[Math.floor(i / PORTS_PER_BRIDGE)] };
}

function fail(what: string, r: ReturnType<typeof spawnSync>): never {
  throw new Error(`${what}: exit ${r.status}: ${String(r.stderr).slice(0, 500)}`);
}

/**
 * hostwire, one batch per phase: pipelined, names resolved once, batched unregister. (The
 * tun worker sends one RTM_GETLINK of each new tap once its fds close, so the tap's link-watch
 * event runs while it is down: bench/linkwatch.ts found why that makes attach and detach on an
 * up bridge cheap; see README.)
 */
export function hostwireBatch(): Impl {
  let h: Handle;
  return {
    name: 'hostwire-batch',
    async open(s) {
      h = new Handle({ netns: s.ns });
    },
    async run(phase, s) {
      const batch = phaseOps(phase, s.taps, s.bridgeOf);
      return measured(
        batch.length,
        async () => {
          const r = await runBatch(h, batch, { onError: 'stop' });
          const bad = r.results.find((x): x is { ok: false; error: Error } => !x.ok);
          if (bad) throw bad.error;
        },
        s.watchLoop ?? true,
      );
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
