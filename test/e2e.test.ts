/**
 * End to end: the demo's walk against a real libvirtd + QEMU (test/helpers/libvirtd.ts, in a
 * throwaway namespace), each step asserted through the library and cross-checked with `ip` and
 * `virsh`: a bridge, the tutorial's bridged network defined/started/autostarted, the XML models
 * round-tripping the daemon's own XML, a diskless VM whose tap is on the bridge, a NIC
 * hot-plugged (a second tap appears) and unplugged by MAC, then everything destroyed and
 * undefined and the daemon stopped. Nothing is left behind, also on failure.
 *
 * Where the tier cannot run (not root, no libvirtd, a libvirtd already running), each test is
 * skipped through the runner with the reason (helpers/libvirtd.ts realTest); under CI=true it fails.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
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

realTest(test, 'e2e: npm run demo walks the tutorial on qemu:///system and leaves nothing behind', async () => {
  const r = spawnSync(process.execPath, [require.resolve('./demo')], { encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /^URI: qemu:\/\/\/system/m);
  assert.match(r.stdout, /link show master br0 .*\n(vnet\d+)\s/);
  assert.match(r.stdout, /Nothing left behind/);
  assert.equal(pgrep('libvirtd'), []);
  assert.not.match(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout, /hwvirt-/);
});

test.run();
