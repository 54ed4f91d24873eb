/**
 * What the batch path's choices rest on: the cost of attaching N taps to a bridge
 *   - brought up before they are attached, or attached first and brought up after;
 *   - with the bridge's multicast snooping on (the kernel default) or off.
 * Interleaved, medians of R, each variant in a fresh namespace.
 *
 *   node dist/bench/order.js --taps N [--reps R]
 */
import { spawnSync } from 'child_process';
import { Handle } from '../src/rtnl/handle';
import { runBatch, type BatchOp } from '../src/rtnl/batch';

/**
 * phases: all taps up, then all attached (or the other way round).
 * per tap: each tap's two changes back to back, as a batch line `link set T master BR up` runs
 * (one message does flags first, then master: 'combined'), or split attach-then-up, which is
 * what runBatch sends for such a line.
 */
type Variant = { name: string; snooping: boolean; order: 'phases-up-first' | 'phases-attach-first' | 'combined' | 'split' };
const VARIANTS: Variant[] = [true, false].flatMap((snooping) =>
  (
    [
      ['phases: all up, then all attach', 'phases-up-first'],
      ['phases: all attach, then all up', 'phases-attach-first'],
      ['per tap: one message (up, attach)', 'combined'],
      ['per tap: attach, then up', 'split'],
    ] as const
  ).map(([name, order]) => ({ name: `${name} (snooping ${snooping ? 'on' : 'off'})`, snooping, order })),
);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function trial(v: Variant, n: number, tag: string): Promise<{ attachUp: number; detach: number }> {
  const ns = `hworder${process.pid}${tag}`;
  spawnSync('ip', ['netns', 'add', ns]);
  const h = new Handle({ netns: ns });
  try {
    await h.createBridge('br0', { mcastSnooping: v.snooping });
    await h.setUp('br0');
    const taps = Array.from({ length: n }, (_, i) => `ot${i}`);
    await runBatch(
      h,
      taps.map((name): BatchOp => ({ op: 'createTap', name })),
    );
    const br = (await h.getLink('br0')).index;
    const index = new Map((await h.listLinks({ kind: 'tun' })).map((l) => [l.name, l.index]));
    const up = taps.map((t) => () => h.setLink(index.get(t)!, { up: true }));
    const attach = taps.map((t) => () => h.setLink(index.get(t)!, { master: br }));
    const plan: Array<Array<() => Promise<void>>> =
      v.order === 'phases-up-first'
        ? [up, attach]
        : v.order === 'phases-attach-first'
          ? [attach, up]
          : v.order === 'combined'
            ? [taps.map((t) => () => h.setLink(index.get(t)!, { master: br, up: true }))]
            : [taps.flatMap((_, i) => [attach[i], up[i]])];
    const t0 = process.hrtime.bigint();
    // Each step is pipelined (all queued at once, in order), as the batch path does.
    for (const step of plan) await Promise.all(step.map((f) => f()));
    const t1 = process.hrtime.bigint();
    await runBatch(
      h,
      taps.map((dev): BatchOp => ({ op: 'setLink', dev, change: { master: null } })),
    );
    const t2 = process.hrtime.bigint();
    return { attachUp: Number(t1 - t0) / 1e6, detach: Number(t2 - t1) / 1e6 };
  } finally {
    h.close();
    spawnSync('ip', ['netns', 'del', ns]);
  }
}

async function main() {
  const argv = process.argv.slice(2);
  const get = (k: string, d: string) => (argv.includes(k) ? argv[argv.indexOf(k) + 1] : d);
  const n = Number(get('--taps', '1000'));
  const reps = Number(get('--reps', '3'));
  const runs = new Map(VARIANTS.map((v) => [v.name, [] as Array<{ attachUp: number; detach: number }>]));
  for (let r = 0; r < reps; r++)
    for (let k = 0; k < VARIANTS.length; k++) {
      const v = VARIANTS[(k + r) % VARIANTS.length];
      const t = await trial(v, n, `${r}${k}`);
      runs.get(v.name)!.push(t);
      process.stderr.write(
        `  rep ${r + 1}/${reps} ${v.name.padEnd(52)} up+attach ${t.attachUp.toFixed(0)} ms, detach ${t.detach.toFixed(0)} ms\n`,
      );
    }
  console.log(`\nN=${n}, medians of ${reps}                                 up+attach ms   detach ms`);
  for (const v of VARIANTS) {
    const xs = runs.get(v.name)!;
    console.log(
      `  ${v.name.padEnd(52)} ${median(xs.map((x) => x.attachUp))
        .toFixed(1)
        .padStart(12)} ${median(xs.map((x) => x.detach))
        .toFixed(1)
        .padStart(11)}`,
    );
  }
}

main().catch((e) => {
  console.error(`bench failed: ${e.message}`);
  process.exitCode = 1;
});
