/**
 * Real tier: a real libvirtd + QEMU, started by helpers/libvirtd.ts inside a throwaway network
 * namespace. A bridged network and a diskless q35 domain (../shared/libvirt-host.md) are defined
 * and started; STARTED arrives; a NIC is hot-plugged and unplugged (matched by MAC); the domain
 * is destroyed (STOPPED arrives) and everything undefined; the daemon going away closes the
 * connection with a reason, and reopen() re-registers the subscriptions. Nothing is left behind,
 * also on failure.
 *
 * Where the tier cannot run (not root, no libvirtd, a libvirtd already running), the test is
 * skipped through the runner with the reason (helpers/libvirtd.ts realTest); under CI=true it fails.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { monitorEventLoopDelay } from 'perf_hooks';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Connection,
  VIR_DOMAIN_AFFECT_LIVE,
  VIR_NETWORK_XML_INACTIVE,
  interfaceXml,
  type CloseEvent,
  type Domain,
  type LifecycleEvent,
  type Network,
} from '../src/libvirt';
import { buildXml } from '../src/xml/parser';
import { SYSTEM_URI, pgrep, realTest, startLibvirtd } from './helpers/libvirtd';
import { removeDefinitions, vmXml, waitFor } from './helpers/vm';

const TAG = `hwvirt${process.pid}`;
const NET = `${TAG}-net`;
const DOM = `${TAG}-dom`;
const NET2 = `${TAG}-net2`;
const BRIDGE = `hwbr${process.pid % 1_000_000}`; // <= 15 characters

/** p, or null after ms (the timer is cleared either way: nothing keeps the process alive). */
async function within<T>(p: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<null>((r) => (timer = setTimeout(() => r(null), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

function networkXml(name: string, bridge: string): string {
  return buildXml({ network: { name, forward: { '@_mode': 'bridge' }, bridge: { '@_name': bridge } } });
}

/** Collects lifecycle events; waitFor() resolves on the first (past or future) match. */
class Events {
  readonly seen: LifecycleEvent[] = [];
  #waiters: { pred: (e: LifecycleEvent) => boolean; resolve: (e: LifecycleEvent) => void }[] = [];
  constructor(c: Connection) {
    c.on('lifecycle', (e: LifecycleEvent) => {
      this.seen.push(e);
      this.#waiters = this.#waiters.filter((w) => (w.pred(e) ? (w.resolve(e), false) : true));
    });
  }
  waitFor(pred: (e: LifecycleEvent) => boolean, what: string, ms = 15_000): Promise<LifecycleEvent> {
    const past = this.seen.find(pred);
    if (past) return Promise.resolve(past);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no ${what} event within ${ms} ms; seen: ${JSON.stringify(this.seen)}`)), ms);
      this.#waiters.push({ pred, resolve: (e) => (clearTimeout(t), resolve(e)) });
    });
  }
}

async function cleanupLibvirt(conn: Connection | null): Promise<void> {
  const c = conn && !conn.closed ? conn : await Connection.open(SYSTEM_URI).catch(() => null);
  if (!c) return;
  try {
    await removeDefinitions(c, [DOM], [NET, NET2]);
  } finally {
    if (c !== conn) await c.close();
  }
}

realTest(test, 'real libvirtd + QEMU: bridged network, diskless domain, events, live NIC hot-plug, close and reopen', async () => {
  const daemon = await startLibvirtd({ own: true });
  let conn: Connection | null = null;
  let bridgeMade = false;
  try {
    conn = await Connection.open(SYSTEM_URI);
    const c = conn;
    const events = new Events(c);
    await c.domainEventRegisterAny();
    await c.networkEventRegisterAny();
    assert.is(await c.getType(), 'QEMU');
    assert.ok((await c.getVersion()).major >= 2, 'QEMU version');
    assert.ok((await c.getLibVersion()).major >= 9);
    assert.is(await c.isAlive(), true);
    assert.is(await c.setKeepAlive(5, 3), true);

    // 200 RPCs in flight on one connection: the event loop keeps turning meanwhile.
    const h = monitorEventLoopDelay({ resolution: 5 });
    h.enable();
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 2);
    const t0 = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => (i % 3 === 0 ? c.listAllDomains() : i % 3 === 1 ? c.getHostname() : c.listAllNetworks())),
    );
    const took = Date.now() - t0;
    clearInterval(ticker);
    h.disable();
    assert.is(answers.length, 200);
    assert.ok(h.max / 1e6 < 250, `event loop blocked for ${(h.max / 1e6).toFixed(1)} ms`);
    if (took > 50) assert.ok(ticks > 0, `no timer ran during ${took} ms of calls`);

    // The bridge must exist first: libvirt does not create it for forward mode 'bridge'.
    daemon.ip(['link', 'add', BRIDGE, 'type', 'bridge']);
    bridgeMade = true;
    daemon.ip(['link', 'set', BRIDGE, 'up']);

    const net: Network = await c.networkDefineXML(networkXml(NET, BRIDGE));
    await events.waitFor((e) => e.kind === 'network' && e.name === NET && e.event === 'DEFINED', 'network DEFINED');
    await net.create();
    await events.waitFor((e) => e.kind === 'network' && e.name === NET && e.event === 'STARTED', 'network STARTED');
    assert.is(await net.isActive(), true);
    assert.is(await net.getBridgeName(), BRIDGE);
    assert.match(await net.getXMLDesc(VIR_NETWORK_XML_INACTIVE), new RegExp(`<bridge name='${BRIDGE}'/>`));
    await net.setAutostart(true);
    assert.is(await net.getAutostart(), true);
    await net.setAutostart(false);
    const row = (await c.listAllNetworks()).find((n) => n.name === NET);
    assert.equal({ ...row!, uuid: '' }, { name: NET, uuid: '', active: true, autostart: false, persistent: true, bridge: BRIDGE });
    assert.is((await c.networkLookupByUUIDString(net.uuid)).name, NET);

    const dom: Domain = await c.domainDefineXML(vmXml(DOM, NET));
    assert.is((await dom.getState()).state, 'shut off');
    await dom.create();
    const started = await events.waitFor((e) => e.kind === 'domain' && e.name === DOM && e.event === 'STARTED', 'domain STARTED');
    assert.is(started.kind === 'domain' && started.detail, 'BOOTED');
    assert.is((await dom.getState()).state, 'running');
    const listed = (await c.listAllDomains()).find((d) => d.name === DOM)!;
    assert.is(listed.state, 'running');
    assert.ok(listed.id > 0);

    const boot = await dom.interfaces();
    assert.is(boot.length, 1);
    assert.match(boot[0].target ?? '', /^vnet\d+$/);
    assert.is(boot[0].network, NET);

    // Hot-plug a NIC, then unplug it, matching by MAC (a hot-plugged NIC on a network source
    // shows as type='bridge' in the live XML).
    const mac = `52:54:00:${[1, 2, 3]
      .map(() =>
        Math.floor(Math.random() * 256)
          .toString(16)
          .padStart(2, '0'),
      )
      .join(':')}`;
    const nic = interfaceXml({ type: 'network', source: NET, mac, model: 'virtio' });
    await dom.attachDevice(nic, VIR_DOMAIN_AFFECT_LIVE);
    const plugged = (await dom.interfaces()).find((i) => i.mac === mac);
    assert.ok(plugged, 'hot-plugged NIC in the live XML');
    assert.match(plugged!.target ?? '', /^vnet\d+$/);
    // The tap is in the daemon's namespace, enslaved to the bridge.
    assert.match(daemon.ip(['-o', 'link', 'show', 'master', BRIDGE]), new RegExp(`${plugged!.target}`));
    await dom.detachDevice(nic, VIR_DOMAIN_AFFECT_LIVE);
    await waitFor(
      () => dom.interfaces(),
      (ifs) => !ifs.some((i) => i.mac === mac),
      'NIC unplugged',
      20_000,
    );

    await dom.destroy();
    const stopped = await events.waitFor((e) => e.kind === 'domain' && e.name === DOM && e.event === 'STOPPED', 'domain STOPPED');
    assert.is(stopped.kind === 'domain' && stopped.detail, 'DESTROYED');
    await dom.undefine();
    await events.waitFor((e) => e.kind === 'domain' && e.name === DOM && e.event === 'UNDEFINED', 'domain UNDEFINED');
    await net.destroy();
    await net.undefine();
    await events.waitFor((e) => e.kind === 'network' && e.name === NET && e.event === 'UNDEFINED', 'network UNDEFINED');
    dom.free();
    net.free();

    // The daemon goes away: the connection says so, with a reason.
    const closed = new Promise<CloseEvent>((resolve) => c.once('close', resolve));
    await daemon.stopDaemon();
    const ev = await within(closed, 15_000);
    assert.ok(ev, 'no close event after libvirtd stopped');
    assert.ok(['EOF', 'ERROR', 'KEEPALIVE'].includes(ev!.reason), ev!.reason);
    assert.is(c.closed, true);
    // It comes back: reopen() registers the subscriptions again.
    await daemon.startDaemon();
    await c.reopen();
    assert.is(await c.isAlive(), true);
    const n2 = await c.networkDefineXML(networkXml(NET2, BRIDGE));
    await events.waitFor((e) => e.kind === 'network' && e.name === NET2 && e.event === 'DEFINED', 'network DEFINED after reopen');
    await n2.undefine();
    n2.free();
  } finally {
    await cleanupLibvirt(conn).catch((e) => console.log('  cleanup:', e));
    if (conn) await conn.close().catch(() => undefined);
    if (bridgeMade) {
      try {
        daemon.ip(['link', 'del', BRIDGE]);
      } catch {
        /* gone with the namespace */
      }
    }
    await daemon.stop();
  }

  // Nothing left behind.
  assert.equal(pgrep('libvirtd'), [], 'libvirtd still running');
  assert.not.ok(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.includes(daemon.ns!), 'namespace left behind');
  const qemu = spawnSync('pgrep', ['-f', `guest=${DOM}`], { encoding: 'utf8' }).stdout.trim();
  assert.is(qemu, '', 'qemu left running');
  assert.not.ok(fs.existsSync(`/etc/libvirt/qemu/${DOM}.xml`), 'domain definition left behind');
  assert.not.ok(fs.existsSync(`/etc/libvirt/qemu/networks/${NET}.xml`), 'network definition left behind');
  assert.not.ok(fs.existsSync(`/etc/libvirt/qemu/networks/${NET2}.xml`), 'network definition left behind');
});

test.run();
