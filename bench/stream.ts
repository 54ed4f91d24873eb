/**
 * The stream for agents against a process per command: N sequential round trips through one
 * `hostwire --json batch -` (write `link set lo up`, wait for its result line, write the next)
 * against N `ip link set lo up` processes run one after the other. In a throwaway namespace,
 * alternated over R rounds, medians. The target: the stream's N round trips take at most 1/10
 * of the N processes, measured in the same run (the machine is shared: absolute times mean
 * little). The round trips are timed from the first one after the process has answered a
 * first line (an agent keeps the process open), then the next N in the same process (V8
 * optimises the line's path only after a few thousand lines: until then it runs mostly
 * interpreted, at about twice the cost per line of a process past that); the time with the
 * process's start and end is reported beside them.
 *
 *   node dist/bench/stream.js [--n N] [--reps R] [--cli FILE]     (default: 1000, 3, dist/bundle/bin.js)
 */
import { spawn, spawnSync } from 'child_process';
import * as os from 'os';
import * as path from 'path';
import { option } from './args';
import { cBinary } from './cref';

function args(argv: string[]) {
  const get = (k: string, d: string) => option(argv, k, d);
  const n = Number(get('--n', '1000'));
  const reps = Number(get('--reps', '3'));
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(reps) || reps < 1)
    throw new Error('usage: stream [--n N] [--reps R] [--cli FILE]');
  return { n, reps, cli: path.resolve(get('--cli', path.join(__dirname, '..', 'bundle', 'bin.js'))) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

/**
 * One stream: N round trips after a first line, then N more in the same process; the ms of the
 * first N, of the next N and of the whole process (spawn to exit, 2N + 1 lines).
 */
async function stream(cli: string, ns: string, n: number): Promise<{ trips: number; warm: number; whole: number }> {
  const t0 = process.hrtime.bigint();
  let t1 = t0;
  let t2 = t0;
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
        if (answered === 1) t1 = process.hrtime.bigint(); // up and answering: the round trips start
        if (answered === n + 1) t2 = process.hrtime.bigint();
        if (answered === 2 * n + 1) return resolve();
        child.stdin.write('link set lo up\n');
      }
    });
    child.on('exit', () => reject(new Error(`the stream exited after ${answered} results`)));
    child.stdin.write('link set lo up\n');
  });
  const trips = Number(t2 - t1) / 1e6;
  const warm = ms(t2);
  child.stdin.end();
  if ((await exited) !== 0) throw new Error('the stream failed');
  return { trips, warm, whole: ms(t0) };
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
  const times = { trips: [] as number[], warm: [] as number[], whole: [] as number[], ip: [] as number[] };
  try {
    for (let rep = 0; rep < reps; rep++) {
      const s = await stream(cli, ns, n);
      times.trips.push(s.trips);
      times.warm.push(s.warm);
      times.whole.push(s.whole);
      times.ip.push(processes(ns, n));
      process.stderr.write(
        `round ${rep + 1}/${reps}: stream ${s.trips.toFixed(0)} ms, next ${n} ${s.warm.toFixed(0)} ms (${s.whole.toFixed(0)} with start and end), ip ${times.ip[rep].toFixed(0)} ms\n`,
      );
    }
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
  const [trips, warm, whole, ip] = [median(times.trips), median(times.warm), median(times.whole), median(times.ip)];
  const row = (t: number, name: string) =>
    console.log(`| ${name} | ${t.toFixed(1)} | ${((t / n) * 1000).toFixed(0)} | ${(t / ip).toFixed(3)} |`);
  console.log(`${n} sequential round trips (link set lo up), medians of ${reps} rounds (${cli}, load ${os.loadavg()[0].toFixed(2)})`);
  console.log('| | ms | us per trip | ratio to ip |');
  console.log('| --- | ---: | ---: | ---: |');
  row(trips, `\`hostwire --json batch -\`: ${n} round trips`);
  row(warm, `the next ${n} round trips in the same process`);
  row(whole / 2, `half the process, start and end included (one process: ${2 * n + 1} lines)`);
  row(ip, `\`ip link set lo up\`: ${n} processes`);
  console.log(
    `target: round trips <= 0.1 of the processes: first ${n} ${trips / ip <= 0.1 ? 'met' : 'not met'}, next ${n} ${warm / ip <= 0.1 ? 'met' : 'not met'}`,
  );
  // The floor under a trip: what waking a sleeping process costs here (bench/wake.c). A trip
  // has four wake-ups: the stream's reader, the socket's thread, the JS thread, the reader.
  const w = spawnSync(cBinary('wake.c'), ['20000'], { encoding: 'utf8' });
  if (w.status === 0) {
    const { free_us, pinned_us } = JSON.parse(w.stdout) as { free_us: number; pinned_us: number };
    console.log(
      `wake-ups (bench/wake.c, two processes bouncing a byte over pipes): ${free_us.toFixed(1)} us per round trip as scheduled, ${pinned_us.toFixed(1)} us pinned to one CPU`,
    );
  }
}

main().catch((e) => {
  process.stderr.write(`stream: ${(e as Error).message}\n`);
  process.exit(1);
});
