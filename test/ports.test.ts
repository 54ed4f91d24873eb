/**
 * Real tier: the port join (src/workflow/ports.ts) and `hostwire monitor --libvirt` against a real
 * libvirtd + QEMU (helpers/libvirtd.ts, in a throwaway namespace). A bridged network and a
 * diskless q35 domain are started; the boot NIC is in the state found at open; a NIC hot-plugged
 * and then unplugged gives exactly one ready and one gone event, each naming the domain, the MAC,
 * the tap libvirt's live XML names and the bridge `ip` shows it on, through the library and the
 * CLI alike; destroying the domain takes the boot NIC's port away. Nothing is left behind, also
 * on failure.
 *
 * Where the tier cannot run (not root, no libvirtd, a libvirtd already running), the test is
 * skipped through the runner with the reason (helpers/libvirtd.ts realTest); under CI=true it fails.
 */
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Connection, VIR_DOMAIN_EVENT_ID_DEVICE_ADDED, VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED, type DomainDeviceEvent } from '../src/libvirt';
import { attachInterface, detachInterface, randomMac } from '../src/workflow/domain';
import { PortWatcher, type PortEvent } from '../src/workflow/ports';
import { buildXml } from '../src/xml/parser';
import { CLI } from './helpers/kernel';
import { SYSTEM_URI, pgrep, realTest, startLibvirtd, type Libvirtd } from './helpers/libvirtd';
import { removeDefinitions, vmXml, waitFor } from './helpers/vm';

const TAG = `hwport${process.pid}`;
const NET = `${TAG}-net`;
const DOM = `${TAG}-dom`;
const BRIDGE = `hwpb${process.pid % 1_000_000}`; // <= 15 characters

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Collects events; until() resolves on the first (past or future) match. */
class Seen<T> {
  readonly all: T[] = [];
  #waiters: { pred: (e: T) => boolean; resolve: (e: T) => void }[] = [];
  push(e: T): void {
    this.all.push(e);
    this.#waiters = this.#waiters.filter((w) => (w.pred(e) ? (w.resolve(e), false) : true));
  }
  until(pred: (e: T) => boolean, what: string, ms = 20_000): Promise<T> {
    const past = this.all.find(pred);
    if (past) return Promise.resolve(past);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms; seen: ${JSON.stringify(this.all)}`)), ms);
      this.#waiters.push({ pred, resolve: (e) => (clearTimeout(t), resolve(e)) });
    });
  }
}

/** `hostwire -n NS --uri URI --json monitor --libvirt` as a child, its lines parsed. */
function startCli(ns: string): { child: ChildProcess; lines: Seen<PortEvent>; stderr: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, '-n', ns, '--uri', SYSTEM_URI, '--json', 'monitor', '--libvirt'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = new Seen<PortEvent>();
  let buf = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      lines.push(JSON.parse(buf.slice(0, i)) as PortEvent);
      buf = buf.slice(i + 1);
    }
  });
  child.stderr!.on('data', (d: Buffer) => (err += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, lines, stderr: () => err, exited };
}

/** The tap's master, as `ip` sees it in the daemon's namespace. */
function masterOf(daemon: Libvirtd, tap: string): string | null {
  const [link] = JSON.parse(daemon.ip(['-j', 'link', 'show', 'dev', tap])) as Array<{ master?: string; flags: string[] }>;
  assert.ok(link.flags.includes('UP'), `${tap} is up`);
  return link.master ?? null;
}

realTest(test, 'real libvirtd: hot-plug then unplug gives exactly one ready and one gone port event (library and CLI)', async () => {
  const daemon = await startLibvirtd({ own: true });
  const ns = daemon.ns!;
  let conn: Connection | null = null;
  let pw: PortWatcher | null = null;
  let cli: ReturnType<typeof startCli> | null = null;
  try {
    conn = await Connection.open(SYSTEM_URI);
    const c = conn;
    daemon.ip(['link', 'add', BRIDGE, 'type', 'bridge']);
    daemon.ip(['link', 'set', BRIDGE, 'up']);
    const net = await c.networkDefineXML(
      buildXml({ network: { name: NET, forward: { '@_mode': 'bridge' }, bridge: { '@_name': BRIDGE } } }),
    );
    await net.create();
    net.free();
    const dom = await c.domainDefineXML(vmXml(DOM, NET));
    await dom.create();
    const boot = await waitFor(
      () => dom.interfaces(),
      (ifs) => ifs.length === 1 && !!ifs[0].target,
      'boot NIC in the live XML',
    );

    // The device events themselves, on a connection of their own.
    const devices = new Seen<DomainDeviceEvent>();
    const other = await Connection.open(SYSTEM_URI);
    try {
      other.on('domain-device-added', (e: DomainDeviceEvent) => devices.push(e));
      other.on('domain-device-removed', (e: DomainDeviceEvent) => devices.push(e));
      await other.domainEventRegisterAny(VIR_DOMAIN_EVENT_ID_DEVICE_ADDED);
      await other.domainEventRegisterAny(VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED);

      // The state at open: the boot NIC is a ready port.
      pw = await PortWatcher.open(c, { netns: ns });
      const events = new Seen<PortEvent>();
      pw.on('event', (e: PortEvent) => events.push(e));
      const initial = await events.until((e) => e.mac === boot[0].mac, 'the boot NIC in the state at open');
      assert.equal(
        {
          event: initial.event,
          initial: initial.initial,
          domain: initial.domain,
          tap: initial.tap,
          bridge: initial.bridge,
          network: initial.network,
        },
        { event: 'ready', initial: true, domain: DOM, tap: boot[0].target, bridge: BRIDGE, network: NET },
      );
      assert.is(masterOf(daemon, boot[0].target!), BRIDGE);
      assert.equal(
        pw.ports().map((p) => p.mac),
        [boot[0].mac],
      );

      cli = startCli(ns);
      await cli.lines.until((e) => e.mac === boot[0].mac && e.initial === true, 'the CLI printing the state at open');

      // Hot-plug: one ready event, naming what the live XML and the kernel say.
      const mac = randomMac();
      await attachInterface(c, DOM, { network: NET, mac, model: 'virtio', live: true });
      const ready = await events.until((e) => e.mac === mac && e.event === 'ready', 'ready for the hot-plugged NIC');
      const plugged = (await dom.interfaces()).find((i) => i.mac === mac)!;
      assert.ok(plugged, 'hot-plugged NIC in the live XML');
      assert.match(ready.tap, /^vnet\d+$/);
      assert.is(ready.tap, plugged.target);
      assert.is(ready.alias, plugged.alias);
      assert.is(ready.domain, DOM);
      assert.is(ready.uuid, dom.uuid);
      assert.is(ready.bridge, BRIDGE);
      assert.is(masterOf(daemon, ready.tap), BRIDGE);
      assert.is(ready.ifindex, JSON.parse(daemon.ip(['-j', 'link', 'show', 'dev', ready.tap]))[0].ifindex);
      assert.is(ready.initial, undefined);
      assert.ok(typeof ready.delayMs === 'number' && ready.delayMs >= 0 && ready.delayMs < 5000, `delayMs ${ready.delayMs}`);
      const added = await devices.until((e) => e.event === 'DEVICE_ADDED' && e.alias === plugged.alias, 'DEVICE_ADDED');
      assert.equal({ name: added.name, uuid: added.uuid }, { name: DOM, uuid: dom.uuid });
      await cli.lines.until((e) => e.mac === mac && e.event === 'ready', 'the CLI printing ready');

      // Unplug: one gone event.
      const { removed } = await detachInterface(c, DOM, { mac, live: true });
      assert.is(removed, true);
      const gone = await events.until((e) => e.mac === mac && e.event === 'gone', 'gone for the unplugged NIC');
      assert.equal(
        { domain: gone.domain, tap: gone.tap, bridge: gone.bridge, ifindex: gone.ifindex },
        { domain: DOM, tap: ready.tap, bridge: BRIDGE, ifindex: ready.ifindex },
      );
      assert.ok(['tap-down', 'tap-deleted', 'tap-left-bridge', 'device-removed'].includes(gone.reason!), gone.reason);
      await devices.until((e) => e.event === 'DEVICE_REMOVED' && e.alias === plugged.alias, 'DEVICE_REMOVED');
      await cli.lines.until((e) => e.mac === mac && e.event === 'gone', 'the CLI printing gone');
      await sleep(500); // anything late would show up now
      for (const [who, seen] of [
        ['library', events.all],
        ['CLI', cli.lines.all],
      ] as const) {
        assert.equal(
          seen.filter((e) => e.mac === mac).map((e) => `${e.event}:${e.tap}:${e.bridge}`),
          [`ready:${ready.tap}:${BRIDGE}`, `gone:${ready.tap}:${BRIDGE}`],
          `${who}: exactly one ready and one gone`,
        );
      }
      assert.equal(
        pw.ports().map((p) => p.mac),
        [boot[0].mac],
      );

      // The domain stops: its boot NIC's port goes.
      await dom.destroy();
      const stopped = await events.until((e) => e.mac === boot[0].mac && e.event === 'gone', 'gone for the boot NIC');
      assert.ok(['tap-down', 'tap-deleted', 'tap-left-bridge', 'domain-stopped'].includes(stopped.reason!), stopped.reason);
      assert.equal(pw.ports(), []);
      dom.free();

      // close() lets go of everything it registered on the caller's connection.
      await pw.close();
      pw = null;
      assert.is(c.listenerCount('domain-device-added') + c.listenerCount('domain-lifecycle'), 0);
      cli.child.kill('SIGTERM');
      assert.is(await cli.exited, 0, cli.stderr());
      cli = null;
    } finally {
      await other.close();
    }
  } finally {
    if (cli) cli.child.kill('SIGKILL');
    if (pw) await pw.close().catch(() => undefined);
    const c = conn && !conn.closed ? conn : await Connection.open(SYSTEM_URI).catch(() => null);
    if (c) await removeDefinitions(c, [DOM], [NET]).catch((e) => console.log('  cleanup:', e));
    if (c && c !== conn) await c.close();
    if (conn) await conn.close().catch(() => undefined);
    spawnSync('ip', ['-n', ns, 'link', 'del', BRIDGE]);
    await daemon.stop();
  }

  // Nothing left behind.
  assert.equal(pgrep('libvirtd'), [], 'libvirtd still running');
  assert.not.ok(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.includes(ns), 'namespace left behind');
  assert.is(spawnSync('pgrep', ['-f', `guest=${DOM}`], { encoding: 'utf8' }).stdout.trim(), '', 'qemu left running');
  assert.not.ok(fs.existsSync(`/etc/libvirt/qemu/${DOM}.xml`), 'domain definition left behind');
  assert.not.ok(fs.existsSync(`/etc/libvirt/qemu/networks/${NET}.xml`), 'network definition left behind');
});

test.run();
