/** Kernel tier: `hostwire monitor` as a process, against ip -batch making the changes. */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CLI, ipJson, kernelTest, withNetns } from './helpers/kernel';

const t = suite('monitor-cli');

interface Line {
  event: string;
  object: string;
  name: string;
  index: number;
  resync?: boolean;
  initial?: boolean;
}

/** Runs `hostwire -n NS --json monitor ARGS` while `act` runs; returns its lines once it has been quiet for a while. */
async function monitor(ns: string, args: string[], act: () => void): Promise<Line[]> {
  const child = spawn(process.execPath, [CLI, '-n', ns, '--json', 'monitor', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    // Ready once the snapshot (at least lo) is printed.
    for (let i = 0; i < 200 && !out.includes('\n'); i++) await new Promise((r) => setTimeout(r, 25));
    assert.ok(out.includes('"initial":true'), `monitor started: ${err}`);
    act();
    let last = -1;
    while (last !== out.length) {
      last = out.length;
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    child.kill('SIGTERM');
  }
  assert.is(await exited, 0, err);
  return out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Line);
}

function batch(ns: string, lines: string[]): void {
  const file = path.join(os.tmpdir(), `hwmon-${process.pid}-${Date.now()}.batch`);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  try {
    const r = spawnSync('ip', ['-n', ns, '-batch', file], { encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
  } finally {
    fs.rmSync(file, { force: true });
  }
}

kernelTest(t, '300 taps created then deleted by ip -batch: an add and a delete event for each name', () =>
  withNetns(async (ns) => {
    const names = Array.from({ length: 300 }, (_, i) => `mt${i}`);
    const lines = await monitor(ns, ['link'], () => {
      batch(ns, [...names.map((n) => `tuntap add dev ${n} mode tap`), ...names.map((n) => `link del ${n}`)]);
    });
    for (const n of names) {
      assert.ok(
        lines.some((l) => l.name === n && l.event === 'add'),
        `add ${n}`,
      );
      assert.ok(
        lines.some((l) => l.name === n && l.event === 'delete'),
        `delete ${n}`,
      );
    }
  }),
);

// 8 KiB: the kernel must drop events whatever the speed of the reader. (At 64 KiB it did only
// while writing each line through process.stdout kept the reader slow; written with write(2),
// the monitor keeps up and there is nothing to resync.)
kernelTest(t, '--rcvbuf 8192 and 2,000 veth pairs up then deleted: a resync, and replaying gives what ip lists', () =>
  withNetns(async (ns) => {
    const lines = await monitor(ns, ['link', '--rcvbuf', '8192'], () => {
      const l: string[] = [];
      for (let i = 0; i < 1000; i++) l.push(`link add mv${i} type veth peer name mp${i}`);
      for (let i = 0; i < 1000; i++) l.push(`link set mv${i} up`, `link set mp${i} up`);
      for (let i = 0; i < 700; i++) l.push(`link del mv${i}`);
      batch(ns, l);
    });
    assert.ok(
      lines.some((l) => l.resync),
      'the events include a resync',
    );
    const state = new Map<number, string>();
    for (const l of lines) {
      if (l.event === 'delete') state.delete(l.index);
      else state.set(l.index, l.name);
    }
    const want = ipJson<Array<{ ifindex: number; ifname: string }>>('-n', ns, 'link', 'show')
      .map((l) => `${l.ifindex}:${l.ifname}`)
      .sort();
    assert.equal([...state].map(([i, n]) => `${i}:${n}`).sort(), want);
  }),
);

t.run();
