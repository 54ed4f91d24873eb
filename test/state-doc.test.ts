/**
 * Codec tier: the state document. The shipped schema is well-formed and is what checkState
 * validates against; every refusal is a StateError with its code and the path it names; JSON
 * and YAML read and write the same document. No root.
 */
import * as fs from 'fs';
import * as path from 'path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { registerKind } from '../src/rtnl/kinds';
import { ValidationError } from '../src/errors';
import { STATE_SCHEMA, StateError, checkState, formatState, normalCidr, parseState, routeKey } from '../src/workflow/state-doc';

/** [code, path] of the refusal of `doc`, or 'ok'. */
function refusal(doc: unknown): [string, string] | 'ok' {
  try {
    checkState(doc);
    return 'ok';
  } catch (e) {
    assert.instance(e, StateError);
    assert.ok((e as StateError).message.startsWith((e as StateError).path || 'document'), 'the message starts with the path');
    return [(e as StateError).code, (e as StateError).path];
  }
}

const br = (extra: object = {}) => ({ name: 'br0', kind: 'bridge', ...extra });

test('the shipped schema: draft-07, every $ref defined, next to the module in dist', () => {
  assert.is(STATE_SCHEMA.$schema, 'http://json-schema.org/draft-07/schema#');
  const text = JSON.stringify(STATE_SCHEMA);
  const defs = STATE_SCHEMA.definitions as Record<string, unknown>;
  for (const m of text.matchAll(/"\$ref":"#\/definitions\/(\w+)"/g)) assert.ok(defs[m[1]], `definition ${m[1]}`);
  const shipped = path.join(__dirname, '..', 'src', 'workflow', 'state.schema.json');
  assert.ok(fs.existsSync(shipped), 'copied into dist by the build');
  assert.equal(JSON.parse(fs.readFileSync(shipped, 'utf8')), JSON.parse(JSON.stringify(STATE_SCHEMA)));
});

test('a document that fits passes, typed and unchanged', () => {
  const doc = {
    $schema: './state.schema.json',
    version: 1,
    links: [
      { name: 'lo', kind: 'loopback', up: true, addresses: ['127.0.0.1/8'] },
      { name: 'eth0', kind: 'physical', master: 'br0' },
      br({
        options: { stp: false, mcastSnooping: false },
        mtu: 9000,
        address: '02:00:00:00:00:01',
        up: true,
        addresses: ['10.0.0.1/24', 'fd00::1/64'],
      }),
      { name: 'vnet0', kind: 'tun', options: { vnetHdr: true, multiQueue: true, owner: 64055 }, master: 'br0', up: true },
      { name: 'v0', kind: 'veth', options: { peer: 'v1' }, master: null },
      { name: 'v1', kind: 'veth', options: { peer: 'v0' } },
      { name: 'vx0', kind: 'vxlan', options: { id: 42 } },
    ],
    routes: [
      { dst: 'default', gateway: '10.0.0.254' },
      { dst: '10.1.0.0/16', dev: 'br0', metric: 10 },
    ],
    networks: [{ name: 'host-bridge', xml: '<network/>', active: true }],
  };
  const copy = JSON.parse(JSON.stringify(doc));
  assert.is(checkState(doc), doc as unknown);
  assert.equal(doc, copy);
});

test('structure: ESTATESCHEMA naming the path, from the schema', () => {
  assert.equal(refusal(null), ['ESTATESCHEMA', '']);
  assert.equal(refusal({}), ['ESTATESCHEMA', 'links']);
  assert.equal(refusal({ links: [], extra: 1 }), ['ESTATESCHEMA', 'extra']);
  assert.equal(refusal({ links: [], version: 2 }), ['ESTATESCHEMA', 'version']);
  assert.equal(refusal({ links: [{ name: 'x' }] }), ['ESTATESCHEMA', 'links[0].kind']);
  assert.equal(refusal({ links: [br({ mtu: 20 })] }), ['ESTATESCHEMA', 'links[0].mtu']);
  assert.equal(refusal({ links: [br({ mtu: 1500.5 })] }), ['ESTATESCHEMA', 'links[0].mtu']);
  assert.equal(refusal({ links: [br({ up: 'yes' })] }), ['ESTATESCHEMA', 'links[0].up']);
  assert.equal(refusal({ links: [br({ master: 3 })] }), ['ESTATESCHEMA', 'links[0].master']);
  assert.equal(refusal({ links: [br({ options: { stp: 1 } })] }), ['ESTATESCHEMA', 'links[0].options.stp']);
  assert.equal(refusal({ links: [br({ options: { priority: 70000 } })] }), ['ESTATESCHEMA', 'links[0].options.priority']);
  assert.equal(refusal({ links: [br({ options: { peer: 'x' } })] }), ['ESTATESCHEMA', 'links[0].options.peer']);
  assert.equal(refusal({ links: [{ name: 't0', kind: 'tun', options: { queues: 2 } }] }), ['ESTATESCHEMA', 'links[0].options.queues']);
  assert.equal(refusal({ links: [{ name: 'v0', kind: 'veth', options: {} }] }), ['ESTATESCHEMA', 'links[0].options.peer']);
  assert.equal(refusal({ links: [br(), br({ name: 'a/b' })] }), ['ESTATESCHEMA', 'links[1].name']);
  assert.equal(refusal({ links: [br({ address: 'zz' })] }), ['ESTATESCHEMA', 'links[0].address']);
  assert.equal(refusal({ links: [br({ addresses: ['x'] })] }), ['ESTATESCHEMA', 'links[0].addresses[0]']);
  assert.equal(refusal({ links: [], routes: [{ via: '1.2.3.4' }] }), ['ESTATESCHEMA', 'routes[0].dst']);
  assert.equal(refusal({ links: [], networks: [{ name: 'n' }] }), ['ESTATESCHEMA', 'networks[0].xml']);
});

test('fields: the code the same check has everywhere in hostwire, and the path', () => {
  assert.equal(refusal({ links: [br({ name: '.' })] }), ['EINVALIDNAME', 'links[0].name']);
  assert.equal(refusal({ links: [br({ name: 'ééééééééé' })] }), ['EINVALIDNAME', 'links[0].name'], '18 bytes');
  assert.equal(refusal({ links: [br({ address: '01:00:00:00:00:01' })] }), ['EINVALIDMAC', 'links[0].address'], 'multicast');
  assert.equal(refusal({ links: [br({ addresses: ['10.0.0.1/33'] })] }), ['EINVALIDADDR', 'links[0].addresses[0]']);
  assert.equal(refusal({ links: [br({ master: 'br0' })] }), ['EINVALIDMASTER', 'links[0].master']);
  assert.equal(refusal({ links: [br(), br()] }), ['EDUPLICATE', 'links[1].name']);
  assert.equal(refusal({ links: [br({ addresses: ['fd00::1/64', 'fd00:0:0::1/64'] })] }), ['EDUPLICATE', 'links[0].addresses[1]']);
  for (const f of ['mtu', 'address', 'options'])
    assert.equal(
      refusal({ links: [{ name: 'eth0', kind: 'physical', [f]: f === 'mtu' ? 1500 : f === 'address' ? '02:00:00:00:00:01' : {} }] }),
      ['EREADONLY', `links[0].${f}`],
    );
  assert.equal(
    refusal({
      links: [
        { name: 'v0', kind: 'veth', options: { peer: 'v1' } },
        { name: 'v1', kind: 'veth', options: { peer: 'v2' } },
      ],
    }),
    ['EPEER', 'links[0].options.peer'],
  );
  assert.equal(refusal({ links: [{ name: 'v0', kind: 'veth', options: { peer: 'br0' } }, br()] }), ['EPEER', 'links[0].options.peer']);
  assert.equal(refusal({ links: [], routes: [{ dst: 'default' }] }), ['EINVALIDADDR', 'routes[0].gateway']);
  assert.equal(refusal({ links: [], routes: [{ dst: '10.0.0.0/8', gateway: 'fd00::1' }] }), ['EINVALIDADDR', 'routes[0].gateway']);
  assert.equal(refusal({ links: [], routes: [{ dst: '10.0.0.0/99' }] }), ['EINVALIDADDR', 'routes[0].dst']);
  assert.equal(
    refusal({
      links: [],
      routes: [
        { dst: 'fd01::/64', dev: 'br0' },
        { dst: 'fd01:0::/64', dev: 'br1', metric: 1024 },
      ],
    }),
    ['EDUPLICATE', 'routes[1]'],
    'IPv6 routes without a metric have 1024',
  );
  assert.equal(
    refusal({
      links: [],
      networks: [
        { name: 'n', xml: '' },
        { name: 'n', xml: '' },
      ],
    }),
    ['EDUPLICATE', 'networks[1].name'],
  );
});

test('a kind added to the registry slots in: its own check refuses its options, at their path', () => {
  registerKind({
    kind: 'hwtestkind',
    check: (o) => {
      if ((o as { depth?: unknown }).depth !== undefined && typeof (o as { depth?: unknown }).depth !== 'number')
        throw new ValidationError('EINVALIDOPTION', 'depth: not a number', 'depth');
      return o;
    },
    encodeData: () => undefined,
  });
  assert.is(refusal({ links: [{ name: 'k0', kind: 'hwtestkind', options: { depth: 3 } }] }), 'ok');
  assert.equal(refusal({ links: [{ name: 'k0', kind: 'hwtestkind', options: { depth: 'deep' } }] }), [
    'EINVALIDOPTION',
    'links[0].options.depth',
  ]);
});

test('text: JSON or YAML in, the same document; syntax errors are ESTATESYNTAX', () => {
  const doc = { version: 1 as const, links: [br({ options: { stp: true }, mtu: 1500, up: true, addresses: ['10.0.0.1/24'] })], routes: [] };
  for (const f of ['json', 'yaml'] as const) assert.equal(parseState(formatState(doc, f)), doc, f);
  assert.ok(formatState(doc, 'yaml').includes('- name: br0'), 'YAML block style');
  assert.equal(parseState('links:\n  - name: t0\n    kind: tun\n'), { links: [{ name: 't0', kind: 'tun' }] });
  for (const bad of ['{"links": [', 'links: [\n  - a: b: c'])
    try {
      parseState(bad);
      assert.unreachable(bad);
    } catch (e) {
      assert.is((e as StateError).code, 'ESTATESYNTAX', bad);
    }
});

test('canonical forms: addresses and route keys', () => {
  assert.is(normalCidr('fd00:0:0::1/64'), 'fd00::1/64');
  assert.is(normalCidr('10.0.0.1'), '10.0.0.1/32');
  assert.is(routeKey({ dst: 'fd01::/64' }), routeKey({ dst: 'fd01:0::/64', metric: 1024 }));
  assert.is(routeKey({ dst: 'default', gateway: '10.0.0.1' }), '4 default 0');
  assert.is.not(routeKey({ dst: '10.0.0.0/8', metric: 1 }), routeKey({ dst: '10.0.0.0/8' }));
});

test('a kernel-only apply loads neither libvirt nor the XML parser (networks load them when a document has some)', () => {
  const dist = path.resolve(__dirname, '..', 'src');
  const script = `
    require(${JSON.stringify(path.join(dist, 'workflow', 'state.js'))});
    require(${JSON.stringify(path.join(dist, 'cli', 'apply.js'))});
    require(${JSON.stringify(path.join(dist, 'cli', 'show-state.js'))});
    const heavy = ['/src/libvirt/', '/src/xml/', 'fast-xml-parser', 'state-networks'];
    console.log(JSON.stringify(Object.keys(require.cache).filter((f) => heavy.some((h) => f.includes(h)))));`;
  const r = require('child_process').spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout), []);
});

test.run();
