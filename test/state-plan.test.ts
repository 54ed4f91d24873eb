/**
 * Codec tier: plan(desired, current) on its own. Pure: states are written by hand, nothing is
 * sent. The minimal change, its safe order, its operations (with the mark, the reverts and the
 * restores that make a rollback exact), and every refusal before anything would be sent. No root.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { BatchOp } from '../src/rtnl/batch';
import { checkState, type StateDocument } from '../src/workflow/state-doc';
import {
  OWNER_MARK,
  RTPROT_HOSTWIRE,
  plan,
  planJson,
  planLines,
  planSummary,
  type CurrentState,
  type ObservedLink,
  type ObservedRoute,
  type PlanEntry,
  toDocument,
} from '../src/workflow/state-plan';

let mac = 0;
function link(name: string, kind: string, extra: Partial<ObservedLink> = {}): ObservedLink {
  const defaults: Record<string, Record<string, unknown>> = {
    bridge: { stp: false, forwardDelay: 1500, priority: 32768, vlanFiltering: false, ageingTime: 30000, mcastSnooping: true },
    tun: { tun: false, pi: false, vnetHdr: false, multiQueue: false },
  };
  return {
    name,
    kind,
    options: defaults[kind] ?? {},
    master: null,
    mtu: kind === 'loopback' ? 65536 : 1500,
    address: kind === 'loopback' ? null : `02:00:00:00:00:${(++mac).toString(16).padStart(2, '0')}`,
    up: false,
    addresses: [],
    owned: false,
    ...extra,
  };
}
const route = (r: Partial<ObservedRoute> & { dst: string }): ObservedRoute => ({ protocol: 3, scope: 0, type: 1, owned: false, ...r });
const doc = (d: unknown): StateDocument => checkState(d);
const lines = (p: ReturnType<typeof plan>) => planLines(p).map((l) => l.trim());
const names = (entries: PlanEntry[]) => entries.map((e) => `${e.action} ${e.type} ${e.name}`);
const ops = (p: ReturnType<typeof plan>): BatchOp[] => p.entries.flatMap((e) => e.ops);
function refusal(f: () => unknown): [string, string] {
  try {
    f();
  } catch (e) {
    return [(e as { code: string }).code, (e as { path: string }).path];
  }
  throw new Error('not refused');
}

const lo = () => link('lo', 'loopback', { up: true, addresses: [{ cidr: '127.0.0.1/8' }] });

test('from empty: masters before ports, a run of taps, the peer after its pair, addresses then routes', () => {
  const d = doc({
    links: [
      { name: 't0', kind: 'tun', master: 'br0', up: true },
      { name: 'v1', kind: 'veth', options: { peer: 'v0' }, mtu: 1400, up: true },
      { name: 'br0', kind: 'bridge', options: { stp: false, priority: 100 }, up: true, addresses: ['10.0.0.1/24'] },
      { name: 't1', kind: 'tun', master: 'br0', up: true, options: { vnetHdr: true } },
      { name: 'v0', kind: 'veth', options: { peer: 'v1' }, master: 'br0' },
    ],
    routes: [{ dst: '10.1.0.0/16', gateway: '10.0.0.254' }],
  });
  const p = plan(d, { links: [lo()], routes: [] });
  assert.equal(names(p.entries), [
    'create link v1',
    'create link br0',
    'create link t0',
    'create link t1',
    'create link v0',
    'create address 10.0.0.1/24',
    'create route 10.1.0.0/16 via 10.0.0.254',
  ]);
  assert.equal(ops(p), [
    { op: 'createLink', name: 'v1', kind: 'veth', options: { peer: 'v0', mtu: 1400, up: true, alias: OWNER_MARK } },
    { op: 'createLink', name: 'br0', kind: 'bridge', options: { priority: 100, up: true, alias: OWNER_MARK } },
    { op: 'createLink', name: 't0', kind: 'tun', options: { master: 'br0', up: true, alias: OWNER_MARK } },
    { op: 'createLink', name: 't1', kind: 'tun', options: { vnetHdr: true, master: 'br0', up: true, alias: OWNER_MARK } },
    { op: 'setLink', dev: 'v0', change: { alias: OWNER_MARK, master: 'br0' } },
    { op: 'addAddress', dev: 'br0', address: '10.0.0.1/24' },
    { op: 'addRoute', route: { dst: '10.1.0.0/16', gateway: '10.0.0.254', priority: 0, protocol: RTPROT_HOSTWIRE } },
  ]);
  assert.is(planSummary(p), 'Plan: 7 to add, 0 to change, 0 to destroy.');
  assert.is(lines(p)[1], '+ link br0 (bridge)  up=true, options.stp=false, options.priority=100');
  assert.equal(Object.keys(planJson(p)[1]), ['action', 'type', 'name', 'kind', 'changes']);
});

test('what is there already, as show-state states it, plans nothing', () => {
  const cur: CurrentState = {
    links: [
      lo(),
      link('br0', 'bridge', { up: true, addresses: [{ cidr: '10.0.0.1/24' }, { cidr: 'fd00::1/64' }] }),
      link('t0', 'tun', { master: 'br0', up: true, owned: true }),
      link('v0', 'veth', { options: { peer: 'v1' } }),
      link('v1', 'veth', { options: { peer: 'v0' } }),
      link('eth0', 'physical', { master: 'br0', up: true }),
      link('vx0', 'vxlan', { options: {} }),
    ],
    routes: [route({ dst: 'default', gateway: '10.0.0.254', dev: 'br0' }), route({ dst: 'fd01::/64', dev: 'br0', metric: 1024 })],
  };
  const shown = toDocument(cur);
  assert.is(
    toDocument({ links: [link('b1', 'bridge', { addressFromPorts: true })] }).links[0].address,
    undefined,
    "a MAC that is its ports'",
  );
  assert.is(shown.links[1].address, cur.links[1].address);
  assert.equal(plan(checkState(JSON.parse(JSON.stringify(shown))), cur, { prune: true }).entries, []);
  // Fields a document leaves out are left as they are.
  assert.equal(
    plan(
      doc({
        links: [
          { name: 'br0', kind: 'bridge' },
          { name: 't0', kind: 'tun' },
        ],
      }),
      cur,
    ).entries,
    [],
  );
  // Written differently, meaning the same.
  const same = doc({
    links: [{ name: 'br0', kind: 'bridge', address: cur.links[1].address?.toUpperCase(), addresses: ['fd00:0::1/64', '10.0.0.1/24'] }],
    routes: [{ dst: 'fd01:0::/64', dev: 'br0' }],
  });
  assert.equal(plan(same, cur).entries, []);
});

test('changes: one RTM_SETLINK per link with its revert; kind options that change in place go by changelink', () => {
  const cur: CurrentState = {
    links: [link('br0', 'bridge', { up: true }), link('br1', 'bridge'), link('t0', 'tun', { master: 'br0' }), link('eth0', 'physical')],
  };
  const p = plan(
    doc({
      links: [
        { name: 't0', kind: 'tun', master: 'br1', up: true, mtu: 9000 },
        { name: 'br1', kind: 'bridge', options: { stp: true }, mtu: 9000 },
        { name: 'eth0', kind: 'physical', up: true, master: 'br1' },
      ],
    }),
    cur,
  );
  assert.equal(names(p.entries), ['update link br1', 'update link t0', 'update link eth0'], 'masters first');
  assert.equal(p.entries[0].ops, [
    { op: 'setType', dev: 'br1', kind: 'bridge', options: { stp: true }, revert: { stp: false } },
    { op: 'setLink', dev: 'br1', change: { mtu: 9000 }, revert: { mtu: 1500 } },
  ]);
  assert.equal(p.entries[1].ops, [
    { op: 'setLink', dev: 't0', change: { master: 'br1', mtu: 9000, up: true }, revert: { master: 'br0', mtu: 1500, up: false } },
  ]);
  assert.equal(p.entries[2].ops, [
    { op: 'setLink', dev: 'eth0', change: { master: 'br1', up: true }, revert: { master: null, up: false } },
  ]);
  assert.equal(lines(p)[1], '~ link t0 (tun)  master: br0 -> br1, mtu: 1500 -> 9000, up: false -> true');
  assert.is(planSummary(p), 'Plan: 0 to add, 3 to change, 0 to destroy.');
});

test('ownership: a collision with a device hostwire did not make is refused; one it made is made again', () => {
  const veth = (owned: boolean) => ({
    links: [link('x0', 'veth', { options: { peer: 'y0' }, owned }), link('y0', 'veth', { options: { peer: 'x0' }, owned })],
  });
  const want = doc({ links: [{ name: 'x0', kind: 'tun' }] });
  assert.equal(
    refusal(() => plan(want, veth(false))),
    ['ECOLLISION', 'links[0].kind'],
  );
  assert.equal(
    refusal(() => plan(doc({ links: [{ name: 'eth0', kind: 'tun' }] }), { links: [link('eth0', 'physical', { owned: true })] })),
    ['ECOLLISION', 'links[0].kind'],
  );
  const p = plan(want, veth(true));
  assert.equal(names(p.entries), ['replace link x0']);
  const [del, create] = p.entries[0].ops as [Extract<BatchOp, { op: 'delete' }>, BatchOp];
  assert.is(del.op, 'delete');
  assert.equal(
    del.restore?.map((o) => o.op),
    ['createLink', 'setLink'],
    'the pair, as it was',
  );
  assert.equal(create, { op: 'createLink', name: 'x0', kind: 'tun', options: { alias: OWNER_MARK } });
  assert.is(lines(p)[0], '-/+ link x0 (tun)  kind: veth -> tun');
  // A fixed option (a tap's multiQueue) that differs.
  const tap = (owned: boolean) => ({ links: [link('t0', 'tun', { owned })] });
  const mq = doc({ links: [{ name: 't0', kind: 'tun', options: { multiQueue: true } }] });
  assert.equal(
    refusal(() => plan(mq, tap(false))),
    ['EIMMUTABLE', 'links[0].options.multiQueue'],
  );
  assert.equal(names(plan(mq, tap(true)).entries), ['replace link t0']);
});

test('refusals before anything is sent: a missing physical device, a master nowhere, a kind hostwire cannot make', () => {
  assert.equal(
    refusal(() => plan(doc({ links: [{ name: 'eth9', kind: 'physical' }] }), { links: [] })),
    ['ENODEV', 'links[0].name'],
  );
  assert.equal(
    refusal(() => plan(doc({ links: [{ name: 't0', kind: 'tun', master: 'br9' }] }), { links: [] })),
    ['ENOMASTER', 'links[0].master'],
  );
  assert.equal(
    refusal(() => plan(doc({ links: [{ name: 'd0', kind: 'hwnosuchkind' }] }), { links: [] })),
    ['ENOTSUP', 'links[0].kind'],
  );
  assert.equal(
    refusal(() =>
      plan(
        doc({
          links: [
            { name: 'v0', kind: 'veth', options: { peer: 'p0' } },
            { name: 'p0', kind: 'veth', options: { peer: 'v0' } },
          ],
        }),
        { links: [link('p0', 'veth', { options: { peer: 'q0' } })] },
      ),
    ),
    ['ECOLLISION', 'links[0].options.peer'],
  );
});

test('prune: only what hostwire made; ports detached before their master goes; ports, then masters, last; a pair once', () => {
  const cur: CurrentState = {
    links: [
      lo(),
      link('eth0', 'physical', { owned: true }),
      link('brx', 'bridge', { owned: true }),
      link('foreign0', 'tun', { master: 'brx' }),
      link('t1', 'tun', { master: 'brx', owned: true }),
      link('keep0', 'tun', { owned: true }),
      link('mine0', 'tun'),
      link('pa', 'veth', { options: { peer: 'pb' }, owned: true }),
      link('pb', 'veth', { options: { peer: 'pa' }, owned: true }),
      link('ka', 'veth', { options: { peer: 'kb' }, owned: true }),
      link('kb', 'veth', { options: { peer: 'ka' }, owned: true }),
    ],
    routes: [
      route({ dst: '10.5.0.0/16', dev: 'keep0', owned: true, protocol: RTPROT_HOSTWIRE }),
      route({ dst: '10.6.0.0/16', dev: 'keep0' }),
    ],
  };
  const d = doc({
    links: [
      { name: 'keep0', kind: 'tun' },
      { name: 'ka', kind: 'veth', options: { peer: 'kb' } },
    ],
  });
  assert.equal(plan(d, cur).entries, [], 'without prune, nothing goes');
  const p = plan(d, cur, { prune: true });
  assert.equal(names(p.entries), [
    'delete route 10.5.0.0/16 dev keep0',
    'update link foreign0',
    'delete link t1',
    'delete link brx',
    'delete link pa',
  ]);
  assert.equal(p.entries[1].ops, [{ op: 'setLink', dev: 'foreign0', change: { master: null }, revert: { master: 'brx' } }]);
  const restore = (p.entries[3].ops[0] as Extract<BatchOp, { op: 'delete' }>).restore;
  assert.equal(restore, [
    { op: 'createLink', name: 'brx', kind: 'bridge', options: { mtu: 1500, up: false, address: cur.links[2].address, alias: OWNER_MARK } },
  ]);
  assert.is(planSummary(p), 'Plan: 0 to add, 1 to change, 4 to destroy.');
});

test('addresses: the stated set, exactly; removals first (with what restores them), additions after the links', () => {
  const cur: CurrentState = {
    links: [
      link('br0', 'bridge', { addresses: [{ cidr: '10.0.0.1/24', broadcast: '10.0.0.255', label: 'br0:a' }, { cidr: 'fd00::1/64' }] }),
    ],
  };
  const p = plan(doc({ links: [{ name: 'br0', kind: 'bridge', mtu: 9000, addresses: ['10.0.0.2/24', 'fd00::1/64'] }] }), cur);
  assert.equal(names(p.entries), ['delete address 10.0.0.1/24', 'update link br0', 'create address 10.0.0.2/24']);
  assert.equal(p.entries[0].ops, [
    { op: 'deleteAddress', dev: 'br0', address: { cidr: '10.0.0.1/24', broadcast: '10.0.0.255', label: 'br0:a' } },
  ]);
  assert.is(lines(p)[0], '- address 10.0.0.1/24 dev br0');
});

test('routes the kernel flushes with an address that goes are removed first (for the rollback), and added again when kept', () => {
  const cur: CurrentState = {
    links: [
      link('br0', 'bridge', { addresses: [{ cidr: '10.0.0.1/24' }] }),
      link('br1', 'bridge', { addresses: [{ cidr: '10.1.0.1/24' }, { cidr: '10.1.1.1/24' }] }),
    ],
    routes: [
      route({ dst: 'default', gateway: '10.0.0.254', dev: 'br0' }),
      route({ dst: '10.9.0.0/16', gateway: '10.0.0.253', dev: 'br0' }),
      route({ dst: '10.8.0.0/16', gateway: '10.1.0.254', dev: 'br1' }),
      route({ dst: '10.7.0.0/16', dev: 'br1', src: '10.1.1.1' }),
    ],
  };
  const d = doc({
    links: [
      { name: 'br0', kind: 'bridge', addresses: ['10.0.0.2/24'] },
      { name: 'br1', kind: 'bridge', addresses: ['10.1.0.1/24'] },
    ],
    routes: [{ dst: 'default', gateway: '10.0.0.254', dev: 'br0' }],
  });
  const p = plan(d, cur);
  assert.equal(names(p.entries), [
    'delete route default via 10.0.0.254 dev br0',
    'delete route 10.9.0.0/16 via 10.0.0.253 dev br0',
    'delete route 10.7.0.0/16 dev br1',
    'delete address 10.0.0.1/24',
    'delete address 10.1.1.1/24',
    'create address 10.0.0.2/24',
    'create route default via 10.0.0.254 dev br0',
  ]);
});

test("routes: added with the mark, a changed one replaced, only hostwire's own pruned", () => {
  const cur: CurrentState = {
    links: [link('br0', 'bridge')],
    routes: [
      route({ dst: 'default', gateway: '10.0.0.254', dev: 'br0' }),
      route({ dst: '10.2.0.0/16', gateway: '10.0.0.2', dev: 'br0', owned: true, protocol: RTPROT_HOSTWIRE }),
      route({ dst: '10.3.0.0/16', gateway: '10.0.0.3', dev: 'br0' }),
    ],
  };
  const d = doc({
    links: [],
    routes: [
      { dst: 'default', gateway: '10.0.0.1', dev: 'br0' },
      { dst: 'fd01::/64', dev: 'br0' },
    ],
  });
  const p = plan(d, cur, { prune: true });
  assert.equal(names(p.entries), [
    'delete route 10.2.0.0/16 via 10.0.0.2 dev br0',
    'replace route default via 10.0.0.1 dev br0',
    'create route fd01::/64 dev br0',
  ]);
  assert.equal(p.entries[1].ops, [
    { op: 'deleteRoute', route: { dst: 'default', gateway: '10.0.0.254', dev: 'br0', priority: 0, protocol: 3, scope: 0, type: 1 } },
    { op: 'addRoute', route: { dst: 'default', gateway: '10.0.0.1', dev: 'br0', priority: 0, protocol: RTPROT_HOSTWIRE } },
  ]);
  assert.equal(p.entries[2].ops, [{ op: 'addRoute', route: { dst: 'fd01::/64', dev: 'br0', priority: 1024, protocol: RTPROT_HOSTWIRE } }]);
  assert.is(lines(p)[1], '-/+ route default via 10.0.0.1 dev br0  gateway: 10.0.0.254 -> 10.0.0.1');
});

test('plan is pure: the same input, the same plan; neither input is changed', () => {
  const cur: CurrentState = { links: [link('br0', 'bridge')], routes: [] };
  const d = doc({
    links: [
      { name: 'br0', kind: 'bridge', up: true },
      { name: 't0', kind: 'tun', master: 'br0' },
    ],
  });
  const before = JSON.stringify([cur, d]);
  assert.equal(plan(d, cur), plan(d, cur));
  assert.is(JSON.stringify([cur, d]), before);
});

test.run();
