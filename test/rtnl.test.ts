/** Kernel tier: link verbs against the real kernel, each test in a throwaway namespace. */
import { spawnSync } from 'child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Handle, openSocket } from '../src/rtnl/handle';
import { runBatch } from '../src/rtnl/batch';
import { RTNLGRP_LINK } from '../src/rtnl/constants';
import type { NetlinkMessage } from '../src/rtnl/wire';
import { ip, ipJson, kernelTest, withHandle, withNetns } from './helpers/kernel';

const t = suite('rtnl');
const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e) => e.code,
  );

kernelTest(t, 'bridge with options, MTU and MAC in the create message', () =>
  withHandle(async (h, ns) => {
    await h.createBridge('br0', { stp: true, forwardDelay: 400, mtu: 1400, address: '02:11:22:33:44:55', mcastSnooping: false });
    const br = await h.getLink('br0');
    assert.is(br.kind, 'bridge');
    assert.is(br.mtu, 1400);
    assert.is(br.address, '02:11:22:33:44:55');
    assert.is(br.info?.stp_state, 1);
    assert.is(br.info?.forward_delay, 400);
    assert.is(br.info?.mcast_snooping, 0);
    const [cross] = ipJson('-n', ns, '-d', 'link', 'show', 'br0');
    assert.is(cross.address, '02:11:22:33:44:55');
    assert.is(cross.linkinfo.info_data.stp_state, 1);
    assert.is(cross.linkinfo.info_data.forward_delay, 400);
    assert.is(await codeOf(h.createBridge('br0')), 'EEXIST');
  }),
);

kernelTest(t, "the kernel's extended-ack message reaches the error", () =>
  withHandle(async (h) => {
    await h.createBridge('br0');
    const e = await h.setMaster('br0', 'br0').catch((x) => x);
    assert.is(e.code, 'ELOOP');
    assert.is(e.errno, 40);
    assert.match(e.extack, /enslave a bridge to a bridge/);
    assert.is(e.operation, 'link set br0 master br0');
    assert.is(await codeOf(h.setMaster('br0', 'nosuch')), 'ENODEV');
    assert.is(await codeOf(h.deleteLink('nosuch')), 'ENODEV');
  }),
);

kernelTest(t, 'veth pair, set up/down, mtu, mac, name, master and nomaster, delete', () =>
  withHandle(async (h, ns) => {
    await h.createBridge('br0');
    await h.createVeth('v0', 'v0p', { mtu: 1450 });
    await h.setLink('v0', { master: 'br0', up: true, mtu: 1400, address: '02:00:00:00:10:01' });
    let v = await h.getLink('v0');
    assert.ok(v.up);
    assert.is(v.mtu, 1400);
    assert.is(v.address, '02:00:00:00:10:01');
    assert.is(v.master, (await h.getLink('br0')).index);
    assert.is(v.slaveKind, 'bridge');
    assert.is((await h.getLink('v0p')).mtu, 1450);
    assert.equal(
      ipJson('-n', ns, 'link', 'show', 'master', 'br0').map((l: any) => l.ifname),
      ['v0'],
    );
    await h.setNoMaster('v0');
    await h.setDown('v0');
    v = await h.getLink(v.index);
    assert.is(v.master, null);
    assert.not.ok(v.up);
    await h.setLink('v0', { name: 'port0' });
    assert.is((await h.getLink(v.index)).name, 'port0');
    await h.deleteLink('port0');
    assert.is(await codeOf(h.getLink('v0p')), 'ENODEV', 'the peer goes with it');
  }),
);

kernelTest(t, 'listLinks filters by kind, master and state in the kernel, and agrees with ip', () =>
  withHandle(async (h, ns) => {
    await h.createBridge('br0');
    await h.createBridge('br1');
    for (let i = 0; i < 4; i++) await h.createVeth(`a${i}`, `b${i}`);
    await Promise.all([0, 1].map((i) => h.setLink(`a${i}`, { master: 'br0', up: true })));
    await h.setMaster('a2', 'br1');
    const names = async (f: object) => (await h.listLinks(f)).map((l) => l.name).sort();
    assert.equal(await names({ master: 'br0' }), ['a0', 'a1']);
    assert.equal(await names({ kind: 'bridge' }), ['br0', 'br1']);
    assert.equal(await names({ kind: 'veth', up: true }), ['a0', 'a1']);
    assert.equal(await names({ name: 'a3' }), ['a3']);
    assert.equal(await names({ name: 'nope' }), []);
    assert.equal(
      await names({}),
      ipJson('-n', ns, 'link', 'show')
        .map((l: any) => l.ifname)
        .sort(),
    );
  }),
);

kernelTest(t, 'veth peer in another namespace, and moving a link between namespaces', () =>
  withHandle((h) =>
    withHandle(async (hb, b) => {
      await h.createVeth('x0', 'x1', { peerNetns: b });
      assert.is((await hb.getLink('x1')).kind, 'veth');
      await h.createVeth('y0', 'y1');
      await h.setNetns('y1', b);
      assert.is((await hb.getLink('y1')).name, 'y1');
      assert.ok(ip('-n', b, 'link', 'show', 'y1').includes('y1'));
      assert.is(await codeOf(h.getLink('y1')), 'ENODEV');
      assert.is(await codeOf(h.setNetns('y0', 'no-such-ns-hw')), 'ENOENT');
    }),
  ),
);

kernelTest(t, 'thousands of requests in flight all settle; the window bounds the receive queue', () =>
  withHandle(async (h) => {
    await h.createBridge('br0');
    const n = 6000;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        (i % 2 ? h.getLink('br0') : h.getLink('nosuch')).then(
          () => 'ok',
          (e) => e.code,
        ),
      ),
    );
    assert.is(results.filter((r) => r === 'ok').length, n / 2);
    assert.is(results.filter((r) => r === 'ENODEV').length, n / 2);
  }),
);

kernelTest(t, 'a receive buffer too small for the window: ENOBUFS settles requests, never aborts', () =>
  withNetns(async (ns) => {
    // The configuration that kills a process on netlink 0.3.0: thousands of replies queued
    // on a small buffer. Here each request settles, ok or ENOBUFS, and the handle goes on.
    const h = new Handle({ netns: ns, window: 5000, rcvbuf: 4096 });
    try {
      await h.createBridge('br0');
      const results = await Promise.all(
        Array.from({ length: 5000 }, () =>
          h.getLink('br0').then(
            () => 'ok',
            (e) => e.code,
          ),
        ),
      );
      assert.ok(
        results.every((r) => r === 'ok' || r === 'ENOBUFS'),
        [...new Set(results)].join(),
      );
      assert.ok(results.includes('ENOBUFS'), 'the overflow happened');
      assert.ok(results.includes('ok'), 'replies that fit still settle their requests');
      assert.is((await h.getLink('br0')).name, 'br0');
    } finally {
      h.close();
    }
  }),
);

kernelTest(t, 'inline handle: a lone request is answered on the JS thread; windows, dumps, errors and notifications as usual', () =>
  withNetns(async (ns) => {
    const h = new Handle({ netns: ns, inline: true });
    const watcher = openSocket({ netns: ns, inline: true });
    try {
      const seen: NetlinkMessage[] = [];
      watcher.addMembership(RTNLGRP_LINK);
      watcher.on('notification', (m) => seen.push(m));
      let turned = false;
      setImmediate(() => (turned = true));
      await h.setUp('lo');
      await h.createBridge('br0');
      assert.not.ok(turned, 'answered with no turn of the event loop: no hand-off to the socket thread');
      const e = await h.createBridge('br0').catch((x) => x);
      assert.is(e.code, 'EEXIST');
      assert.is(e.operation, 'link add br0 type bridge');
      // Many at once: windows through the socket's thread, in order, every one answered.
      const ops = Array.from({ length: 600 }, (_, i) => ({ op: 'createVeth' as const, name: `a${i}`, peer: `b${i}` }));
      const { results } = await runBatch(h, ops);
      assert.ok(results.every((r) => r.ok));
      const [many, lone] = await Promise.all([Promise.all(ops.map((o) => h.getLink(o.name))), h.getLink('br0')]);
      assert.equal(
        many.map((l) => l.name),
        ops.map((o) => o.name),
      );
      assert.is(lone.kind, 'bridge');
      // Lone requests and windows alternating.
      for (let i = 0; i < 20; i++) {
        await h.setMaster(`a${i}`, 'br0');
        await Promise.all([h.setUp(`a${i}`), h.setUp(`b${i}`)]);
      }
      assert.is((await h.listLinks({ master: 'br0' })).length, 20, 'a dump');
      assert.is((await h.listLinks()).length, 2 + 2 * ops.length, 'a dump of many parts, read inline to its end');
      assert.is(ipJson('-n', ns, 'link', 'show', 'master', 'br0').length, 20);
      // The watcher's thread reads while idle once a group is joined.
      const deadline = Date.now() + 5000;
      while (!seen.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(seen.length > 0, 'notifications reach a joined inline socket');
    } finally {
      watcher.close();
      h.close();
    }
  }),
);

kernelTest(t, 'an idle handle does not keep the process alive', () =>
  withNetns(async (ns) => {
    const script = `const {Handle}=require(${JSON.stringify(require.resolve('../src/rtnl/handle'))});
      const h=new Handle({netns:${JSON.stringify(ns)}}); h.getLink('lo').then(l=>console.log(l.name));`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10000 });
    assert.is(r.stdout.trim(), 'lo');
    assert.is(r.status, 0, 'exited by itself');
  }),
);

t.run();
