/**
 * Why an RTM_GETLINK of a tap makes its attach and detach cheaper: the C reference's variants
 * (bench/cref.c) side by side, plus what the kernel shows between phases. The finding, in
 * short (README "Benchmarks"; kernel functions named as in net/):
 *
 *   A persistent tap is registered with carrier on (operstate stays IF_OPER_UNKNOWN), and
 *   closing its fd turns the carrier off: __tun_detach -> netif_carrier_off ->
 *   linkwatch_fire_event, not urgent for a device that is down. The link-watch work runs at most
 *   100 devices per run and non-urgent runs once a second (__linkwatch_run_queue:
 *   MAX_DO_DEV_PER_LOOP, linkwatch_nextevent = jiffies + HZ), so after a bulk create most taps
 *   keep operstate UNKNOWN for seconds, and netif_oper_up() counts UNKNOWN as up. br_add_if
 *   then enables the port on an up bridge (br_stp_enable_port -> br_port_state_selection,
 *   which walks every port of the bridge: quadratic), del_nbp disables it again the same way,
 *   and the link-watch work later does it once more under RTNL. rtnl_getlink calls
 *   linkwatch_sync_dev(dev) first, which runs that device's pending event at once
 *   (rfc2863_policy: operstate DOWN), so the port is never enabled.
 *
 *   node dist/bench/linkwatch.js [--taps N] [--reps R] [--bridges up|down|both]
 */
import { spawnSync } from 'child_process';
import { PHASES, setup, type Phase } from './impls';
import { runCref } from './cref';

interface Variant {
  name: string;
  variant: string;
  extra?: string[];
}

const VARIANTS: Variant[] = [
  { name: 'pipelined', variant: 'pipelined' },
  { name: 'getlink (same tap, before attach/detach)', variant: 'getlink' },
  { name: 'getlink of lo instead', variant: 'getlink-lo' },
  { name: 'getlink after each up', variant: 'getlink-up' },
  { name: 'getlink after each create (tap down)', variant: 'getlink-create' },
  { name: 'ethtool GLINK after each create (down)', variant: 'ethtool-create' },
  { name: 'ethtool GLINK after the up phase', variant: 'ethtool-up' },
  { name: 'attach before up', variant: 'attach-first' },
  { name: 'pipelined, 1 s pause after up', variant: 'pipelined', extra: ['--pause-ms', '1000'] },
  { name: 'pipelined, window 1', variant: 'pipelined', extra: ['--window', '1'] },
  { name: 'getlink, window 1', variant: 'getlink', extra: ['--window', '1'] },
];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Counts of `what` (e.g. 'state UP') in `ip -o link` / `bridge link` output lines of taps. */
function tally(lines: string, re: RegExp): string {
  const counts = new Map<string, number>();
  for (const l of lines.split('\n')) {
    if (!/\bbt\d+[@:]/.test(l)) continue;
    const m = re.exec(l);
    const k = m ? m[1] : '?';
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts].map(([k, c]) => `${c} ${k}`).join(', ') || 'none';
}

/** What the kernel shows between phases: tap operstates (a dump does not sync) and port states. */
function observe(n: number, tag: string) {
  const out: string[] = [];
  const links = (ns: string) => spawnSync('ip', ['-n', ns, '-o', 'link', 'show'], { encoding: 'utf8' }).stdout;
  const ports = (ns: string) => spawnSync('bridge', ['-n', ns, 'link', 'show'], { encoding: 'utf8' }).stdout;
  const operstate = /\bstate (\S+)/;
  const portState = /\bstate (\S+)/;
  let ns = `hwlw${process.pid}${tag}a`;
  setup(ns, n, true);
  try {
    runCref(ns, n, 'pipelined', ['--stop-after', 'up']);
    out.push(`  taps' operstate right after up (no GETLINK sent; from a dump, which does not sync): ${tally(links(ns), operstate)}`);
    spawnSync('sleep', ['2']);
    out.push(`  the same taps 2 s later (link-watch work ran meanwhile):                        ${tally(links(ns), operstate)}`);
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
  for (const v of ['pipelined', 'getlink-create']) {
    ns = `hwlw${process.pid}${tag}${v === 'pipelined' ? 'b' : 'c'}`;
    setup(ns, n, true);
    try {
      runCref(ns, n, v, ['--stop-after', 'attach']);
      out.push(`  bridge port states right after attach, ${v.padEnd(15)}: ${tally(ports(ns), portState)}`);
    } finally {
      spawnSync('ip', ['netns', 'del', ns]);
    }
  }
  return out;
}

function main() {
  if (process.getuid?.() !== 0) throw new Error('the linkwatch trial needs root (it makes namespaces and taps)');
  const argv = process.argv.slice(2);
  const get = (k: string, d: string) => (argv.includes(k) ? argv[argv.indexOf(k) + 1] : d);
  const n = Number(get('--taps', '1000'));
  const reps = Number(get('--reps', '3'));
  const which = get('--bridges', 'up');
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(reps) || reps < 1 || !['up', 'down', 'both'].includes(which))
    throw new Error('usage: linkwatch [--taps N] [--reps R] [--bridges up|down|both]');
  const modes = which === 'both' ? [true, false] : [which === 'up'];
  console.log(`linkwatch: ${n} taps on bridges of 1,000 ports, ${reps} reps, medians (ms); extra requests are timed in their phase`);
  for (const up of modes) {
    const runs = new Map<string, Array<Partial<Record<Phase, number>>>>(VARIANTS.map((v) => [v.name, []]));
    for (let r = 0; r < reps; r++)
      for (let k = 0; k < VARIANTS.length; k++) {
        const v = VARIANTS[(k + r) % VARIANTS.length];
        const ns = `hwlw${process.pid}${r}${k}`;
        setup(ns, n, up);
        try {
          runs.get(v.name)!.push(runCref(ns, n, v.variant, v.extra).phases);
        } finally {
          spawnSync('ip', ['netns', 'del', ns]);
        }
      }
    const med = (name: string, p: Phase | 'total') =>
      median(runs.get(name)!.map((t) => (p === 'total' ? PHASES.reduce((a, q) => a + (t[q] ?? 0), 0) : (t[p] ?? 0))));
    const lines = [
      `\nbridges ${up ? 'up' : 'down'}`,
      `  variant                                     create      up  attach  detach  delete   total   attach x  detach x`,
    ];
    for (const v of VARIANTS) {
      const cols = [...PHASES, 'total' as const].map((p) =>
        med(v.name, p)
          .toFixed(0)
          .padStart(p === 'create' ? 6 : 7),
      );
      const x = (p: Phase) => (med('pipelined', p) / med(v.name, p)).toFixed(2).padStart(9);
      lines.push(`  ${v.name.padEnd(42)} ${cols.join(' ')} ${x('attach')} ${x('detach')}`);
    }
    lines.push('  attach x, detach x: how many times faster than pipelined');
    console.log(lines.join('\n'));
  }
  console.log('\nwhat the kernel shows (bridge up):\n' + observe(n, 'o').join('\n'));
}

main();
