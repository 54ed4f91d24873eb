/**
 * "Port ready": libvirt's view of a domain's NICs joined with the kernel's view of their taps,
 * as one event per NIC when it is ready and one when it is gone.
 *
 * A NIC is ready when both sides agree: libvirt's live XML names it (the running domain has an
 * <interface> with this MAC, <target dev='vnetN'/> and a bridge), and the kernel shows vnetN
 * administratively up with the bridge of that name as its master. It is gone when either side
 * stops agreeing: the device was removed, the domain stopped, or the tap went down, left the
 * bridge or was deleted. Each side is followed by events, never polled: libvirt's domain
 * lifecycle and device-added/removed events (each one re-reads that domain's live XML; the
 * device events name only an alias) and the kernel's link events from a Watcher in the
 * namespace where the daemon makes its taps. The join is of states, so the order in which the
 * two streams arrive does not matter; and as libvirt emits DEVICE_ADDED only after the tap is up
 * on the bridge, a hot-plug's ready event usually comes from libvirt's side.
 *
 * Replaces: polling `virsh domiflist DOM` and `ip link show vnetN` until the tap shows up on the
 * bridge, or waiting on `virsh event --event device-added` and then reading both by hand (what
 * nova does in its wait for network-vif-plugged, which Neutron's agent sends once it sees the
 * port on its bridge). Mirrors Kubernetes' informers: list, then watch, and hand on differences.
 */
import { EventEmitter } from 'events';
import { performance } from 'perf_hooks';
import {
  VIR_CONNECT_LIST_DOMAINS_ACTIVE,
  VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
  VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
  VIR_DOMAIN_EVENT_ID_LIFECYCLE,
  interfacesOf,
  type Connection,
  type DomainDeviceEvent,
  type DomainLifecycleEvent,
} from '../libvirt';
import type { Link } from '../rtnl/link';
import { Watcher, type WatchEvent } from '../rtnl/watch';
import { attr, child, parseXml } from '../xml/parser';

/** Why a port stopped being ready: the first thing seen to stop agreeing. */
export type GoneReason = 'tap-down' | 'tap-left-bridge' | 'tap-deleted' | 'device-removed' | 'domain-stopped';

/** A domain's NIC as a port of a bridge. */
export interface Port {
  /** The domain's name and UUID. */
  domain: string;
  uuid: string;
  /** The NIC's MAC (lower case) and its alias in the live XML ('net1'). */
  mac: string;
  alias: string | null;
  /** The tap (<target dev>), its ifindex in the watched namespace (null until seen there). */
  tap: string;
  ifindex: number | null;
  /** The bridge the live XML puts the NIC on, and the libvirt network when it came from one. */
  bridge: string;
  network: string | null;
}

export interface PortEvent extends Port {
  event: 'ready' | 'gone';
  /** The side whose event completed the join (ready) or broke it (gone). */
  trigger: 'kernel' | 'libvirt';
  /** For 'gone': what stopped agreeing. */
  reason?: GoneReason;
  /**
   * Milliseconds from the kernel's event that made this true to this event: for 'ready', from the
   * link event that put the tap up on the bridge (the wait for libvirt's side and its XML is in
   * it); for 'gone' with trigger 'kernel', from the link event that ended it. Null when no kernel
   * event is behind it (state found at start; a gone that libvirt saw first).
   */
  delayMs: number | null;
  /** Part of the state found at open() (domains already running). */
  initial?: true;
}

export interface PortWatcherOptions {
  /** The namespace where the daemon makes its taps (default: this process's). */
  netns?: string;
  /** A link Watcher of that namespace to share (it stays open); default: one of its own. */
  watcher?: Watcher;
  /** The receive buffer of the Watcher it opens. */
  rcvbuf?: number;
}

/** The kernel's view of one link, kept from the Watcher's events. */
interface LinkView {
  name: string;
  up: boolean;
  master: number | null;
  /** performance.now() of the event that last changed `up` or `master`; null: as found at start. */
  since: number | null;
}

interface Nic extends Port {
  ready: boolean;
  entry: DomainEntry;
}

/** What libvirt's live XML says about one domain's bridge ports. */
interface DomainView {
  active: boolean;
  nics: Array<Omit<Port, 'domain' | 'uuid' | 'ifindex'>>;
}

interface DomainEntry {
  uuid: string;
  name: string;
  /** By MAC. */
  nics: Map<string, Nic>;
  /** An event came after the last read of the XML began: read it again. */
  dirty: boolean;
  running: boolean;
  done?: Promise<void>;
}

type KernelCheck = { ok: true; index: number; since: number | null } | { ok: false; why: GoneReason };

const ms = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * Joins libvirt's domains and the kernel's taps into port events. `await PortWatcher.open(conn,
 * {netns})` resolves once the running domains' NICs are read and joined; then 'event'
 * (PortEvent: the state found at open first, marked `initial`, handed to the first listener, so
 * add it right after open()), 'error' and 'close'. ports() is the ready ports at any time. The connection stays the caller's: while it is closed (the daemon went
 * away) nothing comes from libvirt's side; after conn.reopen() the domains are listed again and
 * the difference is emitted.
 * Equivalent to: virsh event --all --loop (lifecycle, device-added, device-removed) joined with
 * ip monitor link, and virsh domiflist DOM + ip link show vnetN for the state at start.
 */
export class PortWatcher extends EventEmitter {
  readonly conn: Connection;
  readonly watcher: Watcher;
  readonly #ownsWatcher: boolean;
  readonly #links = new Map<number, LinkView>();
  readonly #byName = new Map<string, number>();
  readonly #domains = new Map<string, DomainEntry>();
  readonly #byTap = new Map<string, Nic>();
  readonly #subs: number[] = [];
  /** The state at open, until the first listener takes it (with what came while it was handed over). */
  #pending: PortEvent[] | undefined = [];
  #starting = true;
  #handing = false;
  #closed = false;

  private constructor(conn: Connection, watcher: Watcher, ownsWatcher: boolean) {
    super();
    this.conn = conn;
    this.watcher = watcher;
    this.#ownsWatcher = ownsWatcher;
    this.on('newListener', (ev) => {
      if (ev !== 'event' || !this.#pending || this.#handing) return;
      // After the listener is in place; anything sent meanwhile queues behind the state at open.
      this.#handing = true;
      queueMicrotask(() => {
        const q = this.#pending ?? [];
        this.#pending = undefined;
        for (const e of q) this.emit('event', e);
      });
    });
  }

  /**
   * Watches the namespace's links, subscribes to the connection's domain lifecycle and device
   * events, reads every running domain's live XML, and resolves once all of it is joined.
   */
  static async open(conn: Connection, options: PortWatcherOptions = {}): Promise<PortWatcher> {
    const watcher = options.watcher ?? (await Watcher.open({ netns: options.netns, objects: ['link'], rcvbuf: options.rcvbuf }));
    const self = new PortWatcher(conn, watcher, !options.watcher);
    try {
      await self.#start();
      return self;
    } catch (e) {
      await self.close();
      throw e;
    }
  }

  async #start(): Promise<void> {
    for (const l of this.watcher.cache.link.values()) this.#see(l, null);
    this.watcher.on('event', this.#onLink);
    this.watcher.on('error', this.#onError);
    this.conn.on('domain-lifecycle', this.#onLifecycle);
    this.conn.on('domain-device-added', this.#onDevice);
    this.conn.on('domain-device-removed', this.#onDevice);
    this.conn.on('reopen', this.#onReopen);
    for (const id of [VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_ID_DEVICE_ADDED, VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED])
      this.#subs.push(await this.conn.domainEventRegisterAny(id));
    await this.#resyncAll();
    this.#starting = false;
  }

  /** The ports ready now. */
  ports(): Port[] {
    const out: Port[] = [];
    for (const e of this.#domains.values()) for (const n of e.nics.values()) if (n.ready) out.push(this.#port(n));
    return out;
  }

  /** Stops: the subscriptions are deregistered and the Watcher it opened is closed; the connection stays open. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.watcher.off('event', this.#onLink);
    this.watcher.off('error', this.#onError);
    if (this.#ownsWatcher) this.watcher.close();
    this.conn.off('domain-lifecycle', this.#onLifecycle);
    this.conn.off('domain-device-added', this.#onDevice);
    this.conn.off('domain-device-removed', this.#onDevice);
    this.conn.off('reopen', this.#onReopen);
    for (const id of this.#subs.splice(0)) await this.conn.domainEventDeregisterAny(id).catch(() => undefined);
    this.emit('close');
  }

  // ---- the kernel's side ----------------------------------------------------------------------

  /** Records a link's state; `at` is when its event arrived (null: found at start). */
  #see(l: Link, at: number | null): LinkView | undefined {
    const prev = this.#links.get(l.index);
    if (prev && prev.name !== l.name && this.#byName.get(prev.name) === l.index) this.#byName.delete(prev.name);
    const changed = !prev || prev.up !== l.up || prev.master !== l.master;
    this.#links.set(l.index, { name: l.name, up: l.up, master: l.master, since: changed ? at : prev.since });
    this.#byName.set(l.name, l.index);
    return prev;
  }

  readonly #onLink = (ev: WatchEvent): void => {
    if (ev.object !== 'link') return;
    const at = performance.now();
    const l = ev.state as Link;
    let prev: LinkView | undefined;
    if (ev.event === 'delete') {
      prev = this.#links.get(l.index);
      this.#links.delete(l.index);
      if (this.#byName.get(l.name) === l.index) this.#byName.delete(l.name);
    } else {
      prev = this.#see(l, at);
    }
    if (l.kind === 'bridge' && (ev.event === 'delete' || (prev && prev.name !== l.name))) {
      // A bridge renamed or gone: any port may be off its bridge now.
      for (const e of this.#domains.values()) for (const nic of e.nics.values()) this.#evaluate(nic, 'kernel', at);
      return;
    }
    for (const name of prev && prev.name !== l.name ? [prev.name, l.name] : [l.name]) {
      const nic = this.#byTap.get(name);
      if (nic) this.#evaluate(nic, 'kernel', at);
    }
  };

  #kernelCheck(nic: Nic): KernelCheck {
    const index = this.#byName.get(nic.tap);
    if (index === undefined) return { ok: false, why: 'tap-deleted' };
    const l = this.#links.get(index)!;
    if (!l.up) return { ok: false, why: 'tap-down' };
    if (l.master === null || this.#links.get(l.master)?.name !== nic.bridge) return { ok: false, why: 'tap-left-bridge' };
    return { ok: true, index, since: l.since };
  }

  /** Joins one NIC's two sides; emits when the answer changed. `at`: the kernel event behind the call. */
  #evaluate(nic: Nic, trigger: PortEvent['trigger'], at?: number): void {
    const k = this.#kernelCheck(nic);
    if (k.ok && !nic.ready) {
      nic.ready = true;
      nic.ifindex = k.index;
      this.#send(nic, 'ready', trigger, undefined, k.since === null ? null : ms(performance.now() - k.since));
    } else if (!k.ok && nic.ready) {
      nic.ready = false;
      this.#send(nic, 'gone', trigger, k.why, at === undefined ? null : ms(performance.now() - at));
    }
  }

  // ---- libvirt's side ---------------------------------------------------------------------------

  readonly #onLifecycle = (ev: DomainLifecycleEvent): void => {
    if (ev.event === 'DEFINED' || ev.event === 'UNDEFINED') return; // the definition, not the running domain
    const e = this.#domains.get(ev.uuid);
    if (ev.event === 'STOPPED') {
      if (!e) return;
      this.#apply(e, { active: false, nics: [] });
      if (e.running) e.dirty = true; // a read under way is older than this
      return;
    }
    void this.#refresh(ev.uuid, ev.name);
  };

  readonly #onDevice = (ev: DomainDeviceEvent): void => void this.#refresh(ev.uuid, ev.name);

  readonly #onReopen = (): void => void this.#resyncAll().catch(this.#onError);

  readonly #onError = (e: unknown): void => {
    if (this.listenerCount('error') > 0) this.emit('error', e);
  };

  /** Lists the running domains, reads each one's XML; known domains no longer running are stopped. */
  async #resyncAll(): Promise<void> {
    const doms = await this.conn.listAllDomains(VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    const live = new Set(doms.map((d) => d.uuid));
    for (const e of [...this.#domains.values()]) {
      if (live.has(e.uuid)) continue;
      this.#apply(e, { active: false, nics: [] });
      if (e.running) e.dirty = true;
    }
    await Promise.all(doms.map((d) => this.#refresh(d.uuid, d.name)));
  }

  /** Reads the domain's live XML again (one read at a time per domain; events meanwhile read it once more). */
  #refresh(uuid: string, name: string): Promise<void> {
    if (this.#closed) return Promise.resolve();
    let e = this.#domains.get(uuid);
    if (!e) this.#domains.set(uuid, (e = { uuid, name, nics: new Map(), dirty: false, running: false }));
    e.name = name;
    e.dirty = true;
    if (!e.running) {
      e.running = true;
      e.done = this.#run(e);
    }
    return e.done!;
  }

  async #run(e: DomainEntry): Promise<void> {
    try {
      while (e.dirty && !this.#closed) {
        e.dirty = false;
        let view: DomainView;
        try {
          view = await this.#read(e.uuid);
        } catch (err) {
          this.#onError(err);
          continue;
        }
        if (!e.dirty && !this.#closed) this.#apply(e, view);
      }
    } finally {
      e.running = false;
      if (e.nics.size === 0 && this.#domains.get(e.uuid) === e) this.#domains.delete(e.uuid);
    }
  }

  /** The domain's bridge ports from its live XML. Only a running (or paused) domain's XML has an id. */
  async #read(uuid: string): Promise<DomainView> {
    const d = await this.conn.domainLookupByUUIDString(uuid).catch((err: { code?: string }) => {
      if (err.code === 'VIR_ERR_NO_DOMAIN') return null;
      throw err;
    });
    if (!d) return { active: false, nics: [] };
    try {
      const doc = parseXml(await d.getXMLDesc());
      if (attr(child(doc, 'domain'), 'id') === undefined) return { active: false, nics: [] };
      const nics: DomainView['nics'] = [];
      for (const i of interfacesOf(doc)) {
        if (!i.mac || !i.target) continue;
        const bridge = i.bridge ?? (i.network !== null ? await this.#networkBridge(i.network) : null);
        if (bridge === null) continue; // macvtap ('direct'), 'ethernet', 'user' ...: not a bridge port
        nics.push({ mac: i.mac, alias: i.alias, tap: i.target, bridge, network: i.network });
      }
      return { active: true, nics };
    } catch (err) {
      if ((err as { code?: string }).code === 'VIR_ERR_NO_DOMAIN') return { active: false, nics: [] };
      throw err;
    } finally {
      d.free();
    }
  }

  /** A network's bridge, for live XML that names only the network. */
  async #networkBridge(network: string): Promise<string | null> {
    try {
      const n = await this.conn.networkLookupByName(network);
      try {
        return await n.getBridgeName();
      } finally {
        n.free();
      }
    } catch {
      return null;
    }
  }

  /** Makes the domain's NICs what `view` says, emitting what that changes. */
  #apply(e: DomainEntry, view: DomainView): void {
    const want = new Map(view.nics.map((n) => [n.mac, n]));
    for (const [mac, nic] of e.nics) {
      const w = want.get(mac);
      if (w && w.tap === nic.tap) Object.assign(nic, { alias: w.alias, bridge: w.bridge, network: w.network });
      else this.#drop(nic, view.active ? 'device-removed' : 'domain-stopped');
    }
    for (const w of want.values()) {
      let nic = e.nics.get(w.mac);
      if (!nic) {
        nic = { ...w, domain: e.name, uuid: e.uuid, ifindex: null, ready: false, entry: e };
        e.nics.set(w.mac, nic);
        this.#byTap.set(w.tap, nic);
      }
      this.#evaluate(nic, 'libvirt');
    }
  }

  #drop(nic: Nic, reason: GoneReason): void {
    nic.entry.nics.delete(nic.mac);
    if (this.#byTap.get(nic.tap) === nic) this.#byTap.delete(nic.tap);
    if (!nic.ready) return;
    nic.ready = false;
    this.#send(nic, 'gone', 'libvirt', reason, null);
  }

  // ---- out ------------------------------------------------------------------------------------

  #port(n: Nic): Port {
    return {
      domain: n.entry.name,
      uuid: n.uuid,
      mac: n.mac,
      alias: n.alias,
      tap: n.tap,
      ifindex: n.ifindex,
      bridge: n.bridge,
      network: n.network,
    };
  }

  #send(nic: Nic, event: PortEvent['event'], trigger: PortEvent['trigger'], reason: GoneReason | undefined, delayMs: number | null): void {
    const ev: PortEvent = { event, ...this.#port(nic), trigger, ...(reason ? { reason } : {}), delayMs };
    if (this.#starting) ev.initial = true;
    if (this.#pending && (this.#starting || this.#handing)) this.#pending.push(ev);
    else this.emit('event', ev);
  }
}
