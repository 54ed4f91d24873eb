/**
 * Kernel tier: `hostwire show-state` and `hostwire apply`, the acceptance. Copy (a
 * namespace built with ip, shown, applied to an empty one: the same links and address; then no
 * change), prune (exactly the taps deleted, what ip made survives), dry run (ip -j link show
 * identical), collision (refused, nothing changed), show-state piped into apply.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { hostwire, ip, ipJson, kernelTest, withNetns } from './helpers/kernel';

const t = suite('state-cli');

/** Names, kinds, masters, MTU, up: what the copy must keep. */
const links = (ns: string) =>
  ipJson('-n', ns, '-d', 'link', 'show')
    .map((l: any) => [l.ifname, l.linkinfo?.info_kind ?? null, l.master ?? null, l.mtu, l.flags.includes('UP')])
    .sort((a: string[], b: string[]) => a[0].localeCompare(b[0]));
const addresses = (ns: string) =>
  ipJson('-n', ns, 'addr', 'show')
    .flatMap((l: any) => l.addr_info.filter((a: any) => a.scope !== 'link').map((a: any) => `${l.ifname} ${a.local}/${a.prefixlen}`))
    .sort();

function ipBatch(ns: string, lines: string[]): void {
  const file = path.join(os.tmpdir(), `hwbatch${process.pid}`);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  try {
    ip('-n', ns, '-batch', file);
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/** A: a bridge with an address, 300 taps on it (up), a veth pair; all made by ip. */
function buildA(ns: string): void {
  ip('-n', ns, 'link', 'add', 'br0', 'type', 'bridge');
  ip('-n', ns, 'addr', 'add', '10.71.0.1/24', 'dev', 'br0');
  ip('-n', ns, 'link', 'set', 'br0', 'up');
  const lines: string[] = [];
  for (let i = 0; i < 300; i++) lines.push(`tuntap add dev tap${i} mode tap`, `link set tap${i} master br0 up`);
  ipBatch(ns, lines);
  ip('-n', ns, 'link', 'add', 'va0', 'type', 'veth', 'peer', 'name', 'vb0');
}

const json = (r: ReturnType<typeof hostwire>) => {
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
};

kernelTest(t, 'copy: show-state of A applied to an empty B gives the same links and address; a second apply changes nothing', () =>
  withNetns(
    (a) =>
      withNetns(async (b) => {
        buildA(a);
        const shown = hostwire(['-n', a, 'show-state', '--json']);
        assert.is(shown.status, 0, shown.stderr);
        const first = json(hostwire(['-n', b, 'apply', '-', '--json'], shown.stdout));
        assert.equal([first.changes, first.verified], [300 + 1 + 2 + 1, true], 'taps, bridge, veth pair, address');
        assert.equal(Object.keys(first), ['changes', 'plan', 'verified']);
        assert.equal(first.plan[0], { action: 'create', type: 'link', name: 'br0', kind: 'bridge', changes: first.plan[0].changes });
        assert.equal(links(b), links(a));
        assert.equal(addresses(b), addresses(a));
        assert.equal(ipJson('-n', b, 'link', 'show', 'master', 'br0').length, 300);
        const again = json(hostwire(['-n', b, 'apply', '-', '--json'], shown.stdout));
        assert.equal(again, { changes: 0, plan: [], verified: true });
      }, 'cpb'),
    'cpa',
  ),
);

kernelTest(t, 'prune: 100 taps deleted in A are removed from B, exactly those; a device ip made in B survives', () =>
  withNetns(
    (a) =>
      withNetns(async (b) => {
        buildA(a);
        json(hostwire(['-n', b, 'apply', '-', '--json'], hostwire(['-n', a, 'show-state', '--json']).stdout));
        ip('-n', b, 'link', 'add', 'ipmade0', 'type', 'bridge');
        ip('-n', b, 'tuntap', 'add', 'dev', 'ipmade1', 'mode', 'tap');
        const gone = Array.from({ length: 100 }, (_, i) => `tap${i * 3}`);
        ipBatch(
          a,
          gone.map((n) => `link del ${n}`),
        );
        const file = path.join(os.tmpdir(), `hwstate${process.pid}.json`);
        try {
          fs.writeFileSync(file, hostwire(['-n', a, 'show-state', '--json']).stdout);
          const r = json(hostwire(['-n', b, 'apply', file, '--prune', '--json']));
          assert.is(r.verified, true);
          assert.equal(r.plan.map((e: any) => `${e.action} ${e.name}`).sort(), gone.map((n) => `delete ${n}`).sort());
        } finally {
          fs.rmSync(file, { force: true });
        }
        const left = new Set(ipJson('-n', b, 'link', 'show').map((l: any) => l.ifname));
        assert.ok(
          gone.every((n) => !left.has(n)),
          'the 100 are gone',
        );
        assert.ok(left.has('ipmade0') && left.has('ipmade1'), 'what ip made stays');
        assert.is(left.size, 1 + 1 + 200 + 2 + 2, 'lo, br0, 200 taps, the pair, the two ip made');
        assert.equal(
          links(b).filter((l: string[]) => !l[0].startsWith('ipmade')),
          links(a),
        );
      }, 'prb'),
    'pra',
  ),
);

kernelTest(t, 'dry run: the plan is printed, and ip -j link show is identical before and after', () =>
  withNetns(async (b) => {
    ip('-n', b, 'link', 'add', 'keep0', 'type', 'bridge');
    const doc = JSON.stringify({
      links: [
        { name: 'keep0', kind: 'bridge', mtu: 1400, up: true, addresses: ['10.72.0.1/24'] },
        { name: 'new0', kind: 'tun', master: 'keep0' },
      ],
    });
    const before = ip('-n', b, '-j', 'link', 'show');
    const r = hostwire(['-n', b, 'apply', '-', '--dry-run'], doc);
    assert.is(r.status, 0, r.stderr);
    assert.equal(
      r.stdout.trimEnd().split('\n'),
      [
        '+ link new0 (tun)  master=keep0',
        '~ link keep0 (bridge)  mtu: 1500 -> 1400, up: false -> true',
        '+ address 10.72.0.1/24 dev keep0',
        '',
        'Plan: 2 to add, 1 to change, 0 to destroy.',
        'Dry run: nothing was changed.',
      ].map((l) => (l.startsWith('+') || l.startsWith('~') ? `  ${l}` : l)),
    );
    const j = json(hostwire(['-n', b, 'apply', '-', '--dry-run', '--json'], doc));
    assert.equal([j.changes, j.verified], [3, false]);
    assert.is(ip('-n', b, '-j', 'link', 'show'), before);
  }, 'dry'),
);

kernelTest(t, 'collision: a tap where ip made a veth of that name is refused, and B is unchanged', () =>
  withNetns(async (b) => {
    ip('-n', b, 'link', 'add', 'tap5', 'type', 'veth', 'peer', 'name', 'tap5p');
    const doc = JSON.stringify({
      links: [
        { name: 'br9', kind: 'bridge', up: true },
        { name: 'tap5', kind: 'tun', master: 'br9', up: true },
      ],
    });
    const before = ip('-n', b, '-j', '-d', 'link', 'show');
    const r = hostwire(['-n', b, 'apply', '-', '--json'], doc);
    assert.is(r.status, 1);
    const err = JSON.parse(r.stderr);
    assert.equal([err.code, err.path], ['ECOLLISION', 'links[1].kind']);
    assert.is(ip('-n', b, '-j', '-d', 'link', 'show'), before);
    const human = hostwire(['-n', b, 'apply', '-'], doc);
    assert.match(human.stderr, /^hostwire: ECOLLISION: links\[1\]\.kind: tap5 is a veth device that hostwire did not make/);
  }, 'col'),
);

kernelTest(t, 'show-state (YAML) piped into apply is a no-op; a bad document names its path', () =>
  withNetns(async (ns) => {
    ip('-n', ns, 'link', 'add', 'yb0', 'type', 'bridge', 'stp_state', '1');
    ip('-n', ns, 'tuntap', 'add', 'dev', 'yt0', 'mode', 'tap', 'multi_queue');
    ip('-n', ns, 'link', 'set', 'yt0', 'master', 'yb0');
    ip('-n', ns, 'link', 'set', 'yb0', 'up');
    ip('-n', ns, 'addr', 'add', 'fd72::1/64', 'dev', 'yb0', 'nodad');
    ip('-n', ns, 'addr', 'add', '10.73.0.1/24', 'dev', 'yb0');
    ip('-n', ns, 'route', 'add', '10.74.0.0/16', 'via', '10.73.0.9');
    ip('-n', ns, 'route', 'add', 'fd74::/64', 'dev', 'yb0');
    const yaml = hostwire(['-n', ns, 'show-state']);
    assert.is(yaml.status, 0, yaml.stderr);
    assert.match(yaml.stdout, /^version: 1\nlinks:\n {2}- name: lo\n/);
    assert.match(yaml.stdout, /multiQueue: true/);
    const r = hostwire(['-n', ns, 'apply', '-', '--prune'], yaml.stdout);
    assert.equal([r.status, r.stdout.trim()], [0, 'No changes: the namespace already matches the document.']);
    const bad = hostwire(['-n', ns, 'apply', '-', '--json'], 'links:\n  - name: yb0\n    kind: bridge\n    mtu: 10\n');
    assert.is(bad.status, 1);
    assert.equal([JSON.parse(bad.stderr).code, JSON.parse(bad.stderr).path], ['ESTATESCHEMA', 'links[0].mtu']);
    const missing = hostwire(['-n', ns, 'apply', '/nonexistent/state.json']);
    assert.match(missing.stderr, /^hostwire: ENOENT: apply: cannot read/);
  }, 'yml'),
);

t.run();
