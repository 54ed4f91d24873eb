/**
 * Kernel tier, two hosts: namespaces h1 and h2 joined by a veth underlay (10.99.0.0/24), each
 * with a bridge, a VXLAN (VNI 100) towards the other as a port, and a "VM" namespace on the
 * bridge at 192.168.100.x/24, all built through hostwire only. The VMs ping each other across
 * the overlay; the FDB shows the far VM's MAC learned on the VXLAN port; then the same with
 * learning off and a unicast flood list. Also the CLI's vxlan, macvtap, fdb and neigh verbs.
 */
import { spawnSync } from 'child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Handle } from '../src/rtnl/handle';
import { runBatch } from '../src/rtnl/batch';
import { hostwire, ip, ipJson, kernelTest, uniqueName, withNetns } from './helpers/kernel';

const t = suite('multihost');

/** Namespaces made for one test, all removed afterwards whatever happens. */
async function withNamespaces<T>(tags: string[], fn: (ns: string[]) => Promise<T>): Promise<T> {
  const names = tags.map((tag) => uniqueName(tag));
  try {
    for (const n of names) {
      ip('netns', 'add', n);
      ip('-n', n, 'link', 'set', 'lo', 'up');
    }
    return await fn(names);
  } finally {
    for (const n of names) spawnSync('ip', ['netns', 'del', n]);
  }
}

const ping = (ns: string, to: string) =>
  spawnSync('ip', ['netns', 'exec', ns, 'ping', '-c', '2', '-i', '0.2', '-W', '2', to], { encoding: 'utf8' });

/** One host: underlay address, bridge, VXLAN port, and a VM namespace on the bridge. */
async function buildHost(
  h: Handle,
  me: { n: number; underlay: string; vm: string },
  peer: string,
  vxlan: Record<string, unknown>,
): Promise<void> {
  await h.addAddress(me.underlay, `10.99.0.${me.n}/24`);
  const r = await runBatch(
    h,
    [
      { op: 'setLink', dev: me.underlay, change: { up: true } },
      { op: 'createBridge', name: 'br0', options: { stp: false } },
      {
        op: 'createLink',
        name: 'vx0',
        kind: 'vxlan',
        options: { id: 100, local: `10.99.0.${me.n}`, dstport: 4789, dev: me.underlay, master: 'br0', ...vxlan },
      },
      { op: 'createVeth', name: 'vh0', peer: 've0', options: { peerNetns: me.vm } },
      { op: 'setLink', dev: 'vh0', change: { master: 'br0', up: true } },
      { op: 'setLink', dev: 'vx0', change: { up: true } },
      { op: 'setLink', dev: 'br0', change: { up: true } },
    ],
    { onError: 'stop' },
  );
  assert.is(r.failed, 0, JSON.stringify(r.results.filter((x) => !x.ok)));
  const vm = new Handle({ netns: me.vm });
  try {
    await vm.setLink('ve0', { up: true, address: `02:00:00:00:64:0${me.n}` });
    await vm.addAddress('ve0', `192.168.100.${me.n}/24`);
  } finally {
    vm.close();
  }
  void peer;
}

async function overlay(names: string[], vxlan: (peer: string) => Record<string, unknown>, flood: boolean): Promise<void> {
  const [h1n, h2n, vm1, vm2] = names;
  const h1 = new Handle({ netns: h1n });
  const h2 = new Handle({ netns: h2n });
  try {
    await h1.createVeth('u1', 'u2', { peerNetns: h2n });
    await buildHost(h1, { n: 1, underlay: 'u1', vm: vm1 }, '10.99.0.2', vxlan('10.99.0.2'));
    await buildHost(h2, { n: 2, underlay: 'u2', vm: vm2 }, '10.99.0.1', vxlan('10.99.0.1'));
    if (flood) {
      await h1.fdb('append', 'vx0', { lladdr: '00:00:00:00:00:00', dst: '10.99.0.2' });
      await h2.fdb('append', 'vx0', { lladdr: '00:00:00:00:00:00', dst: '10.99.0.1' });
      const f = await h1.listFdb({ dev: 'vx0' });
      assert.ok(
        f.some((e) => e.lladdr === '00:00:00:00:00:00' && e.dst === '10.99.0.2'),
        'the flood entry',
      );
    }
    const p = ping(vm1, '192.168.100.2');
    assert.is(p.status, 0, p.stdout + p.stderr);
    assert.is(ping(vm2, '192.168.100.1').status, 0);
    // The far VM's MAC, learned on the VXLAN port (by the bridge, and with learning by the VXLAN).
    const far = '02:00:00:00:64:02';
    const fdb = await h1.listFdb();
    assert.ok(
      fdb.some((e) => e.lladdr === far && e.master !== undefined),
      'the bridge learned the far MAC',
    );
    const cli = hostwire(['-n', h1n, '--json', 'fdb', 'show']);
    assert.is(cli.status, 0, cli.stderr);
    const rows = JSON.parse(cli.stdout) as Array<{ mac: string; ifname: string; master?: string; dst?: string }>;
    assert.ok(
      rows.some((r) => r.mac === far && r.ifname === 'vx0' && r.master === 'br0'),
      `fdb show lists ${far} on vx0: ${cli.stdout}`,
    );
    if (!flood)
      assert.ok(
        rows.some((r) => r.mac === far && r.ifname === 'vx0' && r.dst === '10.99.0.2'),
        'the VXLAN learned where the far MAC lives',
      );
  } finally {
    h1.close();
    h2.close();
  }
}

kernelTest(t, 'two hosts over a VXLAN with a remote and learning: the VMs ping, the FDB shows the far MAC', () =>
  withNamespaces(['h1', 'h2', 'vm1', 'vm2'], (names) => overlay(names, (peer) => ({ remote: peer }), false)),
);

kernelTest(t, 'the same with learning off and a unicast flood list (fdb append 00:00:00:00:00:00 dst PEER)', () =>
  withNamespaces(['h1', 'h2', 'vm1', 'vm2'], (names) => overlay(names, () => ({ learning: false }), true)),
);

kernelTest(t, 'CLI: link add type vxlan and macvtap as ip writes them; fdb and neigh verbs against bridge and ip', () =>
  withNetns(async (ns) => {
    ip('-n', ns, 'link', 'add', 'u0', 'type', 'veth', 'peer', 'name', 'u1');
    const run = (...args: string[]) => {
      const r = hostwire(['-n', ns, ...args]);
      assert.is(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    run('link', 'add', 'vx0', 'type', 'vxlan', 'id', '100', 'local', '10.99.0.1', 'remote', '10.99.0.2', 'dstport', '4789', 'dev', 'u0');
    const [vx] = ipJson('-d', '-n', ns, 'link', 'show', 'vx0');
    assert.is(vx.linkinfo.info_kind, 'vxlan');
    assert.is(vx.linkinfo.info_data.id, 100);
    assert.is(vx.linkinfo.info_data.remote, '10.99.0.2');
    assert.is(vx.linkinfo.info_data.port, 4789);
    run('link', 'add', 'mvt0', 'link', 'u0', 'type', 'macvtap', 'mode', 'bridge');
    const [mvt] = ipJson('-d', '-n', ns, 'link', 'show', 'mvt0');
    assert.is(mvt.linkinfo.info_kind, 'macvtap');
    assert.is(mvt.linkinfo.info_data.mode, 'bridge');
    const [mj] = JSON.parse(run('--json', 'link', 'show', 'mvt0'));
    assert.is(mj.info.mode, 'bridge');
    // bridge fdb: the flood list, as bridge writes and shows it.
    run('fdb', 'append', '00:00:00:00:00:00', 'dev', 'vx0', 'dst', '10.99.0.3');
    run('fdb', 'append', '00:00:00:00:00:00', 'dev', 'vx0', 'dst', '10.99.0.4');
    const ours = run('fdb', 'show', 'dev', 'vx0').trim().split('\n').sort();
    const theirs = spawnSync('bridge', ['-n', ns, 'fdb', 'show', 'dev', 'vx0'], { encoding: 'utf8' })
      .stdout.trim()
      .split('\n')
      .map((l) => l.trim())
      .sort();
    assert.equal(ours, theirs);
    run('fdb', 'del', '00:00:00:00:00:00', 'dev', 'vx0', 'dst', '10.99.0.3');
    assert.ok(!run('fdb', 'show', 'dev', 'vx0').includes('10.99.0.3'));
    // ip neigh: a permanent entry, replaced, then deleted.
    ip('-n', ns, 'link', 'set', 'u0', 'up');
    run('neigh', 'add', '10.99.0.9', 'lladdr', '02:00:00:00:00:09', 'dev', 'u0');
    const n1 = ipJson('-n', ns, 'neigh', 'show', 'dev', 'u0');
    assert.equal(
      n1.map((n: { dst: string; lladdr: string; state: string[] }) => [n.dst, n.lladdr, n.state]),
      [['10.99.0.9', '02:00:00:00:00:09', ['PERMANENT']]],
    );
    assert.is(run('neigh', 'show', 'dev', 'u0').trim(), '10.99.0.9 dev u0 lladdr 02:00:00:00:00:09 PERMANENT');
    run('neigh', 'replace', '10.99.0.9', 'lladdr', '02:00:00:00:00:0a', 'dev', 'u0');
    assert.is(ipJson('-n', ns, 'neigh', 'show', 'dev', 'u0')[0].lladdr, '02:00:00:00:00:0a');
    run('neigh', 'del', '10.99.0.9', 'dev', 'u0');
    assert.equal(ipJson('-n', ns, 'neigh', 'show', 'dev', 'u0'), []);
    const bad = hostwire(['-n', ns, 'neigh', 'add', '10.99.0.9/24', 'lladdr', '02:00:00:00:00:09', 'dev', 'u0']);
    assert.is(bad.status, 1);
    assert.match(bad.stderr, /EINVALIDADDR/);
  }),
);

kernelTest(t, 'macvtap queues handed over for qemu: /dev/tapN opened in the namespace, vnet_hdr, two queues', () =>
  withNetns(async (ns) => {
    ip('-n', ns, 'link', 'add', 'u0', 'type', 'veth', 'peer', 'name', 'u1');
    const h = new Handle({ netns: ns });
    try {
      await h.createLink('mvt0', 'macvtap', { link: 'u0', mode: 'bridge' });
      const tap = await h.openMacvtap('mvt0', { queues: 2, vnetHdr: true });
      assert.is(tap.queues.length, 2);
      const index = (await h.getLink('mvt0')).index;
      assert.is(tap.index, index);
      for (const q of tap.queues) {
        const target = require('fs').readlinkSync(`/proc/self/fd/${q.fd}`);
        assert.match(target, new RegExp(`hostwire-tap${index}`));
      }
      const fds = tap.queues.map((q) => q.fd);
      tap.queues.forEach((q) => q.close());
      for (const fd of fds) assert.throws(() => require('fs').readlinkSync(`/proc/self/fd/${fd}`), 'closed');
      const e = await h.openMacvtap('u0').catch((x) => x);
      assert.is(e.code, 'ENODEV', 'not a macvtap');
      const bad = await h.openMacvtap('mvt0', { queues: 0 }).catch((x) => x);
      assert.is(bad.code, 'EINVALIDOPTION');
    } finally {
      h.close();
    }
  }),
);

t.run();
