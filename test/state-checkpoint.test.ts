/**
 * Kernel tier: checkpoints. An apply kept under a checkpoint and not confirmed is restored at
 * its deadline, by the waiter or by whoever finds it later; a confirmed one stays; one pending
 * checkpoint at a time. The CLI waits in the foreground and survives SIGHUP (a cut SSH session).
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { apply } from '../src/workflow/state';
import { checkpointPath, confirmCheckpoint, readCheckpoint, restoreCheckpoint, waitCheckpoint } from '../src/workflow/state-checkpoint';
import { CLI, hostwire, ip, ipJson, kernelTest, withHandle } from './helpers/kernel';

const t = suite('state-checkpoint');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A throwaway checkpoint directory, removed afterwards. */
async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hwcp'));
  try {
    return await fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const view = (ns: string) => [
  ipJson('-n', ns, '-d', 'link', 'show')
    .map((l: any) => [l.ifname, l.linkinfo?.info_kind, l.master, l.mtu, l.address, l.flags.includes('UP'), l.ifalias])
    .sort(),
  ipJson('-n', ns, 'addr', 'show').map((l: any) => [l.ifname, l.addr_info.map((a: any) => a.local).sort()]),
  ip('-n', ns, 'route', 'show').replace(/ linkdown/g, ''),
];

/** The uplink move: eth0's address to a new bridge, eth0 its port (a veth stands in for the NIC). */
function setUplink(ns: string) {
  ip('-n', ns, 'link', 'add', 'ceth0', 'type', 'veth', 'peer', 'name', 'cpeer0');
  ip('-n', ns, 'link', 'set', 'ceth0', 'up');
  ip('-n', ns, 'addr', 'add', '10.61.0.5/24', 'dev', 'ceth0');
  ip('-n', ns, 'route', 'add', 'default', 'via', '10.61.0.1');
}
const MOVE = {
  links: [
    { name: 'cbr0', kind: 'bridge', up: true, addresses: ['10.61.0.5/24'] },
    { name: 'ceth0', kind: 'veth', options: { peer: 'cpeer0' }, master: 'cbr0', up: true, addresses: [] },
  ],
  routes: [{ dst: 'default', gateway: '10.61.0.1', dev: 'cbr0' }],
};

kernelTest(t, 'not confirmed: the waiter restores the state before at the deadline; one checkpoint at a time', () =>
  withDir((dir) =>
    withHandle(async (h, ns) => {
      setUplink(ns);
      const before = view(ns);
      const r = await apply(h, MOVE, { confirmWithin: 0.5, checkpointDir: dir });
      assert.ok(r.verified && r.checkpoint);
      assert.ok(fs.existsSync(checkpointPath(ns, dir)));
      assert.is(ipJson('-n', ns, 'link', 'show', 'ceth0')[0].master, 'cbr0', 'moved');
      try {
        await apply(h, { links: [] }, { checkpointDir: dir });
        assert.unreachable();
      } catch (e) {
        assert.is((e as { code: string }).code, 'ECHECKPOINTPENDING');
      }
      assert.is(await waitCheckpoint(ns, r.checkpoint?.id, () => h, { dir, pollMs: 50 }), 'restored');
      assert.equal(view(ns), before);
      assert.is(readCheckpoint(ns, dir), null);
    }),
  ),
);

kernelTest(t, 'a restore that finds it later still restores: confirm past the deadline restores and says so', () =>
  withDir((dir) =>
    withHandle(async (h, ns) => {
      setUplink(ns);
      const before = view(ns);
      await apply(h, MOVE, { confirmWithin: 0.2, checkpointDir: dir });
      await sleep(300);
      try {
        await confirmCheckpoint(h, dir);
        assert.unreachable();
      } catch (e) {
        assert.is((e as { code: string }).code, 'ECHECKPOINTEXPIRED');
      }
      assert.equal(view(ns), before);
      // And an apply that finds one expired restores it before it plans.
      await apply(h, MOVE, { confirmWithin: 0.2, checkpointDir: dir });
      await sleep(300);
      const r = await apply(h, { links: [{ name: 'lo', kind: 'loopback' }] }, { checkpointDir: dir, dryRun: false });
      assert.is(r.changes, 0);
      assert.equal(view(ns), before);
      assert.is(await restoreCheckpoint(h, { dir }), null, 'nothing left');
    }),
  ),
);

kernelTest(t, 'confirmed in time: the change stays, the checkpoint is gone, the waiter ends', () =>
  withDir((dir) =>
    withHandle(async (h, ns) => {
      setUplink(ns);
      const r = await apply(h, MOVE, { confirmWithin: 30, checkpointDir: dir });
      const waiting = waitCheckpoint(ns, r.checkpoint?.id, () => h, { dir, pollMs: 20 });
      await confirmCheckpoint(h, dir);
      assert.is(await waiting, 'confirmed');
      assert.is(ipJson('-n', ns, 'link', 'show', 'ceth0')[0].master, 'cbr0');
      try {
        await confirmCheckpoint(h, dir);
        assert.unreachable();
      } catch (e) {
        assert.is((e as { code: string }).code, 'ENOCHECKPOINT');
      }
    }),
  ),
);

/** `hostwire -n NS apply - --confirm-within S --json` as a child, its first line out (the apply's result). */
async function applyInBackground(
  ns: string,
  seconds: number,
): Promise<{ child: ChildProcess; first: Record<string, any>; rest: () => string; exit: Promise<number | null> }> {
  const child = spawn(process.execPath, [CLI, '-n', ns, 'apply', '-', '--confirm-within', String(seconds), '--json'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin?.end(JSON.stringify(MOVE));
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  for (let i = 0; i < 200 && !out.includes('\n'); i++) await sleep(50);
  const first = JSON.parse(out.split('\n')[0]);
  return { child, first, rest: () => out.split('\n').slice(1).join('\n'), exit };
}

kernelTest(
  t,
  'CLI: apply --confirm-within waits in the foreground, survives SIGHUP, restores at the deadline; confirm ends it; killed, the next rollback restores',
  () =>
    withHandle(async (_h, ns) => {
      setUplink(ns);
      const before = view(ns);
      const file = checkpointPath(ns);
      const children: ChildProcess[] = [];
      try {
        // Not confirmed: the session that ran it goes away (SIGHUP); it restores at the deadline anyway.
        const a = await applyInBackground(ns, 2);
        children.push(a.child);
        assert.equal([a.first.verified, a.first.checkpoint.file], [true, file]);
        assert.ok(fs.existsSync(file));
        assert.is(ipJson('-n', ns, 'link', 'show', 'ceth0')[0].master, 'cbr0', 'applied');
        a.child.kill('SIGHUP');
        assert.is(await a.exit, 1, 'not confirmed: exit 1');
        assert.match(a.rest(), /"checkpoint":"restored"/);
        assert.not.ok(fs.existsSync(file));
        assert.equal(view(ns), before);
        // Confirmed in time from another process: the change stays, the waiting apply ends with 0.
        const b = await applyInBackground(ns, 30);
        children.push(b.child);
        assert.is(hostwire(['-n', ns, 'confirm']).status, 0);
        assert.is(await b.exit, 0);
        assert.match(b.rest(), /"checkpoint":"confirmed"/);
        assert.is(ipJson('-n', ns, 'link', 'show', 'ceth0')[0].master, 'cbr0');
        const gone = hostwire(['-n', ns, 'confirm', '--json']);
        assert.equal([gone.status, JSON.parse(gone.stderr).code], [1, 'ENOCHECKPOINT']);
        // Killed outright: the checkpoint stays under /run, and a rollback found later restores it.
        ip('-n', ns, 'link', 'del', 'cbr0');
        ip('-n', ns, 'addr', 'add', '10.61.0.5/24', 'dev', 'ceth0');
        ip('-n', ns, 'route', 'add', 'default', 'via', '10.61.0.1');
        assert.equal(view(ns), before);
        const c = await applyInBackground(ns, 1);
        children.push(c.child);
        c.child.kill('SIGKILL');
        await c.exit;
        assert.ok(fs.existsSync(file), 'the checkpoint outlives the process');
        await sleep(1100);
        assert.is(hostwire(['-n', ns, 'rollback']).status, 0);
        assert.not.ok(fs.existsSync(file));
        assert.equal(view(ns), before, 'restored');
      } finally {
        for (const ch of children) if (ch.exitCode === null && ch.signalCode === null) ch.kill('SIGKILL');
        fs.rmSync(file, { force: true });
      }
    }),
);

t.run();
