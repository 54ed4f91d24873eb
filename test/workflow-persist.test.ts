/**
 * Persistence (src/workflow/persist.ts): the live setup of a bridge in a throwaway namespace,
 * read over rtnetlink and rendered as systemd-networkd, ifupdown and NetworkManager files, on
 * stdout and into a directory (never over existing files).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Handle } from '../src/rtnl/handle';
import { nmUuid, readBridgeSetup, renderIfupdown, renderNetworkd, renderNm, type BridgeSetup } from '../src/workflow/persist';
import { hostwire, ip, kernelTest, withNetns } from './helpers/kernel';

const test = suite('persist');

const SETUP: BridgeSetup = {
  name: 'br0',
  mac: '52:54:00:12:34:56',
  mtu: 1400,
  stp: false,
  forwardDelay: 12,
  ports: [{ name: 'up0', physical: false }],
  addresses: ['10.77.0.1/24', '10.78.0.1/16', 'fd77::1/64'],
  routes: [
    { family: 4, dst: 'default', gateway: '10.77.0.2' },
    { family: 4, dst: '10.99.0.0/24', gateway: '10.77.0.2', metric: 7 },
  ],
};

test('networkd: .netdev, .network with addresses and routes, a .network per port', () => {
  const files = renderNetworkd(SETUP);
  assert.equal(
    files.map((f) => f.name),
    ['25-br0.netdev', '25-br0.network', '25-up0.network'],
  );
  assert.is(
    files[0].text,
    '[NetDev]\nName=br0\nKind=bridge\nMTUBytes=1400\nMACAddress=52:54:00:12:34:56\n\n[Bridge]\nSTP=no\nForwardDelaySec=12\n',
  );
  assert.is(
    files[1].text,
    '[Match]\nName=br0\n\n[Network]\nAddress=10.77.0.1/24\nAddress=10.78.0.1/16\nAddress=fd77::1/64\n\n[Route]\nGateway=10.77.0.2\n\n[Route]\nDestination=10.99.0.0/24\nGateway=10.77.0.2\nMetric=7\n',
  );
  assert.is(files[2].text, '[Match]\nName=up0\n\n[Network]\nBridge=br0\n');
});

test('ifupdown: one stanza with bridge options, gateway, extra address and route', () => {
  const [f] = renderIfupdown(SETUP);
  assert.is(
    f.text,
    [
      '# br0: written by hostwire bridge persist',
      'iface up0 inet manual',
      '',
      'auto br0',
      'iface br0 inet static',
      '    bridge_ports up0',
      '    bridge_stp off',
      '    bridge_fd 12',
      '    hwaddress ether 52:54:00:12:34:56',
      '    mtu 1400',
      '    address 10.77.0.1/24',
      '    gateway 10.77.0.2',
      '    up ip route add 10.99.0.0/24 via 10.77.0.2 dev br0 metric 7',
      '',
      'iface br0 inet static',
      '    address 10.78.0.1/16',
      '',
      'iface br0 inet6 static',
      '    address fd77::1/64',
      '',
    ].join('\n'),
  );
  const bare = renderIfupdown({ ...SETUP, addresses: [], routes: [], ports: [] })[0].text;
  assert.match(bare, /iface br0 inet manual\n {4}bridge_ports none\n/);
});

test('NetworkManager: bridge and port keyfiles, mode 0600, stable UUIDs', () => {
  const files = renderNm(SETUP);
  assert.equal(
    files.map((f) => [f.name, f.mode]),
    [
      ['br0.nmconnection', 0o600],
      ['br0-port-up0.nmconnection', 0o600],
    ],
  );
  assert.match(files[0].text, /\[connection\]\nid=br0\nuuid=[0-9a-f-]{36}\ntype=bridge\ninterface-name=br0\n/);
  assert.match(files[0].text, /\[bridge\]\nstp=false\nforward-delay=12\n/);
  assert.match(
    files[0].text,
    /\[ipv4\]\nmethod=manual\naddress1=10.77.0.1\/24\naddress2=10.78.0.1\/16\ngateway=10.77.0.2\nroute1=10.99.0.0\/24,10.77.0.2,7\n/,
  );
  assert.match(files[0].text, /\[ipv6\]\nmethod=manual\naddress1=fd77::1\/64\n/);
  assert.match(files[1].text, /interface-name=up0\nmaster=br0\nslave-type=bridge\n/);
  assert.is(nmUuid('br0'), nmUuid('br0'));
  assert.is.not(nmUuid('br0'), nmUuid('br1'));
  assert.match(nmUuid('br0'), /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

kernelTest(test, 'the live setup is read from the kernel; CLI to stdout and into a directory, never over existing files', async () => {
  await withNetns(async (ns) => {
    ip(
      '-n',
      ns,
      'link',
      'add',
      'br0',
      'address',
      '52:54:00:12:34:56',
      'mtu',
      '1400',
      'type',
      'bridge',
      'stp_state',
      '0',
      'forward_delay',
      '1200',
    );
    ip('-n', ns, 'link', 'add', 'up0', 'mtu', '1400', 'type', 'veth', 'peer', 'name', 'up0p');
    ip('-n', ns, 'link', 'set', 'up0', 'master', 'br0', 'up');
    ip('-n', ns, 'link', 'set', 'up0p', 'up');
    ip('-n', ns, 'link', 'set', 'br0', 'up');
    ip('-n', ns, 'addr', 'add', '10.77.0.1/24', 'dev', 'br0');
    ip('-n', ns, 'addr', 'add', '10.78.0.1/16', 'dev', 'br0');
    ip('-n', ns, 'addr', 'add', 'fd77::1/64', 'dev', 'br0', 'nodad');
    ip('-n', ns, 'route', 'add', 'default', 'via', '10.77.0.2');
    ip('-n', ns, 'route', 'add', '10.99.0.0/24', 'via', '10.77.0.2', 'metric', '7');
    const h = new Handle({ netns: ns });
    try {
      assert.equal(await readBridgeSetup(h, 'br0'), SETUP);
      for (const [dev, c] of [
        ['nobr0', 'ENOBRIDGE'],
        ['up0', 'ENOTBRIDGE'],
      ]) {
        try {
          await readBridgeSetup(h, dev);
          assert.unreachable(c);
        } catch (e) {
          assert.is((e as { code?: string }).code, c);
        }
      }
    } finally {
      h.close();
    }
    const out = hostwire(['-n', ns, 'bridge', 'persist', 'br0', '--format', 'networkd']);
    assert.is(out.status, 0, out.stderr);
    assert.is(
      out.stdout,
      renderNetworkd(SETUP)
        .map((f) => `# ${f.name}\n${f.text}`)
        .join('\n'),
    );
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hw-persist-'));
    try {
      const target = path.join(dir, 'nm');
      const w = hostwire(['-n', ns, 'bridge', 'persist', 'br0', '--format', 'nm', '--dir', target]);
      assert.is(w.status, 0, w.stderr);
      assert.equal(fs.readdirSync(target).sort(), ['br0-port-up0.nmconnection', 'br0.nmconnection']);
      assert.is(fs.statSync(path.join(target, 'br0.nmconnection')).mode & 0o777, 0o600);
      assert.is(fs.readFileSync(path.join(target, 'br0.nmconnection'), 'utf8'), renderNm(SETUP)[0].text);
      fs.writeFileSync(path.join(dir, 'br0'), 'keep me\n');
      const again = hostwire(['--json', '-n', ns, 'bridge', 'persist', 'br0', '--format', 'ifupdown', '--dir', dir]);
      assert.is(JSON.parse(again.stderr).code, 'EEXIST');
      assert.is(fs.readFileSync(path.join(dir, 'br0'), 'utf8'), 'keep me\n');
      const bad = hostwire(['-n', ns, 'bridge', 'persist', 'br0', '--format', 'yaml']);
      assert.is(bad.status, 2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 'ps');
});

kernelTest(test, 'a full disk or a read-only directory under bridge persist --dir: a typed error and no half-written file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hwpersist-'));
  try {
    const script = `
      const fs = require('fs');
      const { writeRendered } = require(${JSON.stringify(path.resolve(__dirname, '../src/workflow/persist.js'))});
      const files = [{ name: 'a.netdev', text: 'x'.repeat(3000), mode: 0o644 }, { name: 'b.network', text: 'y'.repeat(6000), mode: 0o644 }];
      const out = {};
      try { writeRendered(process.argv[1] + '/full', files); out.full = 'ok'; } catch (e) { out.full = e.code; }
      out.fullLeft = fs.readdirSync(process.argv[1] + '/full');
      try { writeRendered(process.argv[1] + '/ro', files); out.ro = 'ok'; } catch (e) { out.ro = e.code; }
      out.roLeft = fs.readdirSync(process.argv[1] + '/ro');
      console.log(JSON.stringify(out));`;
    // A private mount namespace: an 8 KiB tmpfs (room for the first file, not the second) and a read-only one.
    fs.mkdirSync(path.join(dir, 'full'));
    fs.mkdirSync(path.join(dir, 'ro'));
    const sh = `mount -t tmpfs -o size=8k tmpfs "$1/full" && mount -t tmpfs -o ro tmpfs "$1/ro" && exec "$2" -e "$3" "$1"`;
    const r = require('child_process').spawnSync(
      'unshare',
      ['-m', '--propagation', 'private', 'sh', '-c', sh, 'sh', dir, process.execPath, script],
      {
        encoding: 'utf8',
      },
    );
    assert.is(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out, { full: 'ENOSPC', fullLeft: [], ro: 'EROFS', roLeft: [] });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
