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
async function monitor(ns: string, args: string[], act: (monitorPid: number) => void | Promise<void>): Promise<Line[]> {
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
    await act(child.pid as number);
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

// A monitor keeps up with ip -batch when nothing else holds it (it reads on a thread of its
// own); here it is stopped (SIGSTOP) for a moment during the burst, as a busy host would stall
// it, so its 64 KiB queue overflows and the kernel drops events.
kernelTest(
  t,
  '--rcvbuf 65536 and 2,000 veth pairs up then deleted, the monitor stalled meanwhile: a resync, and replaying gives what ip lists',
  () =>
    withNetns(async (ns) => {
      const lines = await monitor(ns, ['link', '--rcvbuf', '65536'], async (pid) => {
        const l: string[] = [];
        for (let i = 0; i < 1000; i++) l.push(`link add mv${i} type veth peer name mp${i}`);
        for (let i = 0; i < 1000; i++) l.push(`link set mv${i} up`, `link set mp${i} up`);
        for (let i = 0; i < 700; i++) l.push(`link del mv${i}`);
        const file = path.join(os.tmpdir(), `hwmon-${process.pid}-${Date.now()}.batch`);
        fs.writeFileSync(file, l.join('\n') + '\n');
        try {
          const ipRun = spawn('ip', ['-n', ns, '-batch', file], { stdio: 'ignore' });
          const ipDone = new Promise<number | null>((r) => ipRun.on('exit', (code) => r(code)));
          process.kill(pid, 'SIGSTOP');
          await new Promise((r) => setTimeout(r, 400));
          process.kill(pid, 'SIGCONT');
          assert.is(await ipDone, 0);
        } finally {
          fs.rmSync(file, { force: true });
        }
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
