/**
 * End to end: the demo's walk against a real libvirtd + QEMU (test/helpers/libvirtd.ts, in a
 * throwaway namespace), each step asserted through the library and cross-checked with `ip` and
 * `virsh`: a bridge, the tutorial's bridged network defined/started/autostarted, the XML models
 * round-tripping the daemon's own XML, a diskless VM whose tap is on the bridge, a NIC
 * hot-plugged (a second tap appears) and unplugged by MAC, then everything destroyed and
 * undefined and the daemon stopped. Nothing is left behind, also on failure.
 *
 * Then `npm run demo` itself (test/demo.ts), as a child: its output shows each step of the whole
 * tutorial (virbr0 and the default NAT network, ENATBRIDGE, the uplink moved to br0 with the LAN
 * answering ping, the networkd files, the VM's vnet on br0), and nothing is left afterwards; also
 * after a Ctrl-C while the VM starts (exit 130).
 *
 * Where the tier cannot run (not root, no libvirtd, a libvirtd already running), each test is
 * skipped through the runner with the reason (helpers/libvirtd.ts realTest); under CI=true it fails.
 */
import { execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Connection, VIR_DOMAIN_XML_INACTIVE } from '../src/libvirt';
import { Handle } from '../src/rtnl/handle';
import { attachInterface, detachInterface, interfaceList, randomMac } from '../src/workflow/domain';
import { defineBridgedNetwork, editNetwork, networkDefinition } from '../src/workflow/network';
import { buildDomain, parseDomain } from '../src/xml/domain';
import { buildNetwork, parseNetwork } from '../src/xml/network';
import { parseXml } from '../src/xml/parser';
import { removeDefinitions, vmXml, waitFor } from './helpers/vm';
import { hostwire } from './helpers/kernel';
import { SYSTEM_URI, pgrep, realTest, startLibvirtd } from './helpers/libvirtd';

const NET = `hwe2e${process.pid}-net`;
const DOM = `hwe2e${process.pid}-vm`;
const BR = `hwe2e${process.pid % 1_000_000}`; // <= 15 characters

const virsh = (...args: string[]): string => execFileSync('virsh', ['-q', '-c', SYSTEM_URI, ...args], { encoding: 'utf8' });

async function cleanup(): Promise<void> {
  const c = await Connection.open(SYSTEM_URI).catch(() => null);
  if (!c) return;
  try {
    await removeDefinitions(c, [DOM], [NET]);
  } finally {
    await c.close();
  }
}

realTest(test, 'e2e: the bridged-networking walk on a real libvirtd + QEMU', async () => {
  const daemon = await startLibvirtd({ own: true });
  const ns = daemon.ns!;
  const c = await Connection.open(SYSTEM_URI);
  const h = new Handle({ netns: ns });
  try {
    // The bridge must exist first.
    await assertCode(defineBridgedNetwork(c, NET, { bridge: BR, netns: ns }), 'ENOBRIDGE');
    await h.createBridge(BR, { stp: false });
    await h.setUp(BR);
    assert.is(JSON.parse(daemon.ip(['-j', '-d', 'link', 'show', BR]))[0].linkinfo.info_kind, 'bridge');

    // The tutorial's network, defined, started, autostarted.
    const def = await defineBridgedNetwork(c, NET, { bridge: BR, netns: ns, start: true, autostart: true });
    assert.equal({ started: def.started, autostart: def.autostart }, { started: true, autostart: true });
    assert.match(virsh('net-list', '--all'), new RegExp(`${NET}\\s+active\\s+yes\\s+yes`));
    const netXml = virsh('net-dumpxml', NET);
    assert.match(netXml, /<forward mode='bridge'\/>/);
    assert.match(netXml, new RegExp(`<bridge name='${BR}'/>`));

    // The models round-trip the daemon's own XML, and net edit works on it.
    assert.equal(parseXml(buildNetwork(parseNetwork(netXml))), parseXml(netXml));
    const edited = await editNetwork(c, NET, (m) => {
      m.raw.portgroup = [{ '@_name': 'hwpg' }];
    });
    assert.is(edited.changed, true);
    const after = virsh('net-dumpxml', '--inactive', NET);
    assert.match(after, /<portgroup name='hwpg'/, after);
    assert.is((await editNetwork(c, NET, () => undefined)).changed, false);
    const before = await networkDefinition(c, NET);
    // Refused by the model (stp is not allowed in bridge mode) and by libvirt (no <ip> in bridge mode).
    await assertCode(
      editNetwork(c, NET, (m) => {
        m.bridge!.stp = false;
      }),
      'EXMLSCHEMA',
    );
    await assertCode(
      editNetwork(c, NET, (m) => {
        m.ips.push({ address: '10.1.2.3', prefix: 24 });
      }),
      'VIR_ERR_CONFIG_UNSUPPORTED',
    );
    assert.is(await networkDefinition(c, NET), before, 'a refused edit leaves the definition');

    // A diskless VM on the network: its tap is a port of the bridge.
    const dom = await c.domainDefineXML(vmXml(DOM, NET));
    await dom.create();
    const liveXml = await dom.getXMLDesc();
    assert.equal(parseXml(buildDomain(parseDomain(liveXml))), parseXml(liveXml));
    const inactive = await dom.getXMLDesc(VIR_DOMAIN_XML_INACTIVE);
    assert.equal(parseXml(buildDomain(parseDomain(inactive))), parseXml(inactive));
    const rows = await interfaceList(c, DOM, { handle: h });
    assert.is(rows.length, 1);
    const tap0 = rows[0].target!;
    assert.match(tap0, /^vnet\d+$/);
    assert.is(rows[0].master, BR);
    const ports = () => (JSON.parse(daemon.ip(['-j', 'link', 'show', 'master', BR])) as { ifname: string }[]).map((l) => l.ifname).sort();
    assert.equal(ports(), [tap0]);
    assert.match(virsh('domiflist', DOM), new RegExp(`${tap0}\\s+bridge\\s+${NET}\\s+virtio\\s+${rows[0].mac}`));
    const cli = hostwire(['--uri', SYSTEM_URI, '-n', ns, 'domain', 'iflist', DOM]);
    assert.is(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, new RegExp(`${tap0}\\s+bridge\\s+${NET}\\s+virtio\\s+${rows[0].mac}\\s+${BR}`));

    // A second NIC hot-plugged: a second tap on the bridge; unplugged by MAC: gone again.
    const mac = randomMac();
    const att = await attachInterface(c, DOM, { network: NET, mac, model: 'virtio', live: true });
    assert.is(att.mac, mac);
    const two = await interfaceList(c, DOM, { handle: h });
    const plugged = two.find((r) => r.mac === mac)!;
    assert.ok(plugged, 'the new NIC is in the live XML');
    assert.is(plugged.type, 'bridge', 'a hot-plugged network NIC shows as type bridge');
    assert.is(plugged.master, BR);
    assert.equal(ports(), [tap0, plugged.target!].sort());
    assert.match(virsh('domiflist', DOM), new RegExp(mac));
    const det = await detachInterface(c, DOM, { mac, live: true });
    assert.is(det.removed, true);
    await waitFor(
      async () => ports(),
      (p) => p.length === 1,
      'the unplugged tap to leave the bridge',
    );
    assert.equal(ports(), [tap0]);
    assert.not.match(virsh('domiflist', DOM), new RegExp(mac));
    await assertCode(detachInterface(c, DOM, { mac, live: true }), 'ENOIFACE');

    // Everything destroyed and undefined.
    await dom.destroy();
    await dom.undefine();
    dom.free();
    const n = await c.networkLookupByName(NET);
    await n.destroy();
    await n.undefine();
    n.free();
    await h.deleteLink(BR);
    assert.not.match(virsh('net-list', '--all'), new RegExp(NET));
    assert.not.match(virsh('list', '--all'), new RegExp(DOM));
  } finally {
    h.close();
    await cleanup().catch((e) => console.log('  cleanup:', e));
    await c.close().catch(() => undefined);
    await daemon.stop();
  }
  assert.equal(pgrep('libvirtd'), [], 'libvirtd still running');
  assert.not.ok(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.includes(ns), 'namespace left behind');
  assert.is(spawnSync('pgrep', ['-f', `guest=${DOM}`]).status, 1, 'qemu left running');
  assert.not.ok(fs.existsSync(`/etc/libvirt/qemu/${DOM}.xml`), 'domain definition left behind');
  assert.not.ok(fs.existsSync(`/etc/libvirt/qemu/networks/${NET}.xml`), 'network definition left behind');
});

async function assertCode(p: Promise<unknown>, code: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.is((e as { code?: string }).code, code, (e as Error).message);
    return;
  }
  assert.unreachable(`expected ${code}`);
}

/** The output of one step of the demo: the lines after the first `$ ...` line matching `command`, up to the next step. */
function step(out: string, command: RegExp): string {
  const lines = out.split('\n');
  const at = lines.findIndex((l) => l.startsWith('$ ') && command.test(l));
  assert.ok(at >= 0, `no step ${command} in the demo's output`);
  const rest = lines.slice(at + 1);
  const end = rest.findIndex((l) => l.startsWith('$ '));
  return (end < 0 ? rest : rest.slice(0, end)).join('\n');
}

/** What the demo may leave behind: a daemon, its namespaces, a VM, definitions, temporary files. */
function assertNothingLeft(pid: number): void {
  assert.equal(pgrep('libvirtd'), [], 'libvirtd still running');
  assert.equal(pgrep('dnsmasq'), [], 'dnsmasq still running');
  const namespaces = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
  assert.not.ok(namespaces.includes(`hwvirt-${pid}`) || namespaces.includes(`hwdemo-lan${pid}`), `a namespace left: ${namespaces}`);
  assert.is(spawnSync('pgrep', ['-f', `guest=hwdemo-vm${pid}`]).status, 1, 'qemu left running');
  assert.not.ok(fs.existsSync(`/etc/libvirt/qemu/hwdemo-vm${pid}.xml`), 'domain definition left behind');
  for (const n of ['host-bridge', 'default'])
    assert.not.ok(fs.existsSync(`/etc/libvirt/qemu/networks/${n}.xml`), `network ${n} left behind`);
  const newer = (f: string): boolean => {
    try {
      return fs.statSync(path.join(os.tmpdir(), f)).ctimeMs >= loadedAt;
    } catch {
      return false; // gone meanwhile
    }
  };
  assert.not.ok(
    fs.readdirSync(os.tmpdir()).some((f) => f.startsWith('hostwire-demo-') && newer(f)),
    'a temporary directory left behind',
  );
}
const loadedAt = Date.now();
/** What libvirt runs for the demo's NAT network. */
const DEMO_NEEDS = ['/usr/sbin/dnsmasq', '/usr/sbin/iptables'];

realTest(
  test,
  'e2e: npm run demo walks the whole tutorial on qemu:///system and leaves nothing behind',
  async () => {
    const child = spawn(process.execPath, [require.resolve('./demo')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d));
    child.stderr!.on('data', (d: Buffer) => (err += d));
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.is(status, 0, err + out);
    assert.match(out, /^URI: qemu:\/\/\/system/m);
    // 1. The default NAT network as Debian ships it, started, listed; its bridge.
    assert.match(out, /<range start='192\.168\.122\.2' end='192\.168\.122\.254'\/>/);
    assert.match(step(out, /net list --all +# virsh net-list/), /^ default\s+active\s/m);
    assert.match(step(out, /link show type bridge/), /^virbr0\s/m);
    assert.match(step(out, /addr show virbr0/), /192\.168\.122\.1\/24/);
    // 2. The stand-in NIC; the LAN answers.
    assert.match(step(out, /route show +# ip route show/), /^default via 192\.168\.50\.1 dev eth0/m);
    assert.match(step(out, /ping .* the LAN answers/), / 1 received/);
    // 3. Refused.
    assert.match(step(out, /link set eth0 master virbr0/), /^hostwire: ENATBRIDGE: /m);
    // 4. The uplink moved to br0; the LAN still answers.
    const moved = step(out, /bridge uplink eth0 --bridge br0/);
    assert.match(moved, /address 192\.168\.50\.10\/24 moved to br0/);
    assert.match(moved, /route default via 192\.168\.50\.1 moved to br0/);
    assert.match(step(out, /route show +# the default route now leaves by br0/), /^default via 192\.168\.50\.1 dev br0/m);
    assert.match(step(out, /ping .* through br0/), / 1 received/);
    // 5. The networkd files, the firewall sysctls.
    const files = step(out, /bridge persist br0 --format networkd/);
    assert.match(files, /# 25-br0\.netdev\n\[NetDev\]\nName=br0\nKind=bridge/);
    assert.match(files, /\[Network\]\nBridge=br0/);
    assert.match(step(out, /firewall show/), /net\.bridge\.bridge-nf-call-iptables = [01]/);
    // 6. The VM's vnet on br0, beside eth0; a second one while hot-plugged.
    const ports = step(out, /link show master br0 +# ip link show master br0/);
    assert.match(ports, /^eth0/m);
    assert.match(ports, /^vnet\d+\s/m);
    assert.match(step(out, /domain iflist/), /vnet\d+\s+bridge\s+host-bridge\s+virtio\s+\S+\s+br0/);
    assert.is(step(out, /link show master br0 +# a second tap appears/).match(/^vnet\d+/gm)?.length, 2);
    assert.match(out, /Nothing left behind/);
    assertNothingLeft(child.pid!);
  },
  DEMO_NEEDS,
);

realTest(
  test,
  'e2e: Ctrl-C in the middle of npm run demo (the VM starting) leaves nothing behind, exit 130',
  async () => {
    const child = spawn(process.execPath, [require.resolve('./demo')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let sent = false;
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      if (!sent && /domain start /.test(out)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    child.stderr!.on('data', (d: Buffer) => (err += d));
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.ok(sent, `the demo never reached domain start: ${out}${err}`);
    assert.is(status, 130, err + out);
    assert.match(out, /interrupted; nothing left behind/);
    assert.not.match(out.slice(out.indexOf('domain start ')), /^\$ hostwire /m, 'a step ran after the interrupt');
    assertNothingLeft(child.pid!);
  },
  DEMO_NEEDS,
);

test.run();
