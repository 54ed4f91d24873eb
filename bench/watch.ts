/**
 * The event-loop delay of one process that both changes and watches a namespace: a runBatch churns
 * N taps (create, up, attach to bridges, detach, delete: one batch per phase) while a Watcher of
 * the same namespace's links, in the same process, consumes every event it makes. The trial ends
 * when the Watcher has seen the last tap go. Against the same churn with no Watcher, interleaved,
 * in a fresh throwaway namespace each run. Target: p99 <= 20 ms at N = 5,000. No libvirtd.
 *
 *   node dist/bench/watch.js [--taps N] [--reps R] [--json FILE]
 *
 * Root (it makes namespaces). Never part of npm test.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import { monitorEventLoopDelay, performance } from 'perf_hooks';
import { runBatch } from '../src/rtnl/batch';
import { Handle } from '../src/rtnl/handle';
import { Watcher, type WatchEvent } from '../src/rtnl/watch';
import { PHASES, PORTS_PER_BRIDGE, phaseOps } from './impls';
import { option } from './args';

const TARGET_P99_MS = 20;
const log = (s: string): void => void process.stderr.write(s + '\n');
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const r1 = (x: number): number => Math.round(x * 10) / 10;

function args(argv: string[]) {
  const get = (k: string, d?: string) => option(argv, k, d);
  const taps = Number(get('--taps', '5000'));
  const reps = Number(get('--reps', '3'));
  if (!Number.isInteger(taps) || taps < 1 || !Number.isInteger(reps) || reps < 1)
    throw new Error('usage: watch [--taps N] [--reps R] [--json FILE]');
  return { taps, reps, json: get('--json') };
}

interface Run {
  variant: string;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  wall_ms: number;
  events: number;
  resyncs: number;
  /** p99 of each phase, and of the Watcher's tail after the last batch. */
  phases_p99_ms: Record<string, number>;
}

async function oneRun(n: number, watch: boolean, tag: string): Promise<Run> {
  const ns = `hwwatch${process.pid}${tag}`;
  const bridges = Array.from({ length: Math.ceil(n / PORTS_PER_BRIDGE) }, (_, i) => `wbr${i}`);
  const taps = Array.from({ length: n }, (_, i) => `wt${i}`);
  const bridgeOf = (i: number) => bridges[Math.floor(i / PORTS_PER_BRIDGE)];
  spawnSync('ip', ['netns', 'add', ns]);
  const h = new Handle({ netns: ns });
  let w: Watcher | undefined;
  try {
    for (const b of bridges) await h.createBridge(b);
    for (const b of bridges) await h.setUp(b);
    let events = 0;
    let deleted = 0;
    let allGone: () => void = () => undefined;
    const gone = new Promise<void>((r) => (allGone = r));
    if (watch) {
      w = await Watcher.open({ netns: ns, objects: ['link'] });
      w.on('event', (ev: WatchEvent) => {
        events++;
        if (ev.event === 'delete' && (ev.state as { name: string }).name.startsWith('wt') && ++deleted === n) allGone();
      });
    }
    const all = monitorEventLoopDelay({ resolution: 1 });
    const phases: Record<string, number> = {};
    const t0 = performance.now();
    all.enable();
    for (const phase of PHASES) {
      const p = monitorEventLoopDelay({ resolution: 1 });
      p.enable();
      const report = await runBatch(h, phaseOps(phase, taps, bridgeOf));
      p.disable();
      phases[phase] = r1(p.percentile(99) / 1e6);
      const failed = report.results.filter((x) => !x.ok).length;
      if (failed) throw new Error(`${phase}: ${failed} operations failed`);
    }
    if (w) {
      // The Watcher's tail: the events still queued when the last batch was acknowledged.
      const tail = monitorEventLoopDelay({ resolution: 1 });
      tail.enable();
      await Promise.race([gone, new Promise((_, rej) => setTimeout(() => rej(new Error(`watcher saw ${deleted}/${n} deletes`)), 60_000))]);
      tail.disable();
      phases.tail = r1(tail.percentile(99) / 1e6);
    }
    all.disable();
    const wall = performance.now() - t0;
    return {
      variant: watch ? 'runBatch + Watcher (same process)' : 'runBatch alone',
      p50_ms: r1(all.percentile(50) / 1e6),
      p99_ms: r1(all.percentile(99) / 1e6),
      max_ms: r1(all.max / 1e6),
      wall_ms: Math.round(wall),
      events,
      resyncs: w?.resyncs ?? 0,
      phases_p99_ms: phases,
    };
  } finally {
    w?.close();
    h.close();
    spawnSync('ip', ['netns', 'del', ns]);
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the watch bench needs root (it makes namespaces and taps)');
  const { taps, reps, json } = args(process.argv.slice(2));
  log(`watch: ${taps} taps, ${reps} reps; ${os.cpus().length} CPUs, load ${os.loadavg().map(r1).join(' ')}`);
  const runs: Run[] = [];
  for (let r = 0; r < reps; r++) {
    for (const watch of r % 2 ? [false, true] : [true, false]) {
      const run = await oneRun(taps, watch, `${r}${watch ? 'w' : 'n'}`);
      runs.push(run);
      log(
        `  rep ${r + 1}/${reps} ${run.variant.padEnd(34)} p99 ${run.p99_ms} ms  max ${run.max_ms} ms  ${run.events} events  ${run.wall_ms} ms`,
      );
    }
  }
  const variants = [...new Set(runs.map((r) => r.variant))];
  const rows = variants.map((v) => {
    const rs = runs.filter((r) => r.variant === v);
    const m = (f: (r: Run) => number) => r1(median(rs.map(f)));
    const phases = Object.keys(rs[0].phases_p99_ms);
    return {
      variant: v,
      p50_ms: m((r) => r.p50_ms),
      p99_ms: m((r) => r.p99_ms),
      max_ms: m((r) => r.max_ms),
      wall_ms: m((r) => r.wall_ms),
      events: m((r) => r.events),
      resyncs: m((r) => r.resyncs),
      phases_p99_ms: Object.fromEntries(phases.map((p) => [p, m((r) => r.phases_p99_ms[p])])),
    };
  });
  const header = ['variant', 'p50 ms', 'p99 ms', 'max ms', 'wall ms', 'events', 'resyncs', 'p99 by phase (ms)'];
  const cells = [
    header,
    ...rows.map((r) => [
      r.variant,
      r.p50_ms.toFixed(1),
      r.p99_ms.toFixed(1),
      r.max_ms.toFixed(1),
      String(r.wall_ms),
      String(r.events),
      String(r.resyncs),
      Object.entries(r.phases_p99_ms)
        .map(([p, v]) => `${p} ${v}`)
        .join(', '),
    ]),
  ];
  const wd = header.map((_, i) => Math.max(...cells.map((c) => c[i].length)));
  console.log(
    `\nEvent-loop delay while runBatch churns ${taps} taps (monitorEventLoopDelay, resolution 1 ms), ${reps} reps interleaved, medians; target p99 <= ${TARGET_P99_MS} ms\n` +
      cells.map((c) => c.map((x, i) => (i === 0 || i === c.length - 1 ? x.padEnd(wd[i]) : x.padStart(wd[i]))).join('   ')).join('\n'),
  );
  const watched = rows.find((r) => r.variant.includes('Watcher'))!;
  console.log(
    `\ntarget p99 <= ${TARGET_P99_MS} ms with the Watcher: ${watched.p99_ms <= TARGET_P99_MS ? 'met' : 'NOT met'} (${watched.p99_ms} ms)`,
  );
  if (json) {
    fs.writeFileSync(json, JSON.stringify({ taps, reps, target_p99_ms: TARGET_P99_MS, rows, runs }, null, 2) + '\n');
    log(`wrote ${json}`);
  }
}

main().catch((e) => {
  console.error(`bench failed: ${(e as Error).message}`);
  process.exitCode = 1;
});
