/**
 * Fast tier: the port join (src/workflow/ports.ts) with a fake libvirt connection and a fake link
 * watcher, no root and no daemon: each side's events in either order, reads of the live XML that
 * an event overtakes, the state at open, and what close() lets go of. The real daemon's side is
 * in ports.test.ts.
 */
import { EventEmitter } from 'events';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Connection, DomainDeviceEvent, DomainLifecycleEvent } from '../src/libvirt';
import type { Link } from '../src/rtnl/link';
import type { Watcher, WatchEvent } from '../src/rtnl/watch';
import { formatPortEvent } from '../src/cli/monitor';
import { PortWatcher, type PortEvent } from '../src/workflow/ports';
import { buildXml } from '../src/xml/parser';

const UUID = '11111111-2222-3333-4444-555555555555';
const MAC = '52:54:00:00:00:01';

interface FakeNic {
  mac: string;
  tap: string;
  bridge?: string;
  network?: string;
  alias: string;
}

/** A domain's live XML as libvirt writes it for a running domain (with an id) or a stopped one. */
function domainXml(running: boolean, nics: FakeNic[]): string {
  return buildXml({
    domain: {
      '@_type': 'qemu',
      ...(running ? { '@_id': '1' } : {}),
      name: 'vm',
      uuid: UUID,
      devices: {
        interface: nics.map((n) => ({
          '@_type': 'bridge',
          mac: { '@_address': n.mac },
          source: { ...(n.network ? { '@_network': n.network } : {}), ...(n.bridge ? { '@_bridge': n.bridge } : {}) },
          ...(running ? { target: { '@_dev': n.tap }, alias: { '@_name': n.alias } } : {}),
          model: { '@_type': 'virtio' },
        })),
      },
    },
  });
}

/** What PortWatcher uses of a Connection, with the daemon's state in plain fields. */
class FakeConnection extends EventEmitter {
  running = true;
  nics: FakeNic[] = [];
  networks: Record<string, string> = {};
  subs = new Map<number, number>();
  next = 1;
  /** When set, getXMLDesc waits for it (a read an event overtakes). */
  gate?: Promise<void>;
  reads = 0;
  async domainEventRegisterAny(id: number): Promise<number> {
    this.subs.set(this.next, id);
    return this.next++;
  }
  async domainEventDeregisterAny(id: number): Promise<void> {
    this.subs.delete(id);
  }
  async listAllDomains(): Promise<Array<{ name: string; uuid: string }>> {
    return this.running ? [{ name: 'vm', uuid: UUID }] : [];
  }
  async domainLookupByUUIDString(uuid: string): Promise<{ getXMLDesc(): Promise<string>; free(): void }> {
    assert.is(uuid, UUID);
    const xml = domainXml(this.running, this.nics); // the state when the read began
    return {
      getXMLDesc: async () => {
        this.reads++;
        if (this.gate) await this.gate;
        return xml;
      },
      free: () => undefined,
    };
  }
  async networkLookupByName(name: string): Promise<{ getBridgeName(): Promise<string>; free(): void }> {
    return { getBridgeName: async () => this.networks[name], free: () => undefined };
  }
  lifecycle(event: string): void {
    const ev: Partial<DomainLifecycleEvent> = { kind: 'domain', name: 'vm', uuid: UUID, event };
    this.emit('domain-lifecycle', ev);
  }
  device(event: 'DEVICE_ADDED' | 'DEVICE_REMOVED', alias: string): void {
    const ev: DomainDeviceEvent = { kind: 'domain-device', event, name: 'vm', uuid: UUID, alias };
    this.emit(event === 'DEVICE_ADDED' ? 'domain-device-added' : 'domain-device-removed', ev);
  }
}

/** What PortWatcher uses of a Watcher: its link cache and its events. */
class FakeWatcher extends EventEmitter {
  cache = { link: new Map<string, Link>() };
  closed = false;
  close(): void {
    this.closed = true;
  }
  link(event: 'add' | 'change' | 'delete', l: Partial<Link> & { index: number; name: string }): void {
    const state: Link = {
      kind: null,
      master: null,
      operstate: 'UNKNOWN',
      flags: [],
      up: false,
      mtu: 1500,
      address: null,
      broadcast: null,
      ...l,
    };
    if (event === 'delete') this.cache.link.delete(String(l.index));
    else this.cache.link.set(String(l.index), state);
    const ev: WatchEvent<'link'> = { event, object: 'link', key: String(l.index), state };
    this.emit('event', ev);
  }
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

async function setup(o: { tapUp?: boolean; running?: boolean; nics?: FakeNic[] } = {}) {
  const conn = new FakeConnection();
  const w = new FakeWatcher();
  conn.running = o.running ?? true;
  conn.nics = o.nics ?? [];
  w.link('add', { index: 1, name: 'lo', up: true });
  w.link('add', { index: 2, name: 'br0', kind: 'bridge', up: true });
  if (o.tapUp) w.link('add', { index: 7, name: 'vnet0', kind: 'tun', up: true, master: 2 });
  const pw = await PortWatcher.open(conn as unknown as Connection, { watcher: w as unknown as Watcher });
  const events: PortEvent[] = [];
  pw.on('event', (e: PortEvent) => events.push(e));
  await tick();
  const brief = () => events.map((e) => `${e.event}:${e.tap}:${e.trigger}${e.reason ? `:${e.reason}` : ''}${e.initial ? ':initial' : ''}`);
  return { conn, w, pw, events, brief };
}

const NIC0: FakeNic = { mac: MAC, tap: 'vnet0', bridge: 'br0', network: 'net', alias: 'net0' };

test('the state at open: a running domain whose tap is up on its bridge is ready, marked initial, delay unknown', async () => {
  const { pw, events, brief } = await setup({ tapUp: true, nics: [NIC0] });
  assert.equal(brief(), ['ready:vnet0:libvirt:initial']);
  assert.equal(
    { ...events[0], uuid: '' },
    {
      event: 'ready',
      domain: 'vm',
      uuid: '',
      mac: MAC,
      alias: 'net0',
      tap: 'vnet0',
      ifindex: 7,
      bridge: 'br0',
      network: 'net',
      trigger: 'libvirt',
      delayMs: null,
      initial: true,
    },
  );
  assert.equal(
    pw.ports().map((p) => p.tap),
    ['vnet0'],
  );
  await pw.close();
});

test('hot-plug, kernel first (as libvirt does it): ready once libvirt names the tap, delay from the kernel event', async () => {
  const { conn, w, pw, events, brief } = await setup();
  w.link('add', { index: 7, name: 'vnet0', kind: 'tun' });
  w.link('change', { index: 7, name: 'vnet0', kind: 'tun', master: 2 });
  w.link('change', { index: 7, name: 'vnet0', kind: 'tun', master: 2, up: true });
  w.link('change', { index: 7, name: 'vnet0', kind: 'tun', master: 2, up: true, flags: ['UP', 'LOWER_UP'] }); // no (up, master) change
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(brief(), []);
  conn.nics = [NIC0];
  conn.device('DEVICE_ADDED', 'net0');
  await tick();
  assert.equal(brief(), ['ready:vnet0:libvirt']);
  assert.ok(
    events[0].delayMs! >= 25 && events[0].delayMs! < 1000,
    `delay ${events[0].delayMs} counts from the event that put the tap up on br0`,
  );
  await pw.close();
});

test('libvirt first: ready on the kernel event that puts the tap up on the bridge; a wrong bridge is not ready', async () => {
  const { conn, w, pw, events, brief } = await setup();
  conn.nics = [NIC0];
  conn.device('DEVICE_ADDED', 'net0');
  await tick();
  w.link('add', { index: 7, name: 'vnet0', kind: 'tun', up: true });
  w.link('add', { index: 3, name: 'br1', kind: 'bridge', up: true });
  w.link('change', { index: 7, name: 'vnet0', kind: 'tun', up: true, master: 3 });
  assert.equal(brief(), []);
  w.link('change', { index: 7, name: 'vnet0', kind: 'tun', up: true, master: 2 });
  assert.equal(brief(), ['ready:vnet0:kernel']);
  assert.ok(events[0].delayMs! >= 0 && events[0].delayMs! < 50);
  await pw.close();
});

test('unplug: the tap goes down, then is deleted, then DEVICE_REMOVED: exactly one gone, at the first', async () => {
  const { conn, w, pw, brief } = await setup({ tapUp: true, nics: [NIC0] });
  w.link('change', { index: 7, name: 'vnet0', kind: 'tun', master: 2 });
  w.link('delete', { index: 7, name: 'vnet0', kind: 'tun', master: 2 });
  conn.nics = [];
  conn.device('DEVICE_REMOVED', 'net0');
  await tick();
  assert.equal(brief(), ['ready:vnet0:libvirt:initial', 'gone:vnet0:kernel:tap-down']);
  assert.equal(pw.ports(), []);
  await pw.close();
});

test('libvirt first on the way out: DEVICE_REMOVED while the tap is still up gives gone device-removed, once', async () => {
  const { conn, w, pw, events, brief } = await setup({ tapUp: true, nics: [NIC0] });
  conn.nics = [];
  conn.device('DEVICE_REMOVED', 'net0');
  await tick();
  w.link('delete', { index: 7, name: 'vnet0', kind: 'tun', up: true, master: 2 });
  assert.equal(brief(), ['ready:vnet0:libvirt:initial', 'gone:vnet0:libvirt:device-removed']);
  assert.is(events[1].delayMs, null);
  await pw.close();
});

test('STOPPED overtakes a read of the XML under way: the stale read does not bring the port back', async () => {
  const { conn, pw, brief } = await setup({ tapUp: true, nics: [NIC0] });
  let open!: () => void;
  conn.gate = new Promise((r) => (open = r));
  conn.lifecycle('RESUMED'); // a read begins while the domain still runs
  await tick();
  conn.running = false;
  conn.lifecycle('STOPPED');
  open();
  conn.gate = undefined;
  await tick();
  await tick();
  assert.equal(brief(), ['ready:vnet0:libvirt:initial', 'gone:vnet0:libvirt:domain-stopped']);
  assert.equal(pw.ports(), []);
  await pw.close();
});

test('restart: a new tap for the same MAC is a new port; DEFINED and UNDEFINED read nothing', async () => {
  const { conn, w, pw, brief } = await setup({ tapUp: true, nics: [NIC0] });
  const reads = conn.reads;
  conn.lifecycle('DEFINED');
  conn.lifecycle('UNDEFINED');
  await tick();
  assert.is(conn.reads, reads);
  conn.running = false;
  w.link('delete', { index: 7, name: 'vnet0', kind: 'tun', up: true, master: 2 });
  conn.lifecycle('STOPPED');
  conn.running = true;
  conn.nics = [{ ...NIC0, tap: 'vnet1' }];
  w.link('add', { index: 8, name: 'vnet1', kind: 'tun', up: true, master: 2 });
  conn.lifecycle('RESUMED');
  conn.lifecycle('STARTED');
  await tick();
  await tick();
  assert.equal(brief(), ['ready:vnet0:libvirt:initial', 'gone:vnet0:kernel:tap-deleted', 'ready:vnet1:libvirt']);
  await pw.close();
});

test('a NIC on a network whose live XML names no bridge: the network bridge is asked for', async () => {
  const { pw, brief } = await (async () => {
    const s = await setup({ tapUp: true });
    s.conn.networks.net = 'br0';
    s.conn.nics = [{ mac: MAC, tap: 'vnet0', network: 'net', alias: 'net0' }];
    s.conn.device('DEVICE_ADDED', 'net0');
    await tick();
    return s;
  })();
  assert.equal(brief(), ['ready:vnet0:libvirt']);
  await pw.close();
});

test('the bridge renamed: its ports are no longer on the expected bridge', async () => {
  const { w, pw, brief } = await setup({ tapUp: true, nics: [NIC0] });
  w.link('change', { index: 2, name: 'br9', kind: 'bridge', up: true });
  assert.equal(brief(), ['ready:vnet0:libvirt:initial', 'gone:vnet0:kernel:tap-left-bridge']);
  await pw.close();
});

test("after the connection's reopen(): the domains are listed again and the difference emitted", async () => {
  const { conn, w, pw, brief } = await setup({ tapUp: true, nics: [NIC0] });
  // While the daemon was away the domain stopped and its tap went; no libvirt event came.
  conn.running = false;
  conn.nics = [];
  conn.emit('reopen');
  await tick();
  await tick();
  assert.equal(brief(), ['ready:vnet0:libvirt:initial', 'gone:vnet0:libvirt:domain-stopped']);
  w.link('delete', { index: 7, name: 'vnet0', kind: 'tun', up: true, master: 2 });
  assert.is(brief().length, 2);
  await pw.close();
});

test('close() deregisters its subscriptions, leaves the listeners and the shared watcher', async () => {
  const { conn, w, pw } = await setup({ tapUp: true, nics: [NIC0] });
  assert.is(conn.subs.size, 3);
  await pw.close();
  assert.is(conn.subs.size, 0);
  assert.is(
    conn.listenerCount('domain-lifecycle') + conn.listenerCount('domain-device-added') + conn.listenerCount('domain-device-removed'),
    0,
  );
  assert.is(w.listenerCount('event'), 0);
  assert.is(w.closed, false, 'a watcher passed in stays open');
});

test('monitor --libvirt lines: ip-style keywords, the reason and the delay', async () => {
  const { conn, pw, events } = await setup({ tapUp: true, nics: [NIC0] });
  conn.running = false;
  conn.lifecycle('STOPPED');
  assert.equal(events.map(formatPortEvent), [
    'ready domain vm mac 52:54:00:00:00:01 dev vnet0 master br0 alias net0 via libvirt initial',
    'gone domain vm mac 52:54:00:00:00:01 dev vnet0 master br0 alias net0 reason domain-stopped via libvirt',
  ]);
  assert.is(
    formatPortEvent({ ...events[0], initial: undefined, trigger: 'kernel', delayMs: 12.345 }).endsWith('via kernel delay 12.3ms'),
    true,
  );
  await pw.close();
});

test.run();
