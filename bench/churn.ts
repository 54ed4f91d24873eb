/**
 * Bulk tap churn: create, up, attach, detach, delete N taps, hostwire against iproute2 and a C
 * rtnetlink reference (bench/cref.c), in throwaway namespaces, interleaved, medians of R. Speed
 * targets are ratios against ip-batch and the best C variant measured in the same run (the
 * machine is shared: absolute times mean little).
 *
 *   npm run bench -- --taps N [--reps R] [--warmup W] [--json FILE] [--impls a,b] [--bridges-up] [--rss-rounds K]
 *
 * The in-process implementations (hostwire-*) first run W whole unmeasured cycles (default 3):
 * their code is compiled by V8 as it runs, and the first cycles of a fresh process are slower
 * while V8's compiler and GC threads share the two cores with the socket's thread (the `up`
 * phase of the first cycle takes about twice as long as from the fourth on). The medians are of
 * a warm process, as an orchestrator that embeds hostwire runs; the warm-up cycles' times are
 * printed and kept in the JSON (`warmup_ms`). The C reference and ip run as fresh processes
 * every time and have no warm-up to do.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { Handle } from '../src/rtnl/handle';
import { runBatch, type BatchOp } from '../src/rtnl/batch';
import { PHASES, phaseOps, hostwireBatch, hostwireSerial, ipBatch, ipPerOp, type Impl, type Phase, type PhaseReport, setup } from './impls';
import { cImpl } from './cref';
import { chart } from './svg';
import { option } from './args';

interface Result {
  impl: string;
  phase: Phase | 'total';
  median_ms: number;
  runs_ms: number[];
  scaled?: boolean;
  /** Medians over the reps, where the implementation measures them (hostwire-batch). */
  loop_max_ms?: number;
  loop_p99_ms?: number;
  cpu_us_per_op?: number;
  js_thread_us_per_op?: number;
}

/** The C variants the churn runs (bench/cref.c; bench/linkwatch.ts runs them all). */
const C_VARIANTS = ['pipelined', 'getlink', 'getlink-create'];
const isC = (impl: string) => impl.startsWith('c-');

function args(argv: string[]) {
  const get = (k: string, d?: string) => option(argv, k, d);
  const taps = Number(get('--taps', '1000'));
  const reps = Number(get('--reps', '3'));
  const warmup = Number(get('--warmup', '3'));
  if (!Number.isInteger(taps) || taps < 1 || !Number.isInteger(reps) || reps < 1 || !Number.isInteger(warmup) || warmup < 0)
    throw new Error('usage: churn --taps N [--reps R] [--warmup W] [--json FILE] [--impls a,b] [--bridges-up] [--rss-rounds K]');
  return {
    taps,
    reps,
    warmup,
    json: get('--json'),
    impls: get('--impls'),
    bridgesUp: argv.includes('--bridges-up'),
    rssRounds: Number(get('--rss-rounds', '10')),
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const log = (s: string) => process.stderr.write(s + '\n');

type Run = Record<Phase, PhaseReport>;

async function oneRun(impl: Impl, n: number, tag: string, bridgesUp: boolean, watchLoop = true): Promise<Run> {
  const ns = `hwbench${process.pid}${tag}`;
  const s = { ...setup(ns, impl.cap ? Math.min(impl.cap, n) : n, bridgesUp), watchLoop };
  const out = {} as Run;
  try {
    await impl.open(s);
    if (impl.runAll) {
      const { times } = await impl.runAll(s);
      for (const phase of PHASES) out[phase] = { ms: times[phase] };
    } else
      for (const phase of PHASES) {
        const t0 = process.hrtime.bigint();
        const report = await impl.run(phase, s);
        out[phase] = report ?? { ms: Number(process.hrtime.bigint() - t0) / 1e6 };
      }
  } finally {
    impl.close();
    spawnSync('ip', ['netns', 'del', ns]);
  }
  return out;
}

/** RSS of this process before and after K rounds of N=1000 churn through the batch API. */
async function rssRounds(rounds: number): Promise<{ before_mb: number; after_mb: number; growth_mb: number }> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const ns = `hwbench${process.pid}rss`;
  const s = setup(ns, 1000);
  const h = new Handle({ netns: ns });
  const phase = (p: Phase): BatchOp[] => phaseOps(p, s.taps, s.bridgeOf);
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
  const { taps, reps, warmup, json, impls: only, bridgesUp, rssRounds: rounds } = args(process.argv.slice(2));
  const all = [() => hostwireBatch(), hostwireSerial, ipBatch, () => ipPerOp(1000), ...C_VARIANTS.map(cImpl)];
  const makers = only ? all.filter((m) => only.split(',').includes(m().name)) : all;
  const names = makers.map((m) => m().name);
  const runs = new Map<string, Run[]>(names.map((n) => [n, []]));
  log(`churn: ${taps} taps, ${reps} reps, bridges ${bridgesUp ? 'up' : 'down'}, implementations ${names.join(', ')}`);
  const warmupMs = new Map<string, number[][]>();
  for (let r = 0; r < warmup; r++)
    for (const m of makers) {
      const impl = m();
      if (!impl.name.startsWith('hostwire')) continue; // a process of its own each time: nothing to warm
      const t = await oneRun(impl, taps, `w${r}`, bridgesUp);
      if (!warmupMs.has(impl.name)) warmupMs.set(impl.name, []);
      warmupMs.get(impl.name)!.push(PHASES.map((p) => Math.round(t[p].ms * 10) / 10));
      log(
        `  warm-up ${r + 1}/${warmup} ${impl.name.padEnd(20)} ${PHASES.map((p) => `${p} ${t[p].ms.toFixed(0)}`).join('  ')} ms (not counted)`,
      );
    }
  for (let r = 0; r < reps; r++) {
    // Interleaved: each rep runs every implementation, starting from a different one.
    for (let k = 0; k < makers.length; k++) {
      const m = makers[(k + r) % makers.length];
      const impl = m();
      // Even reps watch the event loop, odd ones measure the JS thread's CPU (see bench/impls.ts measured).
      const t = await oneRun(impl, taps, `${r}${k}`, bridgesUp, r % 2 === 0);
      runs.get(impl.name)!.push(t);
      log(`  rep ${r + 1}/${reps} ${impl.name.padEnd(23)} ${PHASES.map((p) => `${p} ${t[p].ms.toFixed(0)}`).join('  ')} ms`);
    }
  }
  const results: Result[] = [];
  const round = (x: number, d = 10) => Math.round(x * d) / d;
  for (const name of names) {
    const cap = makers.find((m) => m().name === name)!().cap;
    const scale = cap && taps > cap ? taps / cap : 1;
    for (const phase of [...PHASES, 'total'] as const) {
      const rs = runs.get(name)!;
      const ms = rs.map((t) => (phase === 'total' ? PHASES.reduce((a, p) => a + t[p].ms, 0) : t[phase].ms) * scale);
      const stat = (k: 'loopMaxMs' | 'loopP99Ms' | 'cpuUsPerOp' | 'jsThreadUsPerOp') => {
        const xs = phase === 'total' ? [] : rs.map((t) => t[phase][k]).filter((x): x is number => x !== undefined);
        return xs.length ? round(median(xs), 100) : undefined;
      };
      const [loopMax, loopP99, cpu, thread] = [stat('loopMaxMs'), stat('loopP99Ms'), stat('cpuUsPerOp'), stat('jsThreadUsPerOp')];
      results.push({
        impl: name,
        phase,
        median_ms: round(median(ms)),
        runs_ms: ms.map((x) => round(x)),
        ...(scale !== 1 ? { scaled: true } : {}),
        ...(loopMax !== undefined ? { loop_max_ms: loopMax, loop_p99_ms: loopP99 } : {}),
        ...(cpu !== undefined ? { cpu_us_per_op: cpu } : {}),
        ...(thread !== undefined ? { js_thread_us_per_op: thread } : {}),
      });
    }
  }
  printTable(taps, results);
  const targets = printTargets(results);
  log('measuring RSS over ' + rounds + ' rounds of N=1000 churn ...');
  const rss = await rssRounds(rounds);
  console.log(
    `\nRSS of the hostwire process: ${rss.before_mb} MB before, ${rss.after_mb} MB after ${rounds} rounds of N=1000 churn (growth ${rss.growth_mb} MB; measured after 3 warm-up rounds)`,
  );
  if (json) {
    const warm = Object.fromEntries(
      [...warmupMs].map(([name, rs]) => [name, rs.map((r) => Object.fromEntries(PHASES.map((p, i) => [p, r[i]])))]),
    );
    fs.writeFileSync(
      json,
      JSON.stringify({ taps, reps, warmup, warmup_ms: warm, bridgesUp, cpuNote: CPU_NOTE, results, targets, rss }, null, 2) + '\n',
    );
    const svg = json.replace(/\.json$/, '') + '.svg';
    fs.writeFileSync(svg, chart(taps, reps, results));
    log(`wrote ${json} and ${svg}`);
  }
}

const CPU_NOTE =
  "thread us/op: the JS thread's own CPU over the phase / N (its schedstat: user and kernel, so its syscalls too), the JavaScript cost of an operation. cpu us/op: process.cpuUsage() user+system over the phase / N: the whole process, every thread, so also the socket's thread and the kernel's work inside its sendmsg(), where rtnetlink runs the requests (the C reference spends that too: 13 us per up, 120-300 per attach). Loop delay from the even reps, CPU from the odd ones (the loop monitor's 1 ms timer costs the JS thread ~2 us/op in the long phases)";

function printTable(taps: number, results: Result[]) {
  const at = (impl: string, phase: string) => results.find((r) => r.impl === impl && r.phase === phase)?.median_ms;
  const best = (phase: string) => Math.min(...results.filter((r) => r.phase === phase).map((r) => r.median_ms));
  const bestC = (phase: string) => {
    const cs = results.filter((r) => isC(r.impl));
    if (!cs.length) return undefined;
    // For the whole cycle: the sum of each phase's best C variant (no one variant need be best at all).
    if (phase === 'total') return PHASES.reduce((a, p) => a + Math.min(...cs.filter((r) => r.phase === p).map((r) => r.median_ms)), 0);
    return Math.min(...cs.filter((r) => r.phase === phase).map((r) => r.median_ms));
  };
  const ratio = (x: number, ref: number | undefined, d = 2) => (ref ? (x / ref).toFixed(d) : '-');
  const lines = [
    `\nN=${taps}  impl                    phase    median ms     ops/s  x ip-batch  x best  x best C   loop max  loop p99  cpu us/op  thread us/op`,
  ];
  for (const r of results) {
    const ops = r.phase === 'total' ? (taps * PHASES.length) / (r.median_ms / 1000) : taps / (r.median_ms / 1000);
    const f = (x: number | undefined, w: number) => (x === undefined ? '-' : x.toFixed(1)).padStart(w);
    const extra =
      r.loop_max_ms !== undefined || r.cpu_us_per_op !== undefined
        ? `${f(r.loop_max_ms, 10)} ${f(r.loop_p99_ms, 9)} ${f(r.cpu_us_per_op, 10)} ${f(r.js_thread_us_per_op, 13)}`
        : '';
    lines.push(
      `        ${(r.impl + (r.scaled ? '*' : '')).padEnd(23)} ${r.phase.padEnd(8)} ${r.median_ms.toFixed(1).padStart(10)} ${Math.round(ops).toString().padStart(9)} ${ratio(r.median_ms, at('ip-batch', r.phase), 3).padStart(11)} ${ratio(r.median_ms, best(r.phase)).padStart(7)} ${ratio(r.median_ms, bestC(r.phase)).padStart(9)}${extra}`,
    );
  }
  if (results.some((r) => r.scaled)) lines.push('        * scaled from its first 1,000 operations per phase');
  lines.push('        x best C: to the best C variant of the phase; for total, to the sum of the best C phases');
  lines.push('        loop max/p99: event-loop delay over the phase (monitorEventLoopDelay, 1 ms resolution), median of the reps');
  lines.push(`        ${CPU_NOTE}`);
  console.log(lines.join('\n'));
}

interface Target {
  target: string;
  met: boolean;
  detail: string;
}

/** The speed targets for hostwire-batch (issue 10), from this run's medians. */
function printTargets(results: Result[]): Target[] {
  const get = (impl: string, phase: string) => results.find((r) => r.impl === impl && r.phase === phase);
  const hw = (phase: string) => get('hostwire-batch', phase);
  const cs = results.filter((r) => isC(r.impl));
  if (!hw('total')) return [];
  const bestC = (phase: Phase) => {
    const c = cs.filter((r) => r.phase === phase).sort((a, b) => a.median_ms - b.median_ms)[0];
    return c && { ms: c.median_ms, impl: c.impl };
  };
  const out: Target[] = [];
  const each = (target: string, f: (p: Phase) => { ok: boolean; text: string } | undefined, phases: readonly Phase[] = PHASES) => {
    const parts = phases.map((p) => [p, f(p)] as const).filter((x) => x[1]);
    if (!parts.length) return;
    out.push({
      target,
      met: parts.every(([, x]) => x!.ok),
      detail: parts.map(([p, x]) => `${p} ${x!.text}${x!.ok ? '' : ' MISS'}`).join(', '),
    });
  };
  if (cs.length)
    each('within 1.3x the best C variant, every phase', (p) => {
      const c = bestC(p);
      const r = hw(p)!.median_ms / c.ms;
      return { ok: r <= 1.3, text: `${r.toFixed(2)}x (${c.impl})` };
    });
  if (get('ip-batch', 'total'))
    each('ahead of ip-batch, every phase (allowance 10% or 10 ms)', (p) => {
      const ip = get('ip-batch', p)!.median_ms;
      const h = hw(p)!.median_ms;
      return { ok: h <= Math.max(ip * 1.1, ip + 10), text: `${h.toFixed(0)} vs ${ip.toFixed(0)} ms` };
    });
  if (cs.length) {
    const sum = PHASES.reduce((a, p) => a + bestC(p).ms, 0);
    const r = hw('total')!.median_ms / sum;
    out.push({
      target: 'whole cycle within 1.15x the sum of the best C phases',
      met: r <= 1.15,
      detail: `${hw('total')!.median_ms.toFixed(0)} ms vs ${sum.toFixed(0)} ms: ${r.toFixed(2)}x`,
    });
  }
  each(
    "JS CPU per operation at most 5 us in up, attach, detach (the JS thread's; the whole process's beside it)",
    (p) => {
      const t = hw(p)!.js_thread_us_per_op;
      const c = hw(p)!.cpu_us_per_op;
      return t === undefined ? undefined : { ok: t <= 5, text: `${t.toFixed(1)} us (process ${c?.toFixed(1)} us)` };
    },
    ['up', 'attach', 'detach'],
  );
  const lines = ['\ntargets for hostwire-batch (this run; never a pass/fail of CI):'];
  for (const t of out) lines.push(`  [${t.met ? 'met ' : 'MISS'}] ${t.target}: ${t.detail}`);
  console.log(lines.join('\n'));
  return out;
}

main().catch((e) => {
  console.error(`bench failed: ${e.message}`);
  process.exitCode = 1;
});
