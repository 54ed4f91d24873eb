/**
 * Bulk tap churn: create, up, attach, detach, delete N taps, hostwire against iproute2, in
 * throwaway namespaces, interleaved, medians of R. Speed targets are ratios against ip-batch
 * measured in the same run (the machine is shared: absolute times mean little).
 *
 *   npm run bench -- --taps N [--reps R] [--json FILE]
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { Handle } from '../src/rtnl/handle';
import { runBatch, type BatchOp } from '../src/rtnl/batch';
import { PHASES, PORTS_PER_BRIDGE, hostwireBatch, hostwireSerial, ipBatch, ipPerOp, type Impl, type Phase, type Setup } from './impls';
import { chart } from './svg';

interface Result {
  impl: string;
  phase: Phase | 'total';
  median_ms: number;
  runs_ms: number[];
  scaled?: boolean;
}

function args(argv: string[]) {
  const get = (k: string, d?: string) => {
    const i = argv.indexOf(k);
    return i >= 0 ? argv[i + 1] : d;
  };
  const taps = Number(get('--taps', '1000'));
  const reps = Number(get('--reps', '3'));
  if (!Number.isInteger(taps) || taps < 1 || !Number.isInteger(reps) || reps < 1)
    throw new Error('usage: churn --taps N [--reps R] [--json FILE] [--impls a,b] [--rss-rounds K]');
  return { taps, reps, json: get('--json'), impls: get('--impls'), rssRounds: Number(get('--rss-rounds', '10')) };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const log = (s: string) => process.stderr.write(s + '\n');

function setup(ns: string, n: number): Setup {
  const bridges = Array.from({ length: Math.ceil(n / PORTS_PER_BRIDGE) }, (_, i) => `bbr${i}`);
  spawnSync('ip', ['netns', 'add', ns]);
  for (const b of bridges) spawnSync('ip', ['-n', ns, 'link', 'add', b, 'type', 'bridge']);
  return { ns, taps: Array.from({ length: n }, (_, i) => `bt${i}`), bridges, bridgeOf: (i) => bridges[Math.floor(i / PORTS_PER_BRIDGE)] };
}

async function oneRun(impl: Impl, n: number, tag: string): Promise<Record<Phase, number>> {
  const ns = `hwbench${process.pid}${tag}`;
  const s = setup(ns, impl.cap ? Math.min(impl.cap, n) : n);
  const times = {} as Record<Phase, number>;
  try {
    await impl.open(s);
    for (const phase of PHASES) {
      const t0 = process.hrtime.bigint();
      await impl.run(phase, s);
      times[phase] = Number(process.hrtime.bigint() - t0) / 1e6;
    }
  } finally {
    impl.close();
    spawnSync('ip', ['netns', 'del', ns]);
  }
  return times;
}

/** RSS of this process before and after K rounds of N=1000 churn through the batch API. */
async function rssRounds(rounds: number): Promise<{ before_mb: number; after_mb: number; growth_mb: number }> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const ns = `hwbench${process.pid}rss`;
  const s = setup(ns, 1000);
  const h = new Handle({ netns: ns });
  const phase = (p: Phase): BatchOp[] =>
    s.taps.map((name, i): BatchOp =>
      p === 'create'
        ? { op: 'createTap', name }
        : p === 'up'
          ? { op: 'setLink', dev: name, change: { up: true } }
          : p === 'attach'
            ? { op: 'setLink', dev: name, change: { master: s.bridgeOf(i) } }
            : p === 'detach'
              ? { op: 'setLink', dev: name, change: { master: null } }
              : { op: 'delete', dev: name },
    );
  const churn = async () => {
    for (const p of PHASES) await runBatch(h, phase(p));
  };
  try {
    // Warm-up to steady state first (JIT, V8 heap, the tun worker thread's malloc arena): RSS
    // plateaus after about 3 rounds (seen with 30 rounds); growth after that would be a leak.
    for (let i = 0; i < 3; i++) await churn();
    gc?.();
    const before = process.memoryUsage().rss;
    for (let i = 0; i < rounds; i++) await churn();
    gc?.();
    const after = process.memoryUsage().rss;
    const mb = (x: number) => Math.round((x / 1048576) * 10) / 10;
    return { before_mb: mb(before), after_mb: mb(after), growth_mb: mb(after - before) };
  } finally {
    h.close();
    spawnSync('ip', ['netns', 'del', ns]);
  }
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error('the churn bench needs root (it makes namespaces and taps)');
  const { taps, reps, json, impls: only, rssRounds: rounds } = args(process.argv.slice(2));
  const all = [hostwireBatch, hostwireSerial, ipBatch, () => ipPerOp(1000)];
  const makers = only ? all.filter((m) => only.split(',').includes(m().name)) : all;
  const names = makers.map((m) => m().name);
  const runs = new Map<string, Array<Record<Phase, number>>>(names.map((n) => [n, []]));
  log(`churn: ${taps} taps, ${reps} reps, implementations ${names.join(', ')}`);
  for (let r = 0; r < reps; r++) {
    // Interleaved: each rep runs every implementation, starting from a different one.
    for (let k = 0; k < makers.length; k++) {
      const m = makers[(k + r) % makers.length];
      const impl = m();
      const t = await oneRun(impl, taps, `${r}${k}`);
      runs.get(impl.name)!.push(t);
      log(`  rep ${r + 1}/${reps} ${impl.name.padEnd(16)} ${PHASES.map((p) => `${p} ${t[p].toFixed(0)}`).join('  ')} ms`);
    }
  }
  const results: Result[] = [];
  for (const name of names) {
    const cap = makers.find((m) => m().name === name)!().cap;
    const scale = cap && taps > cap ? taps / cap : 1;
    for (const phase of [...PHASES, 'total'] as const) {
      const ms = runs.get(name)!.map((t) => (phase === 'total' ? PHASES.reduce((a, p) => a + t[p], 0) : t[phase]) * scale);
      results.push({
        impl: name,
        phase,
        median_ms: Math.round(median(ms) * 10) / 10,
        runs_ms: ms.map((x) => Math.round(x * 10) / 10),
        ...(scale !== 1 ? { scaled: true } : {}),
      });
    }
  }
  printTable(taps, results);
  log('measuring RSS over ' + rounds + ' rounds of N=1000 churn ...');
  const rss = await rssRounds(rounds);
  console.log(
    `\nRSS of the hostwire process: ${rss.before_mb} MB before, ${rss.after_mb} MB after ${rounds} rounds of N=1000 churn (growth ${rss.growth_mb} MB; measured after 3 warm-up rounds)`,
  );
  if (json) {
    fs.writeFileSync(json, JSON.stringify({ taps, reps, results, rss }, null, 2) + '\n');
    const svg = json.replace(/\.json$/, '') + '.svg';
    fs.writeFileSync(svg, chart(taps, reps, results));
    log(`wrote ${json} and ${svg}`);
  }
}

function printTable(taps: number, results: Result[]) {
  const ref = (phase: string) => results.find((r) => r.impl === 'ip-batch' && r.phase === phase)?.median_ms;
  const best = (phase: string) => Math.min(...results.filter((r) => r.phase === phase).map((r) => r.median_ms));
  const lines = [`\nN=${taps}  impl              phase    median ms     ops/s   x ip-batch   x best`];
  for (const r of results) {
    const ops = r.phase === 'total' ? (taps * PHASES.length) / (r.median_ms / 1000) : taps / (r.median_ms / 1000);
    const vsRef = ref(r.phase) ? (r.median_ms / (ref(r.phase) as number)).toFixed(3) : '-';
    lines.push(
      `        ${(r.impl + (r.scaled ? '*' : '')).padEnd(17)} ${r.phase.padEnd(8)} ${r.median_ms.toFixed(1).padStart(10)} ${Math.round(ops).toString().padStart(9)} ${vsRef.padStart(12)} ${(r.median_ms / best(r.phase)).toFixed(2).padStart(8)}`,
    );
  }
  if (results.some((r) => r.scaled)) lines.push('        * scaled from its first 1,000 operations per phase');
  console.log(lines.join('\n'));
}

main().catch((e) => {
  console.error(`bench failed: ${e.message}`);
  process.exitCode = 1;
});
