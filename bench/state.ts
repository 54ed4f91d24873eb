/**
 * Declarative state against the same work done by hand, in throwaway namespaces, interleaved,
 * medians of R (the machine is shared: ratios from the same run, not absolute times, are the
 * result). Never a pass/fail: the targets are printed beside the ratios.
 *
 *   node dist/bench/state.js [--taps N] [--reps R] [--json FILE]
 *
 * 1. From empty, N taps on a bridge: apply(document) against runBatch of the same operations
 *    (the bridge, N taps, N set master+up). Target: at most 1.3x.
 * 2. Re-applying the same document, nothing to change (one dump plus a diff): `hostwire apply`
 *    against `hostwire link show` on the same namespace, as processes, and apply() against
 *    listLinks() in this process. Target: at most 1.5x (the commands).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Handle } from '../src/rtnl/handle';
import { runBatch, type BatchOp } from '../src/rtnl/batch';
import { apply } from '../src/workflow/state';
import type { StateDocument } from '../src/workflow/state-doc';
import { option } from './args';

const CLI = path.resolve(__dirname, '..', 'src', 'cli', 'main.js');

function args(argv: string[]) {
  const get = (k: string, d?: string) => option(argv, k, d);
  const taps = Number(get('--taps', '1000'));
  const reps = Number(get('--reps', '5'));
  if (!Number.isInteger(taps) || taps < 1 || taps > 1000 || !Number.isInteger(reps) || reps < 1)
    throw new Error('usage: state [--taps N (1-1000: one bridge)] [--reps R] [--json FILE]');
  return { taps, reps, json: get('--json') };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const log = (s: string) => process.stderr.write(s + '\n');
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

function netns<T>(tag: string, fn: (ns: string) => Promise<T>): Promise<T> {
  const ns = `hwbenchst${process.pid}${tag}`;
  spawnSync('ip', ['netns', 'add', ns]);
  return fn(ns).finally(() => spawnSync('ip', ['netns', 'del', ns]));
}

const doc = (n: number): StateDocument => ({
  links: [
    { name: 'sbr0', kind: 'bridge', up: true },
    ...Array.from({ length: n }, (_, i) => ({ name: `st${i}`, kind: 'tun', master: 'sbr0', up: true })),
  ],
});

const sameOps = (n: number): BatchOp[] => [
  { op: 'createBridge', name: 'sbr0', options: { up: true } as object },
  ...Array.from({ length: n }, (_, i): BatchOp => ({ op: 'createTap', name: `st${i}` })),
  ...Array.from({ length: n }, (_, i): BatchOp => ({ op: 'setLink', dev: `st${i}`, change: { master: 'sbr0', up: true } })),
];

/** One timed run of `fn` with a handle in a fresh namespace. */
async function fresh(tag: string, fn: (h: Handle) => Promise<unknown>): Promise<number> {
  return netns(tag, async (ns) => {
    const h = new Handle({ netns: ns });
    try {
      const t0 = process.hrtime.bigint();
      await fn(h);
      return ms(t0);
    } finally {
      h.close();
    }
  });
}

function cli(argvs: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [CLI, ...argvs], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const t = ms(t0);
  if (r.status !== 0) throw new Error(`hostwire ${argvs.join(' ')}: ${r.stderr}`);
  return t;
}

async function main() {
  const { taps, reps, json } = args(process.argv.slice(2));
  const d = doc(taps);
  const results: Record<string, number[]> = {
    apply: [],
    runBatch: [],
    'cli apply (no change)': [],
    'cli link show': [],
    'apply() (no change)': [],
    'listLinks()': [],
  };

  log(`1. from empty, ${taps} taps on a bridge (${reps} runs each, interleaved)`);
  for (let r = 0; r < reps; r++) {
    results.runBatch.push(
      await fresh(`b${r}`, async (h) => {
        const rep = await runBatch(h, sameOps(taps), { onError: 'stop' });
        if (rep.failed) throw rep.results.find((x): x is { ok: false; error: Error } => !x.ok)?.error;
      }),
    );
    results.apply.push(
      await fresh(`a${r}`, async (h) => {
        const res = await apply(h, d);
        if (!res.verified || res.changes !== taps + 1) throw new Error(`apply: ${res.changes} changes, verified ${res.verified}`);
      }),
    );
  }

  log(`2. re-apply with no change at ${taps} taps, against link show`);
  await netns('re', async (ns) => {
    const file = path.join(os.tmpdir(), `hwbenchst${process.pid}.json`);
    fs.writeFileSync(file, JSON.stringify(d));
    const h = new Handle({ netns: ns });
    try {
      await apply(h, d);
      for (let r = 0; r < reps; r++) {
        results['cli link show'].push(cli(['-n', ns, 'link', 'show']));
        results['cli apply (no change)'].push(cli(['-n', ns, 'apply', file]));
        let t0 = process.hrtime.bigint();
        await h.listLinks();
        results['listLinks()'].push(ms(t0));
        t0 = process.hrtime.bigint();
        const res = await apply(h, d);
        results['apply() (no change)'].push(ms(t0));
        if (res.changes !== 0) throw new Error('the second apply changed something');
      }
    } finally {
      h.close();
      fs.rmSync(file, { force: true });
    }
  });

  const med = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)]));
  const ratios = {
    'apply / runBatch (from empty)': { ratio: med.apply / med.runBatch, target: 1.3 },
    'hostwire apply / hostwire link show (no change)': { ratio: med['cli apply (no change)'] / med['cli link show'], target: 1.5 },
    'apply() / listLinks() (no change, in process)': { ratio: med['apply() (no change)'] / med['listLinks()'], target: undefined },
  };
  for (const [k, v] of Object.entries(med))
    log(`  ${k.padEnd(24)} ${v.toFixed(1).padStart(8)} ms   (runs: ${results[k].map((x) => x.toFixed(0)).join(', ')})`);
  for (const [k, v] of Object.entries(ratios))
    log(
      `  ${k.padEnd(48)} ${v.ratio.toFixed(2)}x${v.target ? `   (target <= ${v.target}x: ${v.ratio <= v.target ? 'met' : 'NOT met'})` : ''}`,
    );
  if (json) fs.writeFileSync(json, JSON.stringify({ taps, reps, median_ms: med, runs_ms: results, ratios }, null, 2));
}

main().catch((e) => {
  log(String(e?.stack ?? e));
  process.exitCode = 1;
});
