/**
 * The watcher: list then watch, gaps repaired by a resync, replayed events equal the kernel's
 * state. A fake-kernel test (no root), then kernel tests in throwaway namespaces: a flood of
 * changes through a 64 KiB receive buffer, a cross-check with `ip monitor link`, and a
 * namespace whose name is deleted under a live watcher.
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Watcher, type WatchEvent } from '../src/rtnl/watch';
import { MessageWriter, type NetlinkMessage } from '../src/rtnl/wire';
import { done, fakeTransport, reply } from '../src/rtnl/testing';
import { IFLA_IFNAME, IFLA_MTU, NLM_F_DUMP_INTR, NLM_F_MULTI, RTM_DELLINK, RTM_GETLINK, RTM_NEWLINK } from '../src/rtnl/constants';
import { ip, ipJson, kernelTest, withNetns } from './helpers/kernel';

const t = suite('watch');

const linkBody = (index: number, name: string, mtu = 1500) =>
  new MessageWriter(RTM_NEWLINK, 0).ifinfomsg(index, 1).string(IFLA_IFNAME, name).u32(IFLA_MTU, mtu).finish().subarray(16);

t('fake kernel: snapshot, then add/change/delete from notifications; a gap gives exactly the difference, marked resync', async () => {
  let links: Array<[number, string, number]> = [
    [1, 'lo', 65536],
    [2, 'a', 1500],
  ];
  const fake = fakeTransport((req: NetlinkMessage) =>
    req.type === RTM_GETLINK
      ? [...links.map(([i, n, m]) => reply(req, RTM_NEWLINK, linkBody(i, n, m), NLM_F_MULTI)), done(req)]
      : [done(req)],
  );
  const w = await Watcher.open({ objects: ['link'], transport: fake.factory });
  assert.equal([...w.cache.link.values()].map((l) => l.name).sort(), ['a', 'lo']);
  assert.ok(fake.groups.includes(1), 'joined RTNLGRP_LINK');
  const events: WatchEvent[] = [];
  w.on('event', (e) => events.push(e));
  assert.is(fake.refs, 1, 'kept alive while someone listens');
  const notify = (type: number, i: number, n: string, m = 1500) =>
    fake.notify(new MessageWriter(type, 0).bytes(linkBody(i, n, m)).finish());
  notify(RTM_NEWLINK, 3, 'b');
  notify(RTM_NEWLINK, 3, 'b', 9000);
  notify(RTM_NEWLINK, 3, 'b', 9000); // no change: no event
  notify(RTM_DELLINK, 2, 'a');
  assert.equal(
    events.map((e) => `${e.event} ${(e.state as { name?: string }).name}`),
    ['add b', 'change b', 'delete a'],
  );
  // The kernel drops notifications: c was added and b deleted meanwhile, unseen.
  links = [
    [1, 'lo', 65536],
    [4, 'c', 1500],
  ];
  events.length = 0;
  fake.recvError(105);
  await new Promise<void>((r) => w.once('resync', () => r()));
  assert.is(w.resyncs, 1);
  assert.equal(
    events.map((e) => `${e.event} ${(e.state as { name?: string }).name} ${e.resync}`),
    ['add c true', 'delete b true'],
  );
  assert.equal([...w.cache.link.values()].map((l) => l.name).sort(), ['c', 'lo']);
  w.removeAllListeners('event');
  assert.is(fake.refs, 0, 'not kept alive without listeners');
  w.close();
});

t('fake kernel: a resync dump the kernel refuses (ENOBUFS, or EINTR every time) is a gap too: it dumps again until whole', async () => {
  let links: Array<[number, string]> = [[1, 'lo']];
  let refuse: 'lost' | 'intr' | undefined;
  let dumps = 0;
  const fake = fakeTransport((req: NetlinkMessage) => {
    if (req.type !== RTM_GETLINK) return [done(req)];
    dumps++;
    if (refuse === 'lost') return ((refuse = undefined), null); // nothing at all comes back
    const parts = links.map(([i, n]) => reply(req, RTM_NEWLINK, linkBody(i, n), NLM_F_MULTI));
    return [...parts, done(req, refuse === 'intr' ? NLM_F_DUMP_INTR : 0)];
  });
  const w = await Watcher.open({ objects: ['link'], transport: fake.factory });
  const events: WatchEvent[] = [];
  w.on('event', (e) => events.push(e));
  for (const how of ['lost', 'intr'] as const) {
    links = [...links, [links.length + 1, `n${how}`]];
    refuse = how;
    dumps = 0;
    fake.recvError(105);
    if (how === 'intr') setTimeout(() => (refuse = undefined), 30); // changes stop, in time
    await new Promise<void>((r) => w.once('resync', () => r()));
    assert.ok(dumps >= 2, `${how}: dumped again (${dumps})`);
  }
  assert.is(w.resyncs, 2, 'a refused pass is not counted');
  assert.equal(
    events.map((e) => `${e.event} ${(e.state as { name?: string }).name} ${e.resync}`),
    ['add nlost true', 'add nintr true'],
  );
  w.close();
});

t('fake kernel: breaking out of the async iterator closes the watcher', async () => {
  const fake = fakeTransport((req) => [done(req)]);
  const w = await Watcher.open({ objects: ['link'], transport: fake.factory });
  setImmediate(() => fake.notify(new MessageWriter(RTM_NEWLINK, 0).bytes(linkBody(5, 'x')).finish()));
  for await (const ev of w) {
    assert.is((ev.state as { name?: string }).name, 'x');
    break;
  }
  let closed = false;
  w.on('close', () => (closed = true));
  w.close();
  assert.is(fake.refs, 0);
  assert.is(closed, false, 'already closed by the break');
});

/** The state an event stream describes: the last state per key, deletes removing. */
function replay(events: WatchEvent[]): Map<string, WatchEvent['state']> {
  const m = new Map<string, WatchEvent['state']>();
  for (const e of events) {
    if (e.object !== 'link') continue;
    if (e.event === 'delete') m.delete(e.key);
    else m.set(e.key, e.state);
  }
  return m;
}

interface IpLink {
  ifindex: number;
  ifname: string;
  master?: string;
  operstate: string;
  mtu: number;
}

function sameAsIp(ns: string, state: Map<string, WatchEvent['state']>): void {
  const want = ipJson<IpLink[]>('-n', ns, 'link', 'show')
    .map((l) => `${l.ifindex} ${l.ifname} ${l.master ?? '-'} ${l.operstate} ${l.mtu}`)
    .sort();
  const byIndex = new Map([...state.values()].map((l) => [(l as { index: number }).index, (l as { name: string }).name]));
  const got = [...state.values()]
    .map((s) => {
      const l = s as { index: number; name: string; master: number | null; operstate: string; mtu: number };
      return `${l.index} ${l.name} ${l.master ? byIndex.get(l.master) : '-'} ${l.operstate} ${l.mtu}`;
    })
    .sort();
  assert.equal(got, want);
}

kernelTest(t, '4,500 link changes through a 64 KiB buffer: resyncs, and the replayed events equal ip -j link show', () =>
  withNetns(async (ns) => {
    const w = await Watcher.open({ netns: ns, objects: ['link'], rcvbuf: 65536, emitInitial: true });
    const events: WatchEvent[] = [];
    w.on('event', (e) => events.push(e));
    try {
      ip('-n', ns, 'link', 'add', 'wbr0', 'type', 'bridge');
      const file = path.join(os.tmpdir(), `hwwatch-${process.pid}.batch`);
      const lines: string[] = [];
      // 1,000 ports: a bridge takes at most 1,024 (BR_MAX_PORTS; more is EXFULL and stops ip -batch).
      for (let i = 0; i < 1000; i++) lines.push(`link add wv${i} type veth peer name wp${i}`);
      for (let i = 0; i < 1000; i++) lines.push(`link set wv${i} up mtu 1400`, `link set wp${i} master wbr0`);
      for (let i = 0; i < 500; i++) lines.push(`link del wv${i}`);
      fs.writeFileSync(file, lines.join('\n') + '\n');
      try {
        // Another process makes the changes, while this one's event loop is busy at the same time.
        const child = spawn('ip', ['-n', ns, '-batch', file], { stdio: 'ignore' });
        const busyUntil = Date.now() + 500;
        while (Date.now() < busyUntil); // the receive queue fills meanwhile
        const code = await new Promise((r) => child.on('exit', r));
        assert.is(code, 0, 'ip -batch made every change');
      } finally {
        fs.rmSync(file, { force: true });
      }
      // Settle: no more events for a while, and no resync under way.
      let last = -1;
      while (last !== events.length) {
        last = events.length;
        await new Promise((r) => setTimeout(r, 300));
      }
      assert.ok(w.resyncs >= 1, `resyncs: ${w.resyncs}`);
      assert.ok(
        events.some((e) => e.resync),
        'some events came from a resync',
      );
      assert.ok(events.length >= 1000, `${events.length} events`);
      sameAsIp(ns, replay(events));
      sameAsIp(ns, w.cache.link as Map<string, WatchEvent['state']>);
    } finally {
      w.close();
    }
  }),
);

kernelTest(t, 'a small scenario, cross-checked with ip monitor link', () =>
  withNetns(async (ns) => {
    const mon = spawn('ip', ['-n', ns, '-o', 'monitor', 'link'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let monOut = '';
    mon.stdout.on('data', (d) => (monOut += d));
    const w = await Watcher.open({ netns: ns, objects: ['link'] });
    const events: WatchEvent[] = [];
    w.on('event', (e) => events.push(e));
    try {
      await new Promise((r) => setTimeout(r, 200));
      ip('-n', ns, 'link', 'add', 'mbr0', 'type', 'bridge');
      ip('-n', ns, 'link', 'add', 'mv0', 'type', 'veth', 'peer', 'name', 'mp0');
      ip('-n', ns, 'link', 'set', 'mv0', 'master', 'mbr0');
      ip('-n', ns, 'link', 'del', 'mv0');
      await new Promise((r) => setTimeout(r, 300));
      const ours = new Set(events.map((e) => `${e.event === 'delete' ? 'Deleted ' : ''}${(e.state as { name?: string }).name}`));
      for (const name of ['mbr0', 'mv0', 'mp0']) {
        assert.ok(monOut.includes(`: ${name}`) || monOut.includes(` ${name}@`), `ip monitor saw ${name}`);
        assert.ok(ours.has(name), `we saw ${name}`);
      }
      for (const name of ['mv0', 'mp0']) {
        assert.ok(new RegExp(`Deleted \\d+: ${name}`).test(monOut), `ip monitor saw ${name} go`);
        assert.ok(ours.has(`Deleted ${name}`), `we saw ${name} go`);
      }
      const attach = events.find((e) => (e.state as { name?: string }).name === 'mv0' && (e.state as { master: number | null }).master);
      assert.ok(attach, 'the master change is an event');
    } finally {
      w.close();
      mon.kill();
    }
  }),
);

kernelTest(t, 'a watcher whose namespace name is deleted goes on until closed; then no fd is left', async () => {
  const fds = () => fs.readdirSync('/proc/self/fd').length;
  const before = fds();
  const ns = `hwwatchdel${process.pid}`;
  ip('netns', 'add', ns);
  let w: Watcher | undefined;
  try {
    w = await Watcher.open({ netns: ns, objects: ['link'] });
    const events: WatchEvent[] = [];
    w.on('event', (e) => events.push(e));
    // A process inside the namespace keeps making changes after the name is gone.
    const child = spawn('ip', ['netns', 'exec', ns, 'sh', '-c', 'sleep 0.3; ip link add wd0 type bridge; ip link set wd0 up'], {
      stdio: 'ignore',
    });
    ip('netns', 'del', ns);
    await new Promise((r) => child.on('exit', r));
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(
      events.some((e) => (e.state as { name?: string }).name === 'wd0'),
      'events still arrive',
    );
  } finally {
    w?.close();
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  }
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(fds() <= before, `no fd left behind (${fds()} now, ${before} before)`);
});

t.run();
