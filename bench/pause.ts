/**
 * What an idle pause costs the next batch: C cycles of tap churn (one runBatch per phase) in one
 * process, with P seconds between cycles (the process blocked, as during the churn trial's
 * `ip -batch` runs), against the same cycles without pauses, in two child processes run one after
 * the other. Per phase, medians over the cycles after the first W: wall ms, the JS thread's CPU
 * per operation (its schedstat) and the page faults of the phase, minor/major (process.resourceUsage()).
 *
 *   node dist/bench/pause.js [--taps N] [--cycles C] [--warmup W] [--pause-s P]     (default: 1000, 8, 3, 10)
 */
import { spawnSync } from 'child_process';
import { Handle } from '../src/rtnl/handle';
import { runBatch } from '../src/rtnl/batch';
import { PHASES, measured, phaseOps, setup } from './impls';
import { option } from './args';

function args(argv: string[]) {
  const get = (k: string, d: string) => Number(option(argv, k, d));
  const o = { taps: get('--taps', '1000'), cycles: get('--cycles', '8'), warmup: get('--warmup', '3'), pause: get('--pause-s', '10') };
  if (![o.taps, o.cycles].every((x) => Number.isInteger(x) && x > 0) || !(o.warmup >= 0 && o.warmup < o.cycles) || !(o.pause >= 0))
    throw new Error('usage: pause [--taps N] [--cycles C] [--warmup W] [--pause-s P]');
  return o;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** In a child: the cycles, with `pause` seconds before each; prints one JSON line of per-phase medians. */
async function child(taps: number, cycles: number, warmup: number, pause: number): Promise<void> {
  const rows: Record<string, { ms: number[]; us: number[]; faults: number[]; major: number[] }> = {};
  for (let c = 0; c < cycles; c++) {
    if (pause && c > 0) spawnSync('sleep', [String(pause)]);
    const s = setup(`hwpause${process.pid}${c}`, taps, true);
    const h = new Handle({ netns: s.ns });
    try {
      for (const p of PHASES) {
        const { minorPageFault: f0, majorPageFault: m0 } = process.resourceUsage();
        const r = await measured(
          taps,
          () => runBatch(h, phaseOps(p, s.taps, s.bridgeOf), { onError: 'stop' }).then(() => undefined),
          false,
        );
        const { minorPageFault: f1, majorPageFault: m1 } = process.resourceUsage();
        const faults = f1 - f0;
        const major = m1 - m0;
        if (c < warmup) continue;
        const row = (rows[p] ??= { ms: [], us: [], faults: [], major: [] });
        row.ms.push(r.ms);
        row.us.push(r.jsThreadUsPerOp ?? NaN);
        row.faults.push(faults);
        row.major.push(major);
      }
    } finally {
      h.close();
      spawnSync('ip', ['netns', 'del', s.ns]);
    }
  }
  const out = Object.fromEntries(
    Object.entries(rows).map(([p, r]) => [p, { ms: median(r.ms), us: median(r.us), faults: median(r.faults), major: median(r.major) }]),
  );
  process.stdout.write(JSON.stringify(out) + '\n');
}

function main(): void {
  if (process.argv[2] === 'child') {
    const [taps, cycles, warmup, pause] = process.argv.slice(3).map(Number);
    void child(taps, cycles, warmup, pause);
    return;
  }
  if (process.getuid?.() !== 0) throw new Error('the pause bench needs root (it makes namespaces and taps)');
  const o = args(process.argv.slice(2));
  type Phases = Record<string, { ms: number; us: number; faults: number; major: number }>;
  const run = (pause: number): Phases => {
    const r = spawnSync(
      process.execPath,
      [...process.execArgv, __filename, 'child', String(o.taps), String(o.cycles), String(o.warmup), String(pause)],
      {
        encoding: 'utf8',
      },
    );
    if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as Phases;
  };
  const without = run(0);
  const withPause = run(o.pause);
  const lines = [
    `N=${o.taps}, medians of cycles ${o.warmup + 1}-${o.cycles}: without pauses | with ${o.pause} s before each cycle`,
    '| phase | ms | JS thread us/op | faults minor/major | ms | JS thread us/op | faults minor/major |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const p of PHASES) {
    const a = without[p];
    const b = withPause[p];
    lines.push(
      `| ${p} | ${a.ms.toFixed(1)} | ${a.us.toFixed(1)} | ${a.faults}/${a.major} | ${b.ms.toFixed(1)} | ${b.us.toFixed(1)} | ${b.faults}/${b.major} |`,
    );
  }
  console.log(lines.join('\n'));
}

main();
