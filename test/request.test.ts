/**
 * Codec tier: every request builder byte for byte (cross-checked with the npm `netlink`
 * package's formatters where it has one), every refusal by its code, and runBatch's promise
 * that one invalid operation with onError 'stop' or rollback means not one byte is sent. The
 * exported fake transport stands in for the kernel. No root.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as rt from 'netlink/dist/rt/structs';
import { AttrStream } from 'netlink/dist/structs';
import {
  NO_CONTEXT,
  linkCreate,
  linkDelete,
  linkDeleteGroup,
  linkDump,
  linkGet,
  linkSet,
  linkSetType,
  type EncodeContext,
} from '../src/rtnl/request';
import { addressAdd, addressDelete, addressDump } from '../src/rtnl/addr';
import { routeAdd, routeDelete, routeDump } from '../src/rtnl/route';
import { runBatch, type BatchOp } from '../src/rtnl/batch';
import { Handle } from '../src/rtnl/handle';
import { fakeTransport } from '../src/rtnl/testing';
import { registerKind } from '../src/rtnl/kinds';
import { RTM_DELLINK, RTM_GETLINK, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWROUTE, RTM_SETLINK } from '../src/rtnl/constants';
import { decodeLink } from '../src/rtnl/link';
import { decodeAddress } from '../src/rtnl/addr';
import { decodeRoute } from '../src/rtnl/route';

const hex = (b: Buffer) => b.toString('hex');
/** The netlink package's encoding of the same message body, for cross-checks. */
function theirs<T>(format: (x: T, out: AttrStream) => void, msg: T): string {
  const s = new AttrStream();
  format(msg, s);
  let body = Buffer.concat(s.bufs);
  if (body.length % 4) body = Buffer.concat([body, Buffer.alloc(4 - (body.length % 4))]);
  return hex(body);
}
const body = (b: Buffer) => b.subarray(16);
const ctx = (names: Record<string, number> = {}, fds: Record<string, number> = {}): EncodeContext => ({
  known: (n) => names[n],
  index: (n) => names[n] ?? NO_CONTEXT.index(n),
  netnsFd: (n) => fds[n] ?? NO_CONTEXT.netnsFd(n),
});
const code = (f: () => unknown) => {
  try {
    f();
    return 'ok';
  } catch (e) {
    return (e as { code: string }).code;
  }
};

test('linkSet: by name, by known index, master by index, nomaster, up/down, as netlink encodes them', () => {
  const m = linkSet('vnet0', { up: true, mtu: 9000, address: '02:00:00:00:00:01' }).encode(NO_CONTEXT);
  assert.is(m.readUInt16LE(4), RTM_SETLINK);
  assert.is(
    hex(body(m)),
    theirs(rt.formatLinkMessage, {
      kind: 'link',
      data: { index: 0, flags: { up: true }, change: { up: true } } as rt.Link,
      attrs: { ifname: 'vnet0', mtu: 9000, address: Buffer.from([2, 0, 0, 0, 0, 1]) },
    }),
  );
  const byIndex = linkSet('vnet0', { master: 'br0' }).encode(ctx({ vnet0: 12, br0: 3 }));
  assert.is(hex(body(byIndex)), theirs(rt.formatLinkMessage, { kind: 'link', data: { index: 12 } as rt.Link, attrs: { master: 3 } }));
  assert.is(
    hex(body(linkSet(5, { master: null, up: false }).encode(NO_CONTEXT))),
    theirs(rt.formatLinkMessage, { kind: 'link', data: { index: 5, flags: {}, change: { up: true } } as rt.Link, attrs: { master: 0 } }),
  );
  // A rename goes by index with the new name in IFLA_IFNAME; the request says it needs the index.
  const ren = linkSet('old0', { name: 'new0' });
  assert.equal(ren.needs, ['old0']);
  assert.is(
    hex(body(ren.encode(ctx({ old0: 4 })))),
    theirs(rt.formatLinkMessage, { kind: 'link', data: { index: 4 } as rt.Link, attrs: { ifname: 'new0' } }),
  );
  assert.is(linkSet('v0', { master: 'br0' }).op, 'link set v0 master br0');
  assert.equal(linkSet('v0', { master: 'br0' }).needs, ['br0']);
  const ns = linkSet('v0', { netns: 'lab' }).encode(ctx({}, { lab: 33 }));
  assert.is(
    hex(body(ns)),
    theirs(rt.formatLinkMessage, { kind: 'link', data: { index: 0 } as rt.Link, attrs: { ifname: 'v0', netNsFd: 33 } }),
  );
});

test('linkCreate: bridge and veth in one message; the create flags; common fields', () => {
  const br = linkCreate('br0', 'bridge', { mtu: 9000, stp: false, mcastSnooping: false }).encode(NO_CONTEXT);
  assert.is(br.readUInt16LE(4), RTM_NEWLINK);
  assert.is(br.readUInt16LE(6), 0x600); // NLM_F_CREATE | NLM_F_EXCL (the socket adds REQUEST | ACK)
  const l = decodeLink(body(br));
  assert.is(l.name, 'br0');
  assert.is(l.mtu, 9000);
  assert.is(l.kind, 'bridge');
  assert.equal(l.info, { stp_state: 0, mcast_snooping: 0 });
  const v = linkCreate('v0', 'veth', { peer: 'p0', peerNetns: 'lab', peerAddress: '02:00:00:00:00:02' });
  assert.equal(v.netns, ['lab']);
  assert.is(v.op, 'link add v0 type veth peer p0');
  const vb = body(v.encode(ctx({}, { lab: 7 })));
  // ifinfomsg + IFLA_IFNAME "v0" (8) + IFLA_LINKINFO { KIND "veth" (12), DATA { VETH_INFO_PEER { ifinfomsg, ifname, address, netns fd } } }
  // ifinfomsg, IFLA_IFNAME "v0", IFLA_LINKINFO { IFLA_INFO_KIND "veth", IFLA_INFO_DATA { VETH_INFO_PEER { ifinfomsg, IFLA_* } } }
  assert.is(vb.readUInt16LE(16 + 8 + 4 + 12 + 4 + 2), 0x8001, 'VETH_INFO_PEER, nested');
  const peer = decodeLink(vb.subarray(16 + 8 + 4 + 12 + 4 + 4));
  assert.equal([peer.name, peer.address], ['p0', '02:00:00:00:00:02']);
  assert.ok(hex(vb).endsWith('08001c00' + '07000000'), 'IFLA_NET_NS_FD 7 in the peer');
  const withMaster = linkCreate('v1', 'veth', { peer: 'p1', master: 'br0', up: true });
  assert.equal(withMaster.needs, ['br0']);
  const wl = decodeLink(body(withMaster.encode(ctx({ br0: 9 }))));
  assert.is(wl.master, 9);
  assert.is(wl.up, true);
});

test('a kind added with registerKind can be created, not only decoded', () => {
  registerKind({
    kind: 'hwtest',
    check: (o) => {
      const n = (o as { answer?: unknown }).answer;
      if (n !== 42) throw Object.assign(new Error('answer must be 42'), { code: 'EINVALIDOPTION' });
      return { answer: n };
    },
    encodeData: (w, o) => void w.u32(1, (o as { answer: number }).answer),
  });
  const m = body(linkCreate('x0', 'hwtest', { answer: 42 }).encode(NO_CONTEXT));
  assert.ok(hex(m).includes('08000100' + '2a000000'));
  assert.is(
    code(() => linkCreate('x0', 'hwtest', { answer: 1 })),
    'EINVALIDOPTION',
  );
});

test('linkDelete, linkDeleteGroup, linkGet, linkDump', () => {
  assert.is(
    hex(body(linkDelete('t0').encode(NO_CONTEXT))),
    theirs(rt.formatLinkMessage, { kind: 'link', data: { index: 0 } as rt.Link, attrs: { ifname: 't0' } }),
  );
  assert.is(linkDelete('t0').encode(NO_CONTEXT).readUInt16LE(4), RTM_DELLINK);
  assert.is(
    hex(body(linkDeleteGroup(77).encode(NO_CONTEXT))),
    theirs(rt.formatLinkMessage, { kind: 'link', data: { index: 0 } as rt.Link, attrs: { group: 77 } }),
  );
  const g = linkGet(3).encode(NO_CONTEXT);
  assert.is(g.readUInt16LE(4), RTM_GETLINK);
  assert.is(
    hex(body(g)),
    theirs(rt.formatLinkMessage, { kind: 'link', data: { index: 3 } as rt.Link, attrs: { extMask: Buffer.from([8, 0, 0, 0]) } }),
  );
  const d = linkDump({ master: 'br0', kind: 'tun' });
  assert.is(d.dump, true);
  assert.equal(d.needs, ['br0']);
  assert.is(d.encode(ctx({ br0: 4 })).readUInt16LE(6), 0x300);
});

test('address and route builders match the netlink package byte for byte', () => {
  const a = addressAdd(3, { cidr: '10.0.0.1/24', broadcast: '+', label: 'eth0' }).encode(NO_CONTEXT);
  assert.is(a.readUInt16LE(4), RTM_NEWADDR);
  assert.is(
    hex(body(a)),
    theirs(rt.formatAddressMessage, {
      kind: 'address',
      data: { family: 2, prefixlen: 24, index: 3 },
      attrs: {
        local: Buffer.from([10, 0, 0, 1]),
        address: Buffer.from([10, 0, 0, 1]),
        broadcast: Buffer.from([10, 0, 0, 255]),
        label: 'eth0',
      },
    }),
  );
  const v6 = body(addressAdd('eth0', { cidr: 'fd00::1/64', nodad: true }).encode(ctx({ eth0: 5 })));
  assert.equal([v6[0], v6[1], v6[2], v6.readUInt32LE(4)], [10, 64, 0x02, 5]); // IFA_F_NODAD for a moved IPv6 address
  assert.is(body(addressAdd(3, { cidr: '10.0.0.1/24', nodad: true }).encode(NO_CONTEXT))[2], 0, 'never for IPv4');
  assert.equal(decodeAddress(body(addressDelete(3, '10.9.0.1/16').encode(NO_CONTEXT))).address, '10.9.0.1');
  assert.is(addressDump(6).dump, true);
  const r = routeAdd({ dst: '10.1.0.0/16', gateway: '10.0.0.254', oif: 3, priority: 10 }).encode(NO_CONTEXT);
  assert.is(r.readUInt16LE(4), RTM_NEWROUTE);
  assert.is(
    hex(body(r)),
    theirs(rt.formatRouteMessage, {
      kind: 'route',
      data: { family: 2, dstLen: 16, table: 254, protocol: 3, scope: 0, type: 1 } as rt.RouteMessage['data'],
      attrs: { dst: Buffer.from([10, 1, 0, 0]), gateway: Buffer.from([10, 0, 0, 254]), oif: 3, priority: 10 },
    }),
  );
  const big = decodeRoute(body(routeAdd({ dst: 'default', gateway: 'fd00::1', table: 1000 }).encode(NO_CONTEXT)));
  assert.equal([big.dst, big.gateway, big.table, big.family], ['default', 'fd00::1', 1000, 6]);
  const del = body(routeDelete({ dst: '10.1.0.0/16' }).encode(NO_CONTEXT));
  assert.equal([del[5], del[6]], [0, 255], 'a delete leaves protocol and scope open');
  assert.is(routeDump(4).dump, true);
});

test('linkSetType: a changelink (RTM_NEWLINK without the create flags) with the kind options; route dev by name', () => {
  const m = linkSetType('br0', 'bridge', { stp: true, priority: 100 }).encode(ctx({ br0: 4 }));
  assert.is(m.readUInt16LE(4), RTM_NEWLINK);
  assert.is(m.readUInt16LE(6), 0, 'no NLM_F_CREATE, no NLM_F_EXCL: the kernel changes the link in place');
  const l = decodeLink(body(m));
  assert.equal([l.index, l.kind, l.info], [4, 'bridge', { stp_state: 1, priority: 100 }]);
  const byName = decodeLink(body(linkSetType('br1', 'bridge', { stp: false }).encode(NO_CONTEXT)));
  assert.equal([byName.index, byName.name], [0, 'br1']);
  assert.is(
    code(() => linkSetType('t0', 'tun', {})),
    'EINVALIDKIND',
    'tun options do not change in place',
  );
  assert.is(
    code(() => linkSetType('br0', 'bridge', { priority: 70000 })),
    'EINVALIDOPTION',
  );
  const r = routeAdd({ dst: '10.1.0.0/16', dev: 'br0', protocol: 104 });
  assert.equal(r.needs, ['br0']);
  const d = decodeRoute(body(r.encode(ctx({ br0: 6 }))));
  assert.equal([d.oif, d.protocol, d.scope], [6, 104, 253]);
  assert.is(r.op, 'route add 10.1.0.0/16 dev br0');
  assert.is(
    code(() => routeAdd({ dst: '10.1.0.0/16', dev: 'br0', oif: 3 })),
    'EINVALIDOPTION',
  );
});

test('every refusal has its code, before anything exists to send', () => {
  const cases: Array<[() => unknown, string]> = [
    [() => linkCreate('abcdefghijklmnop', 'bridge'), 'EINVALIDNAME'],
    [() => linkCreate('br0', 'bridge', { priority: 70000 }), 'EINVALIDOPTION'],
    [() => linkCreate('br0', 'bridge', { stp: 'yes' }), 'EINVALIDOPTION'],
    [() => linkCreate('br0', 'bridge', { forwardDelay: -1 }), 'EINVALIDOPTION'],
    [() => linkCreate('br0', 'bridge', { ageingTime: 1.5 }), 'EINVALIDOPTION'],
    [() => linkCreate('br0', 'bridge', { vlanDefaultPvid: 4095 }), 'EINVALIDOPTION'],
    [() => linkCreate('br0', 'bridge', { mtu: 5 }), 'EINVALIDMTU'],
    [() => linkCreate('br0', 'bridge', { address: '01:00:00:00:00:01' }), 'EINVALIDMAC'],
    [() => linkCreate('br0', 'bridge', { master: 'a b' }), 'EINVALIDNAME'],
    [() => linkCreate('br0', 'bridge', { alias: 'x'.repeat(300) }), 'EINVALIDOPTION'],
    [() => linkCreate('br0', 'bridge', { group: -1 }), 'EINVALIDOPTION'],
    [() => linkCreate('br0', 'bridge', { up: 1 }), 'EINVALIDOPTION'],
    [() => linkCreate('v0', 'veth', {}), 'EINVALIDNAME'],
    [() => linkCreate('v0', 'veth', { peer: 'p/0' }), 'EINVALIDNAME'],
    [() => linkCreate('v0', 'veth', { peer: 'p0', mtu: 5 }), 'EINVALIDMTU'],
    [() => linkCreate('v0', 'veth', { peer: 'p0', peerNetns: '../x' }), 'EINVALIDNETNS'],
    [() => linkCreate('v0', 'veth', { peer: 'p0', peerAddress: 'zz' }), 'EINVALIDMAC'],
    [() => linkCreate('t0', 'tun'), 'EINVALIDKIND'],
    [() => linkCreate('t0', 'nosuchkind'), 'EINVALIDKIND'],
    [() => linkSet('a/b', { up: true }), 'EINVALIDNAME'],
    [() => linkSet(0, { up: true }), 'EINVALIDINDEX'],
    [() => linkSet('v0', { mtu: 70000 }), 'EINVALIDMTU'],
    [() => linkSet('v0', { address: '00:00:00:00:00:00' }), 'EINVALIDMAC'],
    [() => linkSet('v0', { name: '' }), 'EINVALIDNAME'],
    [() => linkSet('v0', { master: 'x y' }), 'EINVALIDNAME'],
    [() => linkSet('v0', { netns: '' }), 'EINVALIDNETNS'],
    [() => linkSet('v0', { up: 'yes' as unknown as boolean }), 'EINVALIDOPTION'],
    [() => linkDelete(''), 'EINVALIDNAME'],
    [() => linkDeleteGroup(0), 'EINVALIDOPTION'],
    [() => linkGet(-3), 'EINVALIDINDEX'],
    [() => linkDump({ kind: 'Bad Kind' }), 'EINVALIDKIND'],
    [() => addressAdd('eth0', '10.0.0.1/33'), 'EINVALIDADDR'],
    [() => addressAdd('eth0', { cidr: '10.0.0.1/24', label: 'x'.repeat(20) }), 'EINVALIDOPTION'],
    [() => addressAdd('eth0', '10.0.0.1/24', { scope: 300 }), 'EINVALIDOPTION'],
    [() => addressDelete('e/0', '10.0.0.1/24'), 'EINVALIDNAME'],
    [() => routeAdd({ dst: 'default' }), 'EINVALIDADDR'],
    [() => routeAdd({ dst: '10.0.0.0/8', gateway: 'fd00::1' }), 'EINVALIDADDR'],
    [() => routeAdd({ dst: '10.0.0.0/8', priority: -1 }), 'EINVALIDOPTION'],
    [() => routeAdd({ dst: '10.0.0.0/8', scope: 256 }), 'EINVALIDOPTION'],
  ];
  for (const [f, want] of cases) assert.is(code(f), want, f.toString());
});

/** One invalid field per operation kind: with 'stop' or rollback, nothing at all is sent. */
const invalid: Array<[string, BatchOp]> = [
  ['createBridge priority', { op: 'createBridge', name: 'bad0', options: { priority: 70000 } }],
  ['createBridge name', { op: 'createBridge', name: 'abcdefghijklmnop' }],
  ['createBridge mtu', { op: 'createBridge', name: 'b0', options: { mtu: 5 } }],
  ['createBridge address', { op: 'createBridge', name: 'b0', options: { address: 'x' } }],
  ['createVeth mtu', { op: 'createVeth', name: 'v0', peer: 'p0', options: { mtu: 5 } }],
  ['createVeth peer', { op: 'createVeth', name: 'v0', peer: '' }],
  ['createVeth peerNetns', { op: 'createVeth', name: 'v0', peer: 'p0', options: { peerNetns: 'a/b' } }],
  ['createVeth peerAddress', { op: 'createVeth', name: 'v0', peer: 'p0', options: { peerAddress: '01:02:03:04:05:06' } }],
  ['createLink kind', { op: 'createLink', name: 'x0', kind: 'nosuch' }],
  ['createTap queues', { op: 'createTap', name: 't0', options: { queues: 2 } }],
  ['createTap owner', { op: 'createTap', name: 't0', options: { owner: -1 } }],
  ['createTap name', { op: 'createTap', name: 't/0' }],
  ['setLink mtu', { op: 'setLink', dev: 'v0', change: { mtu: 5 } }],
  ['setLink master', { op: 'setLink', dev: 'v0', change: { master: 'x y' } }],
  ['setLink name', { op: 'setLink', dev: 'v0', change: { name: 'abcdefghijklmnop' } }],
  ['setLink dev', { op: 'setLink', dev: 0, change: { up: true } }],
  ['setLink address', { op: 'setLink', dev: 'v0', change: { address: 'zz' } }],
  ['setLink netns', { op: 'setLink', dev: 'v0', change: { netns: '..' } }],
  ['delete dev', { op: 'delete', dev: 'bad/name' }],
  ['unknown op', { op: 'frobnicate' } as unknown as BatchOp],
];

test('runBatch: one invalid operation anywhere, with onError stop or rollback, sends not one byte', async () => {
  for (const [what, bad] of invalid) {
    for (const opts of [{ onError: 'stop' as const }, { rollback: true }]) {
      const fake = fakeTransport();
      const h = new Handle({ transport: fake.factory });
      const ops: BatchOp[] = [
        { op: 'createBridge', name: 'ok0' },
        { op: 'setLink', dev: 'ok0', change: { up: true } },
        { op: 'createVeth', name: 'v9', peer: 'p9' },
        bad,
      ];
      const r = await runBatch(h, ops, opts);
      await new Promise((res) => setImmediate(res));
      assert.is(fake.requests.length, 0, `${what} ${JSON.stringify(opts)}: nothing sent`);
      assert.is(r.failed, ops.length, what);
      assert.ok(String((r.results[3] as unknown as { error: { code: string } }).error.code).startsWith('EINVALID'), what);
      assert.is((r.results[0] as unknown as { error: { code: string } }).error.code, 'ESKIPPED', what);
      h.close();
    }
  }
});

test("runBatch: with onError 'continue', the valid operations still go, in call order", async () => {
  const fake = fakeTransport();
  const h = new Handle({ transport: fake.factory });
  const r = await runBatch(h, [
    { op: 'createBridge', name: 'ok0' },
    { op: 'createBridge', name: 'bad0', options: { priority: 70000 } },
    { op: 'setLink', dev: 7, change: { up: true } },
  ]);
  assert.equal(
    r.results.map((x) => x.ok),
    [true, false, true],
  );
  assert.equal(
    fake.requests.map((m) => m.type),
    [RTM_NEWLINK, RTM_SETLINK],
  );
  assert.is(fake.sends, 1, 'one sendmsg for the operations of one tick');
  h.close();
});

test.run();
