/**
 * Start-up of the `hostwire` command against `node -e 0`: each command run N times, side by side
 * (every round runs every command once, in a rotated order), medians and their ratio to
 * `node -e 0` from the same rounds (the machine is shared: absolute times mean little). The
 * target: each packaged command at most 1.25 times `node -e 0`.
 *
 * The commands are read-only: queries of this namespace and libvirt's test:///default driver
 * (in the process, no daemon). `hostwire` is the package's launcher (dist/bundle/bin.js: the
 * bundle through V8's code cache), as `npx hostwire` runs it; the rows marked "tsc output" run
 * dist/src/cli/main.js, the unbundled build the tests use, for comparison.
 *
 * With --bin FILE, `hostwire` is that launcher instead: an installed package's
 * (node_modules/hostwire/dist/bundle/bin.js), whose addons come from its prebuilds.
 *
 * The reference row `node -e 0 + libvirt in C` is `node -e 0` with bench/libvirt-floor.c in
 * LD_PRELOAD: before node starts, it does in C all that `net list` asks of libvirt (load
 * libvirt.so.0 and its ~55 libraries, virInitialize, open test:///default, list the networks).
 * No hostwire in it: what is left of 1.25 for a libvirt verb's own work once libvirt has done
 * its part. (Loading libvirt on another thread while node starts does not shorten it on this
 * kind of machine: the two threads' page faults and mappings slow each other about as much.)
 *
 * NODE_EXTRA_CA_CERTS, when set (this machine sets it), makes node read and parse that file of
 * certificates as it starts, before any script: ~30 ms of `node -e 0`'s ~50 here, paid by every
 * row alike. With --bare every command runs without it, so the ratios are against node's own
 * start; the table then shows what the same overhead weighs against a node that starts in ~19 ms.
 *
 *   node dist/bench/startup.js [--runs N] [--bin FILE] [--json FILE] [--bare]      (default: 21 runs)
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { cBinary } from './cref';

const DIST = path.resolve(__dirname, '..');
const MAIN = path.join(DIST, 'src', 'cli', 'main.js');
const LIMIT = 1.25;

interface Command {
  name: string;
  argv: string[];
  /** Held to the 1.25 target (the packaged command). */
  target: boolean;
  /** Added to the environment of this row's runs. */
  env?: Record<string, string>;
}

function commands(bin: string, batchFile: string): Command[] {
  const hw = (args: string[], target = true, file = bin): Command => ({
    name: `hostwire ${args.join(' ').replace(batchFile, 'FILE')}${file === MAIN ? '   (tsc output)' : ''}`,
    argv: [file, ...args],
    target,
  });
  return [
    { name: 'node -e 0', argv: ['-e', '0'], target: false },
    {
      name: 'node -e 0 + libvirt in C (net list on test:///default)',
      argv: ['-e', '0'],
      target: false,
      env: { LD_PRELOAD: cBinary('libvirt-floor.c', true) },
    },
    hw(['link', 'show', 'lo']),
    hw(['bridge', 'show']),
    hw(['tap', 'show']),
    hw(['netns', 'list']),
    hw(['addr', 'show', 'lo']),
    hw(['route', 'show']),
    hw(['batch', batchFile]),
    hw(['--uri', 'test:///default', 'net', 'list']),
    hw(['--uri', 'test:///default', 'domain', 'list']),
    hw(['link', 'show', 'lo'], false, MAIN),
    hw(['--uri', 'test:///default', 'net', 'list'], false, MAIN),
  ];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function main(): void {
  const argv = process.argv.slice(2);
  const get = (k: string) => (argv.includes(k) ? argv[argv.indexOf(k) + 1] : undefined);
  const runs = Number(get('--runs') ?? 21);
  if (!Number.isInteger(runs) || runs < 1) throw new Error('usage: startup [--runs N] [--bin FILE] [--json FILE] [--bare]');
  const env = { ...process.env };
  if (argv.includes('--bare')) delete env.NODE_EXTRA_CA_CERTS;
  const bin = path.resolve(get('--bin') ?? path.join(DIST, 'bundle', 'bin.js'));
  for (const f of [bin, MAIN]) if (!fs.existsSync(f)) throw new Error(`${f} is missing: run the bootstrap (npm run build:bundle)`);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hw-startup-'));
  try {
    const batchFile = path.join(dir, 'show.batch');
    fs.writeFileSync(batchFile, 'link show lo\n'); // FILE in the table
    const cmds = commands(bin, batchFile);
    const times = cmds.map(() => [] as number[]);
    const envs = cmds.map((c) => ({ ...env, ...c.env }));
    for (const c of cmds) {
      // Once each before timing: the page cache, and a failure shown before anything is measured.
      const r = spawnSync(process.execPath, c.argv, { encoding: 'utf8', env: envs[cmds.indexOf(c)] });
      if (r.status !== 0) throw new Error(`${c.name}: exit ${r.status ?? r.signal}: ${r.stderr}`);
    }
    for (let round = 0; round < runs; round++) {
      for (let k = 0; k < cmds.length; k++) {
        const i = (k + round) % cmds.length;
        const t0 = process.hrtime.bigint();
        spawnSync(process.execPath, cmds[i].argv, { stdio: 'ignore', env: envs[i] });
        times[i].push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }
    const base = median(times[0]);
    const rows = cmds.map((c, i) => ({
      command: c.name,
      median_ms: median(times[i]),
      ratio: median(times[i]) / base,
      target: c.target,
      runs_ms: times[i],
    }));
    const ca = env.NODE_EXTRA_CA_CERTS
      ? `NODE_EXTRA_CA_CERTS=${env.NODE_EXTRA_CA_CERTS}: node reads it as it starts, in every row; --bare runs without it`
      : 'no NODE_EXTRA_CA_CERTS';
    console.log(`start-up of ${bin}, medians of ${runs} runs side by side`);
    console.log(`(node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(2)}, ${ca})`);
    console.log('| command | median ms | ratio to node -e 0 |');
    console.log('| --- | ---: | ---: |');
    for (const r of rows) {
      const mark = r.target ? (r.ratio <= LIMIT ? '' : '  (over 1.25)') : '';
      console.log(`| \`${r.command}\` | ${r.median_ms.toFixed(1)} | ${r.ratio.toFixed(2)}${mark} |`);
    }
    const ms = (name: string) => rows.find((r) => r.command.startsWith(name))?.median_ms ?? NaN;
    const floor = ms('node -e 0 + libvirt in C');
    console.log(
      `libvirt's own part (the C row less node -e 0): ${(floor - base).toFixed(1)} ms; hostwire's part of \`net list\` ` +
        `(less the C row): ${(ms('hostwire --uri test:///default net list') - floor).toFixed(1)} ms; of \`link show lo\` ` +
        `(less node -e 0): ${(ms('hostwire link show lo') - base).toFixed(1)} ms`,
    );
    const json = get('--json');
    if (json) fs.writeFileSync(json, JSON.stringify({ runs, node: process.version, load: os.loadavg(), rows }, null, 2));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main();
