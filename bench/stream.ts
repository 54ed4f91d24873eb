/**
 * The stream for agents against a process per command: N sequential round trips through one
 * `hostwire --json batch -` (write `link set lo up`, wait for its result line, write the next)
 * against N `ip link set lo up` processes run one after the other. In a throwaway namespace,
 * alternated over R rounds, medians. The target: the stream's N round trips take at most 1/10
 * of the N processes, measured in the same run (the machine is shared: absolute times mean
 * little). The stream's time includes starting and ending its one process.
 *
 *   node dist/bench/stream.js [--n N] [--reps R] [--cli FILE]     (default: 1000, 3, dist/bundle/bin.js)
 */
import { spawn, spawnSync } from 'child_process';
import * as path from 'path';

function args(argv: string[]) {
  const get = (k: string, d: string) => {
    const i = argv.indexOf(k);
    return i >= 0 ? argv[i + 1] : d;
  };
  const n = Number(get('--n', '1000'));
  const reps = Number(get('--reps', '3'));
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(reps) || reps < 1)
    throw new Error('usage: stream [--n N] [--reps R] [--cli FILE]');
  return { n, reps, cli: path.resolve(get('--cli', path.join(__dirname, '..', 'bundle', 'bin.js'))) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

/** N round trips through one stream; its wall time in ms. */
async function stream(cli: string, ns: string, n: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  const child = spawn(process.execPath, [cli, '-n', ns, '--json', 'batch', '-'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  child.stdout.setEncoding('utf8');
  let buffered = '';
  let answered = 0;
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: string) => {
      buffered += d;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const r = JSON.parse(buffered.slice(0, nl)) as { line: number; ok: boolean };
        buffered = buffered.slice(nl + 1);
        if (!r.ok || r.line !== ++answered) return reject(new Error(`unexpected result ${JSON.stringify(r)}`));
        if (answered === n) return resolve();
        child.stdin.write('link set lo up\n');
      }
    });
    child.on('exit', () => reject(new Error(`the stream exited after ${answered} results`)));
    child.stdin.write('link set lo up\n');
  });
  child.stdin.end();
  if ((await exited) !== 0) throw new Error('the stream failed');
  return ms(t0);
}

/** N `ip link set lo up` processes, one after the other; their wall time in ms. */
function processes(ns: string, n: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const r = spawnSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    if (r.status !== 0) throw new Error(`ip failed: ${r.stderr}`);
  }
  return ms(t0);
}

async function main(): Promise<void> {
  const { n, reps, cli } = args(process.argv.slice(2));
  const ns = `hwstream${process.pid}`;
  const r = spawnSync('ip', ['netns', 'add', ns], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip netns add: ${r.stderr}`);
  const times = { stream: [] as number[], ip: [] as number[] };
  try {
    for (let rep = 0; rep < reps; rep++) {
      times.stream.push(await stream(cli, ns, n));
      times.ip.push(processes(ns, n));
      process.stderr.write(`round ${rep + 1}/${reps}: stream ${times.stream[rep].toFixed(0)} ms, ip ${times.ip[rep].toFixed(0)} ms\n`);
    }
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
  const s = median(times.stream);
  const p = median(times.ip);
  const rows = [
    [`hostwire --json batch - (one process, ${n} round trips)`, s],
    [`ip link set lo up (${n} processes)`, p],
  ] as const;
  console.log(`${n} sequential round trips, medians of ${reps} (${cli})`);
  for (const [name, t] of rows) console.log(`${t.toFixed(1).padStart(9)} ms  ${((t / n) * 1000).toFixed(0).padStart(6)} us/trip  ${name}`);
  console.log(`ratio stream/processes: ${(s / p).toFixed(3)} (target <= 0.1)`);
}

main().catch((e) => {
  process.stderr.write(`stream: ${(e as Error).message}\n`);
  process.exit(1);
});
