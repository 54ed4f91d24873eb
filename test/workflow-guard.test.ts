/**
 * The virbr0 guard (src/workflow/guard.ts): the uplink (a physical NIC, or the link the default
 * route leaves by) is not added to the bridge of a libvirt NAT/routed network unless forced; other
 * ports never cost a libvirt call. No physical NIC can be made in a test namespace, so the
 * predicate is injected, or a veth carries the default route; test:///default's network `default`
 * (NAT on virbr0) provides the libvirt side.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Connection } from '../src/libvirt';
import { Handle } from '../src/rtnl/handle';
import type { Link } from '../src/rtnl/link';
import { addBridgePort, checkBatchPorts, checkBridgePort, defaultRouteLinks, isPhysicalLink } from '../src/workflow/guard';
import { hostwire, ip, ipJson, kernelTest, withNetns } from './helpers/kernel';

const test = suite('guard');
const physical = (): boolean => true;
const noLibvirt = async (): Promise<never> => {
  throw new Error('libvirt was asked about a port that is not physical');
};

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

test('isPhysicalLink: no kind and not loopback', () => {
  const base = {
    index: 2,
    name: 'eth0',
    kind: null,
    master: null,
    operstate: 'UP',
    flags: ['BROADCAST', 'UP'],
    up: true,
    mtu: 1500,
    address: null,
    broadcast: null,
  } as Link;
  assert.is(isPhysicalLink(base), true);
  assert.is(isPhysicalLink({ ...base, kind: 'veth' }), false);
  assert.is(isPhysicalLink({ ...base, name: 'lo', flags: ['LOOPBACK', 'UP'] }), false);
});

kernelTest(test, 'a physical port on a NAT network bridge: ENATBRIDGE, unless forced; non-physical ports skip libvirt', async () => {
  await withNetns(async (ns) => {
    ip('-n', ns, 'link', 'add', 'virbr0', 'type', 'bridge');
    ip('-n', ns, 'link', 'add', 'hb0', 'type', 'bridge');
    ip('-n', ns, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'p0p');
    const c = await Connection.open('test:///default');
    const h = new Handle({ netns: ns });
    try {
      assert.is(await code(addBridgePort(h, 'p0', 'virbr0', { networks: c, isPhysical: physical })), 'ENATBRIDGE');
      assert.is(ipJson('-n', ns, 'link', 'show', 'p0')[0].master, undefined, 'nothing changed');
      // Routed networks count too; bridged (forward mode bridge) and unrelated bridges do not.
      const routed = async () => [{ network: 'r', bridge: 'hb0', forward: 'route', active: true }];
      assert.is(await code(checkBridgePort(h, 'p0', 'hb0', { networks: routed, isPhysical: physical })), 'ENATBRIDGE');
      const bridged = async () => [{ network: 'b', bridge: 'hb0', forward: 'bridge', active: true }];
      assert.is(await checkBridgePort(h, 'p0', 'hb0', { networks: bridged, isPhysical: physical }), null);
      // Not physical: allowed without asking libvirt.
      await addBridgePort(h, 'p0', 'virbr0', { networks: noLibvirt });
      assert.is(ipJson('-n', ns, 'link', 'show', 'p0')[0].master, 'virbr0');
      await h.setNoMaster('p0');
      // Forced: allowed, and the overridden network is reported.
      const owner = await checkBridgePort(h, 'p0', 'virbr0', { networks: c, isPhysical: physical, force: true });
      assert.equal(owner, { network: 'default', bridge: 'virbr0', forward: 'nat', active: true });
      await addBridgePort(h, 'p0', 'virbr0', { networks: c, isPhysical: physical, force: true });
      assert.is(ipJson('-n', ns, 'link', 'show', 'p0')[0].master, 'virbr0');
      assert.is(await code(checkBridgePort(h, 'nope0', 'virbr0', { networks: noLibvirt })), 'ENODEV');
      assert.is(await code(checkBridgePort(h, 'p0', 'bad/name', { networks: noLibvirt })), 'EINVALIDNAME');
    } finally {
      h.close();
      await c.close();
    }
  }, 'gd');
});

kernelTest(test, 'the link the default route leaves by is an uplink too (a veth to the LAN): ENATBRIDGE, in a batch as alone', async () => {
  await withNetns(async (ns) => {
    ip('-n', ns, 'link', 'add', 'virbr0', 'type', 'bridge');
    ip('-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'lan0');
    ip('-n', ns, 'link', 'add', 'other0', 'type', 'veth', 'peer', 'name', 'other0p');
    ip('-n', ns, 'addr', 'add', '192.0.2.10/24', 'dev', 'eth0');
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
    ip('-n', ns, 'route', 'add', 'default', 'via', '192.0.2.1', 'dev', 'eth0');
    const h = new Handle({ netns: ns });
    const c = await Connection.open('test:///default');
    try {
      assert.equal([...(await defaultRouteLinks(h))], [(await h.getLink('eth0')).index]);
      assert.is(await code(checkBridgePort(h, 'eth0', 'virbr0', { networks: c })), 'ENATBRIDGE');
      assert.is(await checkBridgePort(h, 'other0', 'virbr0', { networks: noLibvirt }), null);
      const errs = await checkBatchPorts(
        h,
        [
          { op: 'setLink', dev: 'other0', change: { master: 'virbr0' } },
          { op: 'setLink', dev: 'eth0', change: { master: 'virbr0' } },
        ],
        [false, false],
        { networks: c },
      );
      assert.equal(
        errs.map((e) => (e as { code?: string } | undefined)?.code),
        [undefined, 'ENATBRIDGE'],
      );
    } finally {
      await c.close();
      h.close();
    }
    const r = hostwire(['--json', '--uri', 'test:///default', '-n', ns, 'link', 'set', 'eth0', 'master', 'virbr0']);
    assert.is(r.status, 1);
    assert.is(JSON.parse(r.stderr).code, 'ENATBRIDGE');
    assert.is(ipJson('-n', ns, 'link', 'show', 'eth0')[0].master, undefined, 'nothing changed');
  }, 'gd');
});

kernelTest(test, 'CLI link set DEV master BR goes through the guard; --force only with master', async () => {
  await withNetns(async (ns) => {
    ip('-n', ns, 'link', 'add', 'virbr0', 'type', 'bridge');
    ip('-n', ns, 'link', 'add', 'p1', 'type', 'veth', 'peer', 'name', 'p1p');
    // A veth is not physical: no libvirt needed (the URI would not even open).
    const r = hostwire(['--uri', 'qemu+unix:///system?socket=/nonexistent', '-n', ns, 'link', 'set', 'p1', 'master', 'virbr0', 'up']);
    assert.is(r.status, 0, r.stderr);
    assert.is(ipJson('-n', ns, 'link', 'show', 'p1')[0].master, 'virbr0');
    const u = hostwire(['--json', '-n', ns, 'link', 'set', 'p1', 'up', '--force']);
    assert.is(JSON.parse(u.stderr).code, 'EUSAGE');
    const f = hostwire(['--uri', 'test:///default', '-n', ns, 'link', 'set', 'p1', 'nomaster']);
    assert.is(f.status, 0, f.stderr);
  }, 'gd');
});

kernelTest(test, 'batches: the guard per operation, one dump, libvirt only for physical ports; the CLI batch uses it', async () => {
  await withNetns(async (ns) => {
    ip('-n', ns, 'link', 'add', 'virbr0', 'type', 'bridge');
    ip('-n', ns, 'link', 'add', 'hb0', 'type', 'bridge');
    for (const p of ['q0', 'q1', 'q2']) ip('-n', ns, 'link', 'add', p, 'type', 'veth', 'peer', 'name', `${p}p`);
    const h = new Handle({ netns: ns });
    try {
      const nat = async () => [{ network: 'default', bridge: 'virbr0', forward: 'nat', active: true }];
      const onlyQ0 = (l: Link) => l.name === 'q0' || l.name === 'q2';
      const ops = [
        { op: 'setLink' as const, dev: 'q0', change: { master: 'virbr0' } },
        { op: 'setLink' as const, dev: 'q1', change: { master: 'virbr0' } },
        { op: 'setLink' as const, dev: 'q0', change: { up: true } },
        { op: 'setLink' as const, dev: 'q0', change: { master: 'hb0' } },
        { op: 'setLink' as const, dev: 'q2', change: { master: (await h.getLink('virbr0')).index } },
      ];
      const errs = await checkBatchPorts(h, ops, [false, false, false, false, false], { networks: nat, isPhysical: onlyQ0 });
      assert.equal(
        errs.map((e) => (e as { code?: string } | undefined)?.code),
        ['ENATBRIDGE', undefined, undefined, undefined, 'ENATBRIDGE'],
      );
      const forced = await checkBatchPorts(h, ops, [true, false, false, false, true], { networks: nat, isPhysical: onlyQ0 });
      assert.ok(forced.every((e) => e === undefined));
      const none = await checkBatchPorts(h, ops.slice(1, 3), [false, false], { networks: noLibvirt, isPhysical: onlyQ0 });
      assert.ok(
        none.every((e) => e === undefined),
        'no physical port: libvirt not asked',
      );
    } finally {
      h.close();
    }
    // Through the CLI: veths are not physical, so a bad URI is never opened.
    const r = hostwire(
      ['--uri', 'qemu+unix:///system?socket=/nonexistent', '-n', ns, 'batch', '-'],
      'link set q1 master virbr0\nlink set q1 up --force\n',
    );
    assert.is(r.status, 1);
    assert.match(r.stderr, /batch line 2: EUSAGE/);
    assert.is(ipJson('-n', ns, 'link', 'show', 'q1')[0].master, 'virbr0');
  }, 'gd');
});

test.run();
