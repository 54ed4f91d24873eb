/**
 * Kernel tier: apply on real namespaces. Apply, then verify, cross-checked with `ip`; a second
 * apply sends no change request; a failing step rolls everything back, leaving the namespace
 * exactly as before; prune spares what hostwire did not make; a dry run and a refused collision
 * change nothing.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Handle } from '../src/rtnl/handle';
import { ApplyError, apply, readState, showState } from '../src/workflow/state';
import { OWNER_MARK, RTPROT_HOSTWIRE } from '../src/workflow/state-plan';
import { ip, ipJson, kernelTest, withHandle } from './helpers/kernel';

const t = suite('state');

/** Every request the handle sends that is not a dump, and every tap it makes. */
function spy(h: Handle): string[] {
  const sent: string[] = [];
  const send = h.socket.send.bind(h.socket);
  h.socket.send = (msg, op, dump, cb, onPart) => {
    if (!dump) sent.push(typeof op === 'string' ? op : op.op);
    send(msg, op, dump, cb, onPart);
  };
  const taps = h.createTunDevices.bind(h);
  h.createTunDevices = (specs) => {
    sent.push(...specs.map((s) => `tap add ${s.name}`));
    return taps(specs);
  };
  return sent;
}

/** What `ip` shows of a namespace, without what changes when a device is made again (ifindex). */
function snapshot(ns: string) {
  const links = ipJson('-n', ns, '-d', 'link', 'show').map((l: any) => ({
    name: l.ifname,
    kind: l.linkinfo?.info_kind ?? null,
    master: l.master ?? null,
    mtu: l.mtu,
    address: l.address,
    up: l.flags.includes('UP'),
    alias: l.ifalias ?? null,
    data: l.linkinfo?.info_kind === 'tun' ? l.linkinfo.info_data : (l.linkinfo?.info_data?.stp_state ?? null),
  }));
  const addrs = ipJson('-n', ns, 'addr', 'show').map((l: any) => [
    l.ifname,
    l.addr_info.map((a: any) => `${a.local}/${a.prefixlen}`).sort(),
  ]);
  // Carrier is not state: a route's 'linkdown' follows its bridge's ports.
  const routes = [ip('-n', ns, 'route', 'show'), ip('-n', ns, '-6', 'route', 'show')].map((r) => r.replace(/ linkdown/g, ''));
  const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
  return { links: links.sort(byName), addrs: addrs.sort(), routes };
}

const DOC = {
  links: [
    { name: 'lo', kind: 'loopback', up: true },
    {
      name: 'sbr0',
      kind: 'bridge',
      options: { stp: false, priority: 100 },
      mtu: 1500,
      up: true,
      addresses: ['10.31.0.1/24', 'fd31::1/64'],
    },
    ...Array.from({ length: 20 }, (_, i) => ({ name: `st${i}`, kind: 'tun', options: { vnetHdr: i % 2 === 0 }, master: 'sbr0', up: true })),
    { name: 'sv0', kind: 'veth', options: { peer: 'sv1' }, master: 'sbr0', up: true, address: '02:31:00:00:00:01' },
    { name: 'sv1', kind: 'veth', options: { peer: 'sv0' }, mtu: 1400, up: true, addresses: ['10.32.0.1/24'] },
  ],
  routes: [{ dst: '10.33.0.0/16', gateway: '10.31.0.254' }],
};

kernelTest(t, 'apply makes it so and verifies it; ip agrees; a second apply sends no change request', () =>
  withHandle(async (h, ns) => {
    const r = await apply(h, DOC);
    assert.is(r.verified, true);
    assert.is(r.changes, 1 + 20 + 2 + 3 + 1, 'bridge, taps, veth pair, addresses, route (lo is up already)');
    const br = ipJson('-n', ns, '-d', 'link', 'show', 'sbr0')[0];
    assert.equal([br.linkinfo.info_data.priority, br.mtu, br.flags.includes('UP'), br.ifalias], [100, 1500, true, OWNER_MARK]);
    const ports = ipJson('-n', ns, 'link', 'show', 'master', 'sbr0').map((l: any) => l.ifname);
    assert.is(ports.length, 21);
    const t0 = ipJson('-n', ns, '-d', 'link', 'show', 'st0')[0];
    assert.equal(
      [t0.linkinfo.info_data.type, t0.linkinfo.info_data.vnet_hdr, t0.flags.includes('UP'), t0.ifalias],
      ['tap', true, true, OWNER_MARK],
    );
    const [v0, v1] = [ipJson('-n', ns, 'link', 'show', 'sv0')[0], ipJson('-n', ns, 'link', 'show', 'sv1')[0]];
    assert.equal([v0.address, v0.master, v1.mtu, v1.link, v1.ifalias], ['02:31:00:00:00:01', 'sbr0', 1400, 'sv0', OWNER_MARK]);
    assert.match(ip('-n', ns, 'addr', 'show', 'sbr0'), /inet 10\.31\.0\.1\/24/);
    assert.match(ip('-n', ns, 'addr', 'show', 'sbr0'), /inet6 fd31::1\/64/);
    assert.match(ip('-n', ns, 'route', 'show', '10.33.0.0/16'), new RegExp(`via 10.31.0.254 dev sbr0 proto ${RTPROT_HOSTWIRE}`));

    const sent = spy(h);
    const again = await apply(h, DOC);
    assert.equal([again.changes, again.verified], [0, true]);
    assert.equal(sent, [], 'dumps only');
    // What show-state prints, applied where it came from (with prune), changes nothing either.
    const shown = await showState(h);
    assert.is((await apply(h, JSON.parse(JSON.stringify(shown)), { prune: true })).changes, 0);
    assert.equal(sent, []);
  }),
);

kernelTest(t, 'a step that fails rolls back every step before it: the namespace is exactly as before', () =>
  withHandle(async (h, ns) => {
    await apply(h, {
      links: [
        { name: 'rb0', kind: 'bridge', up: true, addresses: ['10.41.0.1/24'] },
        { name: 'mine0', kind: 'tun', master: 'rb0' },
      ],
    });
    ip('-n', ns, 'link', 'add', 'ipbr0', 'type', 'bridge');
    ip('-n', ns, 'link', 'set', 'ipbr0', 'mtu', '1400');
    ip('-n', ns, 'tuntap', 'add', 'iptap0', 'mode', 'tap');
    ip('-n', ns, 'link', 'set', 'iptap0', 'master', 'ipbr0', 'up');
    ip('-n', ns, 'addr', 'add', '10.42.0.1/24', 'dev', 'ipbr0');
    ip('-n', ns, 'route', 'add', '10.43.0.0/16', 'via', '10.41.0.254');
    const before = snapshot(ns);
    const doc = {
      links: [
        { name: 'rb0', kind: 'bridge', up: true, mtu: 1300, addresses: ['10.41.0.2/24'] },
        { name: 'mine0', kind: 'veth', options: { peer: 'mine1' } }, // a tap hostwire made: made again as a veth
        { name: 'mine1', kind: 'veth', options: { peer: 'mine0' }, master: 'ipbr0' },
        { name: 'ipbr0', kind: 'bridge', options: { stp: true }, mtu: 1500, addresses: [] },
        { name: 'iptap0', kind: 'tun', master: 'rb0', up: false },
        ...Array.from({ length: 10 }, (_, i) => ({ name: `new${i}`, kind: 'tun', master: 'rb0', up: true })),
      ],
      // 192.0.2.1 is on no link: the kernel refuses the route, the last step before the removals.
      routes: [{ dst: '10.44.0.0/16', gateway: '192.0.2.1' }],
    };
    try {
      await apply(h, doc, { prune: true });
      assert.unreachable('the route cannot be added');
    } catch (e) {
      assert.instance(e, ApplyError);
      const err = e as ApplyError;
      assert.is(err.code, 'ENETUNREACH');
      assert.equal([err.entry?.action, err.entry?.type], ['create', 'route']);
      assert.is(err.rolledBack, true);
      assert.equal(err.rollbackErrors, []);
    }
    assert.equal(snapshot(ns), before);
  }),
);

kernelTest(t, 'prune removes what hostwire made and the document leaves out; what ip made, and physical devices, stay', () =>
  withHandle(async (h, ns) => {
    const mine = {
      links: [
        { name: 'pbr0', kind: 'bridge', up: true },
        ...Array.from({ length: 8 }, (_, i) => ({ name: `pt${i}`, kind: 'tun', master: 'pbr0' })),
      ],
    };
    await apply(h, mine);
    await apply(h, {
      links: [
        { name: 'pv0', kind: 'veth', options: { peer: 'pv1' } },
        { name: 'pv1', kind: 'veth', options: { peer: 'pv0' } },
      ],
    });
    ip('-n', ns, 'tuntap', 'add', 'foreign0', 'mode', 'tap');
    ip('-n', ns, 'link', 'set', 'foreign0', 'master', 'pbr0');
    ip('-n', ns, 'link', 'add', 'foreignbr', 'type', 'bridge');
    ip('-n', ns, 'link', 'add', 'fa', 'type', 'veth', 'peer', 'name', 'fb');
    const keep = { links: [{ name: 'pt0', kind: 'tun' }] };
    const dry = await apply(h, keep, { prune: true, dryRun: true });
    assert.equal(
      dry.plan.entries.map((e) => `${e.action} ${e.name}`),
      ['update pt0', 'update foreign0', ...Array.from({ length: 7 }, (_, i) => `delete pt${i + 1}`), 'delete pbr0', 'delete pv1'],
      'ports detached from the bridge that goes, ports before masters, the pair once',
    );
    const r = await apply(h, keep, { prune: true });
    assert.is(r.verified, true);
    const left = ipJson('-n', ns, 'link', 'show')
      .map((l: any) => l.ifname)
      .sort();
    assert.equal(left, ['fa', 'fb', 'foreign0', 'foreignbr', 'lo', 'pt0']);
    assert.is(ipJson('-n', ns, 'link', 'show', 'foreign0')[0].master, undefined, 'detached, not deleted');
  }),
);

kernelTest(t, 'a dry run sends nothing; a collision with a device ip made is refused before anything is sent', () =>
  withHandle(async (h, ns) => {
    ip('-n', ns, 'link', 'add', 'cx0', 'type', 'veth', 'peer', 'name', 'cy0');
    const before = ip('-n', ns, '-j', '-d', 'link', 'show');
    const sent = spy(h);
    const dry = await apply(h, DOC, { dryRun: true, prune: true });
    assert.equal([dry.changes > 20, dry.verified], [true, false]);
    const collide = {
      links: [
        { name: 'cbr0', kind: 'bridge', up: true },
        { name: 'cx0', kind: 'tun', master: 'cbr0' },
      ],
    };
    try {
      await apply(h, collide);
      assert.unreachable();
    } catch (e) {
      assert.equal([(e as { code: string }).code, (e as { path: string }).path], ['ECOLLISION', 'links[1].kind']);
    }
    try {
      await apply(h, { links: [{ name: 'cbr0', kind: 'bridge', mtu: 20 }] });
      assert.unreachable();
    } catch (e) {
      assert.equal([(e as { code: string }).code, (e as { path: string }).path], ['ESTATESCHEMA', 'links[0].mtu']);
    }
    assert.equal(sent, []);
    assert.is(ip('-n', ns, '-j', '-d', 'link', 'show'), before);
  }),
);

kernelTest(t, "readState: kind options by the registry, marks, configured addresses only, routes not the kernel's", () =>
  withHandle(async (h, ns) => {
    ip('-n', ns, 'link', 'add', 'ob0', 'type', 'bridge', 'stp_state', '1', 'priority', '7');
    ip('-n', ns, 'link', 'set', 'ob0', 'up', 'alias', 'hostwire: test');
    ip('-n', ns, 'tuntap', 'add', 'ot0', 'mode', 'tap', 'multi_queue', 'user', '1000');
    ip('-n', ns, 'addr', 'add', '10.51.0.1/24', 'brd', '+', 'dev', 'ob0');
    ip('-n', ns, 'addr', 'add', 'fd51::1/64', 'dev', 'ob0', 'nodad');
    ip('-n', ns, 'route', 'add', '10.52.0.0/16', 'via', '10.51.0.9', 'metric', '5');
    const s = await readState(h);
    const ob0 = s.links.find((l) => l.name === 'ob0');
    assert.equal([ob0?.kind, ob0?.options.stp, ob0?.options.priority, ob0?.owned], ['bridge', true, 7, true]);
    assert.equal(ob0?.addresses, [{ cidr: '10.51.0.1/24', broadcast: '10.51.0.255' }, { cidr: 'fd51::1/64' }], 'no fe80::');
    const ot0 = s.links.find((l) => l.name === 'ot0');
    assert.equal(ot0?.options, { tun: false, pi: false, vnetHdr: false, multiQueue: true, owner: 1000 });
    assert.equal(ot0?.owned, false);
    assert.equal(s.links.find((l) => l.name === 'lo')?.kind, 'loopback');
    assert.equal(s.routes, [
      { dst: '10.52.0.0/16', protocol: 3, scope: 0, type: 1, owned: false, gateway: '10.51.0.9', dev: 'ob0', metric: 5 },
    ]);
  }),
);

t.run();
