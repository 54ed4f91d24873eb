/**
 * A libvirt connection (virConnectPtr) and its events.
 *
 * Every method runs its libvirt call off the JS thread and returns a Promise; many calls may be
 * in flight on one connection at once. Events arrive through the EventEmitter:
 *
 *     'domain-lifecycle'   DomainLifecycleEvent   (after domainEventRegisterAny())
 *     'network-lifecycle'  NetworkLifecycleEvent  (after networkEventRegisterAny())
 *     'lifecycle'          either of the two
 *     'domain-device-added'           DomainDeviceEvent  (after domainEventRegisterAny(VIR_DOMAIN_EVENT_ID_DEVICE_ADDED))
 *     'domain-device-removed'         DomainDeviceEvent  (..._DEVICE_REMOVED)
 *     'domain-device-removal-failed'  DomainDeviceEvent  (..._DEVICE_REMOVAL_FAILED)
 *     'close'              CloseEvent: the daemon went away (virConnectRegisterCloseCallback)
 *     'reopen'             reopen() succeeded and the subscriptions were registered again
 *
 * While a subscription exists the connection keeps Node alive, like a listening socket; with
 * none, an open connection does not.
 */
import { EventEmitter, on } from 'events';
import { HostwireError, ValidationError } from '../errors';
import {
  libvirtAddon,
  type NativeAuth,
  type NativeConnection,
  type NativeCredential,
  type NativeDeviceEventKind,
  type NativeEvent,
} from '../native';
import {
  CLOSE_REASON,
  DOMAIN_EVENT,
  DOMAIN_EVENT_DETAIL,
  NETWORK_EVENT,
  VIR_CONNECT_LIST_DOMAINS_ACTIVE,
  VIR_CONNECT_LIST_DOMAINS_AUTOSTART,
  VIR_CONNECT_LIST_DOMAINS_INACTIVE,
  VIR_CONNECT_LIST_DOMAINS_NO_AUTOSTART,
  VIR_CONNECT_LIST_DOMAINS_OTHER,
  VIR_CONNECT_LIST_DOMAINS_PAUSED,
  VIR_CONNECT_LIST_DOMAINS_PERSISTENT,
  VIR_CONNECT_LIST_DOMAINS_RUNNING,
  VIR_CONNECT_LIST_DOMAINS_SHUTOFF,
  VIR_CONNECT_LIST_DOMAINS_TRANSIENT,
  VIR_CONNECT_LIST_NETWORKS_ACTIVE,
  VIR_CONNECT_LIST_NETWORKS_AUTOSTART,
  VIR_CONNECT_LIST_NETWORKS_INACTIVE,
  VIR_CONNECT_LIST_NETWORKS_NO_AUTOSTART,
  VIR_CONNECT_LIST_NETWORKS_PERSISTENT,
  VIR_CONNECT_LIST_NETWORKS_TRANSIENT,
  VIR_DOMAIN_DEFINE_VALIDATE,
  VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
  VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED,
  VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
  VIR_DOMAIN_EVENT_ID_LIFECYCLE,
  VIR_NETWORK_EVENT_ID_LIFECYCLE,
} from './constants';
import { DOMAIN_STATE, enumName } from './names';
import { Domain, type DomainInfo } from './domain';
import { call } from './errors';
import { Network, type NetworkInfo } from './network';
import { checkFlags, checkName, checkUint, checkUuid, checkXml } from './validate';

/** The URI used when none is given and LIBVIRT_DEFAULT_URI is unset. */
export const DEFAULT_URI = 'qemu:///system';

/** A credential libvirt asks for during open (virConnectCredential). */
export type Credential = NativeCredential;

/** Answers each credential with a string, or undefined to take its default / give up. */
export type AuthCallback = (creds: Credential[]) => (string | undefined)[] | Promise<(string | undefined)[]>;

export interface OpenOptions {
  /** Open read-only (VIR_CONNECT_RO). */
  readonly?: boolean;
  /**
   * For remote URIs (qemu+ssh://, qemu+tcp://) that ask for credentials: a username/password
   * pair (VIR_CRED_AUTHNAME/USERNAME and VIR_CRED_PASSPHRASE), or a callback that answers the
   * credential requests. Without it, a URI that needs credentials fails.
   */
  auth?: { username?: string; password?: string } | AuthCallback;
  /**
   * Every call of this connection, and of the networks and domains it returns, is made on the
   * JS thread instead of libuv's pool, its promise settled when the call returns: no hand-off
   * between threads (~0.2 ms a call here) and the pool never started, but the event loop waits
   * while libvirt works (a round trip to the daemon; a domain start: seconds). For processes
   * whose event loop serves nobody else meanwhile, like the CLI (as HandleOptions.inline is for
   * the kernel). An open whose `auth` is a function still runs on the pool: the JS thread
   * answers it. Default false.
   */
  inline?: boolean;
}

export interface DomainLifecycleEvent {
  kind: 'domain';
  name: string;
  uuid: string;
  /** 'STARTED', 'STOPPED', 'DEFINED' ... (VIR_DOMAIN_EVENT_*) */
  event: string;
  /** 'BOOTED', 'DESTROYED' ... (VIR_DOMAIN_EVENT_<EVENT>_*) */
  detail: string;
  eventNumber: number;
  detailNumber: number;
}

export interface NetworkLifecycleEvent {
  kind: 'network';
  name: string;
  uuid: string;
  /** 'DEFINED', 'UNDEFINED', 'STARTED', 'STOPPED' (VIR_NETWORK_EVENT_*) */
  event: string;
  detail: number;
  eventNumber: number;
}

export type LifecycleEvent = DomainLifecycleEvent | NetworkLifecycleEvent;

/**
 * A device of a running domain was hot-plugged, unplugged, or its unplug failed
 * (virConnectDomainEventDeviceAddedCallback, ...RemovedCallback, ...RemovalFailedCallback).
 * The device is named by its alias only: read the live XML for the rest (a NIC's MAC, its tap).
 */
export interface DomainDeviceEvent {
  kind: 'domain-device';
  /** 'DEVICE_ADDED', 'DEVICE_REMOVED' or 'DEVICE_REMOVAL_FAILED' (the VIR_DOMAIN_EVENT_ID_* it came from) */
  event: 'DEVICE_ADDED' | 'DEVICE_REMOVED' | 'DEVICE_REMOVAL_FAILED';
  /** The domain's name and UUID. */
  name: string;
  uuid: string;
  /** The device's alias in the live XML: <alias name='net1'/> -> 'net1'. */
  alias: string;
}

/** The domain event ids domainEventRegisterAny() takes, and what each emits. */
const DOMAIN_EVENT_IDS: ReadonlyMap<number, string> = new Map([
  [VIR_DOMAIN_EVENT_ID_LIFECYCLE, 'domain-lifecycle'],
  [VIR_DOMAIN_EVENT_ID_DEVICE_ADDED, 'domain-device-added'],
  [VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED, 'domain-device-removed'],
  [VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED, 'domain-device-removal-failed'],
]);

const DEVICE_EVENTS: Record<NativeDeviceEventKind, DomainDeviceEvent['event']> = {
  'domain-device-added': 'DEVICE_ADDED',
  'domain-device-removed': 'DEVICE_REMOVED',
  'domain-device-removal-failed': 'DEVICE_REMOVAL_FAILED',
};

export interface CloseEvent {
  /** 'ERROR', 'EOF', 'KEEPALIVE', 'CLIENT' (VIR_CONNECT_CLOSE_REASON_*) */
  reason: string;
  reasonNumber: number;
}

/** libvirt's version number (major * 1,000,000 + minor * 1,000 + release), split. */
export interface Version {
  major: number;
  minor: number;
  release: number;
  number: number;
}

function splitVersion(n: number): Version {
  return { major: Math.floor(n / 1_000_000), minor: Math.floor(n / 1000) % 1000, release: n % 1000, number: n };
}

/** The URI to open: the explicit one, then $LIBVIRT_DEFAULT_URI, then qemu:///system. */
export function resolveUri(uri?: string): string {
  if (uri !== undefined && uri !== '') return uri;
  const env = process.env.LIBVIRT_DEFAULT_URI;
  return env !== undefined && env !== '' ? env : DEFAULT_URI;
}

const NETWORK_LIST_FLAGS =
  VIR_CONNECT_LIST_NETWORKS_INACTIVE |
  VIR_CONNECT_LIST_NETWORKS_ACTIVE |
  VIR_CONNECT_LIST_NETWORKS_PERSISTENT |
  VIR_CONNECT_LIST_NETWORKS_TRANSIENT |
  VIR_CONNECT_LIST_NETWORKS_AUTOSTART |
  VIR_CONNECT_LIST_NETWORKS_NO_AUTOSTART;
const DOMAIN_LIST_FLAGS =
  VIR_CONNECT_LIST_DOMAINS_ACTIVE |
  VIR_CONNECT_LIST_DOMAINS_INACTIVE |
  VIR_CONNECT_LIST_DOMAINS_PERSISTENT |
  VIR_CONNECT_LIST_DOMAINS_TRANSIENT |
  VIR_CONNECT_LIST_DOMAINS_RUNNING |
  VIR_CONNECT_LIST_DOMAINS_PAUSED |
  VIR_CONNECT_LIST_DOMAINS_SHUTOFF |
  VIR_CONNECT_LIST_DOMAINS_OTHER |
  VIR_CONNECT_LIST_DOMAINS_AUTOSTART |
  VIR_CONNECT_LIST_DOMAINS_NO_AUTOSTART;

/**
 * One libvirt registration of an event id, shared by every subscription asking for that id: an
 * event is emitted once however many subscriptions (a PortWatcher's and the caller's own) want it.
 */
interface Registration {
  key: string;
  kind: 'domain' | 'network';
  eventID: number;
  /** The subscription ids using it. */
  users: Set<number>;
  /** libvirt's callback id (again after reopen()). */
  nativeId: Promise<number>;
}

function checkAuth(auth: OpenOptions['auth']): NativeAuth {
  if (auth === undefined) return null;
  if (typeof auth === 'function') return auth;
  if (typeof auth !== 'object' || auth === null)
    throw new ValidationError('EINVALIDARG', 'auth must be {username, password} or a function', 'auth');
  for (const k of ['username', 'password'] as const) {
    if (auth[k] !== undefined && typeof auth[k] !== 'string')
      throw new ValidationError('EINVALIDARG', `auth.${k} must be a string`, 'auth');
  }
  return { username: auth.username, password: auth.password };
}

export class Connection extends EventEmitter {
  /** The URI this connection was opened with (after resolveUri). */
  readonly uri: string;
  readonly options: Readonly<OpenOptions>;
  #native: NativeConnection | null;
  /** Our subscription ids (stable across reopen()) -> the registration they share. */
  readonly #subs = new Map<number, Registration>();
  /** The live registrations, by `kind:eventID`. */
  readonly #regs = new Map<string, Registration>();
  #nextSub = 1;

  private constructor(uri: string, options: OpenOptions) {
    super();
    this.uri = uri;
    this.options = options;
    this.#native = null;
  }

  /**
   * Opens a connection: the explicit URI, else $LIBVIRT_DEFAULT_URI, else qemu:///system.
   * Equivalent to: virsh -c URI [--readonly] (virConnectOpenAuth).
   */
  static async open(uri?: string, options: OpenOptions = {}): Promise<Connection> {
    if (uri !== undefined && typeof uri !== 'string') throw new ValidationError('EINVALIDARG', 'uri must be a string', 'uri');
    const resolved = resolveUri(uri);
    checkAuth(options.auth);
    if (options.inline !== undefined && typeof options.inline !== 'boolean')
      throw new ValidationError('EINVALIDARG', 'inline must be true or false', 'inline');
    const self = new Connection(resolved, { ...options });
    await self.#openNative();
    return self;
  }

  /**
   * Opens a native connection and makes it this one's. Events of a native connection that is no
   * longer this one's (one replaced by reopen()) are dropped.
   */
  async #openNative(): Promise<void> {
    const holder: { native?: NativeConnection; queued: NativeEvent[] } = { queued: [] };
    const emit = (ev: NativeEvent): void => {
      if (!holder.native) holder.queued.push(ev);
      else if (holder.native === this.#native) this.#dispatch(ev);
    };
    const auth = checkAuth(this.options.auth);
    const native = await call('open', () =>
      libvirtAddon().open(this.uri, this.options.readonly === true, emit, auth, this.options.inline === true),
    );
    holder.native = native;
    this.#native = native;
    for (const ev of holder.queued.splice(0)) if (this.#native === native) this.#dispatch(ev);
  }

  /** True once close() was called or the daemon went away. */
  get closed(): boolean {
    return this.#native === null;
  }

  #conn(): NativeConnection {
    if (!this.#native) throw new HostwireError('ECLOSED', `connection to ${this.uri} is closed`);
    return this.#native;
  }

  #dispatch(ev: NativeEvent): void {
    if (ev.kind === 'close') {
      const close: CloseEvent = { reason: enumName(CLOSE_REASON, ev.reason), reasonNumber: ev.reason };
      this.#native?.release();
      this.#native = null;
      this.emit('close', close);
      return;
    }
    if ('alias' in ev) {
      const out: DomainDeviceEvent = {
        kind: 'domain-device',
        event: DEVICE_EVENTS[ev.kind],
        name: ev.name,
        uuid: ev.uuid,
        alias: ev.alias,
      };
      this.emit(ev.kind, out);
      return;
    }
    if (ev.kind === 'domain-lifecycle') {
      const event = enumName(DOMAIN_EVENT, ev.event);
      const out: DomainLifecycleEvent = {
        kind: 'domain',
        name: ev.name,
        uuid: ev.uuid,
        event,
        detail: enumName(DOMAIN_EVENT_DETAIL[event] ?? [], ev.detail),
        eventNumber: ev.event,
        detailNumber: ev.detail,
      };
      this.emit('domain-lifecycle', out);
      this.emit('lifecycle', out);
    } else {
      const out: NetworkLifecycleEvent = {
        kind: 'network',
        name: ev.name,
        uuid: ev.uuid,
        event: enumName(NETWORK_EVENT, ev.event),
        detail: ev.detail,
        eventNumber: ev.event,
      };
      this.emit('network-lifecycle', out);
      this.emit('lifecycle', out);
    }
  }

  /**
   * Closes the connection: event subscriptions and the close callback are removed, then libvirt's
   * reference is dropped (virConnectClose, once no call in flight still uses it).
   * Equivalent to: virConnectClose.
   */
  async close(): Promise<void> {
    const n = this.#native;
    if (!n) return;
    this.#native = null;
    await call('close', () => n.close());
  }

  /**
   * Opens the same URI again with the same options after the daemon went away (or after close()),
   * and registers every event subscription again (same ids for the caller). Emits 'reopen'.
   */
  async reopen(): Promise<void> {
    const old = this.#native;
    this.#native = null;
    if (old) await call('close', () => old.close()).catch(() => undefined);
    await this.#openNative();
    const native = this.#conn();
    for (const reg of this.#regs.values()) {
      reg.nativeId = call('eventRegisterAny', () => native.subscribe(reg.kind, reg.eventID));
      await reg.nativeId;
    }
    this.emit('reopen');
  }

  /** Whether the connection still works. Equivalent to: virConnectIsAlive. */
  async isAlive(): Promise<boolean> {
    if (!this.#native) return false;
    const n = this.#native;
    return call('isAlive', () => n.isAlive());
  }

  /**
   * Starts keepalive probes: every `interval` seconds; after `count` unanswered ones the
   * connection closes (reason 'KEEPALIVE'). interval 0 disables them. Resolves false when the
   * remote peer does not answer keepalive; drivers without a remote end (test://) reject with
   * VIR_ERR_NO_SUPPORT. Equivalent to: virConnectSetKeepAlive.
   */
  async setKeepAlive(interval: number, count: number): Promise<boolean> {
    checkUint(interval, 'interval', 0, 0x7fffffff);
    checkUint(count, 'count');
    const n = this.#conn();
    return (await call('setKeepAlive', () => n.setKeepAlive(interval, count))) === 0;
  }

  /** Equivalent to: virsh hostname (virConnectGetHostname). */
  async getHostname(): Promise<string> {
    const n = this.#conn();
    return call('getHostname', () => n.getHostname());
  }

  /** The canonical URI of the connection. Equivalent to: virsh uri (virConnectGetURI). */
  async getURI(): Promise<string> {
    const n = this.#conn();
    return call('getURI', () => n.getURI());
  }

  /** The driver name ('QEMU', 'TEST' ...). Equivalent to: virConnectGetType. */
  async getType(): Promise<string> {
    const n = this.#conn();
    return call('getType', () => n.getType());
  }

  /** libvirt's version on the other end. Equivalent to: virsh version (virConnectGetLibVersion). */
  async getLibVersion(): Promise<Version> {
    const n = this.#conn();
    return splitVersion(await call('getLibVersion', () => n.getLibVersion()));
  }

  /** The hypervisor's version (QEMU's for qemu://). Equivalent to: virsh version (virConnectGetVersion). */
  async getVersion(): Promise<Version> {
    const n = this.#conn();
    return splitVersion(await call('getVersion', () => n.getVersion()));
  }

  /**
   * Active and inactive networks (0 = all; VIR_CONNECT_LIST_NETWORKS_* to filter).
   * Equivalent to: virsh net-list --all (virConnectListAllNetworks).
   */
  async listAllNetworks(flags = 0): Promise<NetworkInfo[]> {
    checkFlags(flags, NETWORK_LIST_FLAGS);
    const n = this.#conn();
    return call('listAllNetworks', () => n.listAllNetworks(flags));
  }

  /**
   * Active and inactive domains (0 = all; VIR_CONNECT_LIST_DOMAINS_* to filter).
   * Equivalent to: virsh list --all (virConnectListAllDomains).
   */
  async listAllDomains(flags = 0): Promise<DomainInfo[]> {
    checkFlags(flags, DOMAIN_LIST_FLAGS);
    const n = this.#conn();
    const rows = await call('listAllDomains', () => n.listAllDomains(flags));
    return rows.map((r) => ({ name: r.name, uuid: r.uuid, id: r.id, state: enumName(DOMAIN_STATE, r.state), persistent: r.persistent }));
  }

  /** Equivalent to: virNetworkLookupByName. */
  async networkLookupByName(name: string): Promise<Network> {
    checkName(name);
    const n = this.#conn();
    return new Network(await call('networkLookupByName', () => n.networkLookupByName(name)));
  }

  /** Equivalent to: virNetworkLookupByUUIDString. */
  async networkLookupByUUIDString(uuid: string): Promise<Network> {
    checkUuid(uuid);
    const n = this.#conn();
    return new Network(await call('networkLookupByUUIDString', () => n.networkLookupByUUIDString(uuid)));
  }

  /** Defines (persistently, not started) a network. Equivalent to: virsh net-define FILE (virNetworkDefineXML). */
  async networkDefineXML(xml: string): Promise<Network> {
    checkXml(xml, ['network']);
    const n = this.#conn();
    return new Network(await call('networkDefineXML', () => n.networkDefineXML(xml)));
  }

  /** Equivalent to: virDomainLookupByName. */
  async domainLookupByName(name: string): Promise<Domain> {
    checkName(name);
    const n = this.#conn();
    return new Domain(await call('domainLookupByName', () => n.domainLookupByName(name)));
  }

  /** Equivalent to: virDomainLookupByUUIDString. */
  async domainLookupByUUIDString(uuid: string): Promise<Domain> {
    checkUuid(uuid);
    const n = this.#conn();
    return new Domain(await call('domainLookupByUUIDString', () => n.domainLookupByUUIDString(uuid)));
  }

  /** Equivalent to: virDomainLookupByID. */
  async domainLookupByID(id: number): Promise<Domain> {
    checkUint(id, 'id', 0, 0x7fffffff);
    const n = this.#conn();
    return new Domain(await call('domainLookupByID', () => n.domainLookupByID(id)));
  }

  /** Defines (persistently, not started) a domain. Equivalent to: virsh define FILE (virDomainDefineXMLFlags). */
  async domainDefineXML(xml: string, flags = 0): Promise<Domain> {
    checkXml(xml, ['domain']);
    checkFlags(flags, VIR_DOMAIN_DEFINE_VALIDATE);
    const n = this.#conn();
    return new Domain(await call('domainDefineXML', () => n.domainDefineXML(xml, flags)));
  }

  async #register(kind: 'domain' | 'network', eventID: number): Promise<number> {
    const n = this.#conn();
    const key = `${kind}:${eventID}`;
    let reg = this.#regs.get(key);
    if (!reg) {
      const fresh: Registration = {
        key,
        kind,
        eventID,
        users: new Set(),
        nativeId: call('eventRegisterAny', () => n.subscribe(kind, eventID)),
      };
      fresh.nativeId.catch(() => this.#regs.get(key) === fresh && this.#regs.delete(key));
      this.#regs.set(key, (reg = fresh));
    }
    const id = this.#nextSub++;
    reg.users.add(id); // before the wait: a sharer's deregistration meanwhile keeps the registration
    try {
      await reg.nativeId;
    } catch (e) {
      reg.users.delete(id);
      throw e;
    }
    this.#subs.set(id, reg);
    return id;
  }

  async #deregister(id: number, kind: 'domain' | 'network'): Promise<void> {
    const reg = this.#subs.get(id);
    if (!reg || reg.kind !== kind) throw new HostwireError('EINVALIDARG', `no ${kind} event subscription ${id}`);
    this.#subs.delete(id);
    reg.users.delete(id);
    if (reg.users.size > 0) return;
    this.#regs.delete(reg.key);
    const nativeId = await reg.nativeId;
    const n = this.#native;
    if (n) await call('eventDeregisterAny', () => n.unsubscribe(nativeId));
  }

  /**
   * Subscribes to one kind of domain event; resolves a subscription id (kept across reopen()).
   * VIR_DOMAIN_EVENT_ID_LIFECYCLE (the default): 'domain-lifecycle' and 'lifecycle' on this
   * emitter; VIR_DOMAIN_EVENT_ID_DEVICE_ADDED, _DEVICE_REMOVED, _DEVICE_REMOVAL_FAILED:
   * 'domain-device-added', 'domain-device-removed', 'domain-device-removal-failed'
   * (DomainDeviceEvent). Subscriptions to the same id share one libvirt registration, so each
   * event is emitted once; the registration goes when its last subscription is deregistered.
   * Equivalent to: virConnectDomainEventRegisterAny(conn, NULL, eventID, ...),
   * virsh event --all --loop (lifecycle; --event device-added ...).
   */
  async domainEventRegisterAny(eventID = VIR_DOMAIN_EVENT_ID_LIFECYCLE): Promise<number> {
    if (!DOMAIN_EVENT_IDS.has(eventID))
      throw new ValidationError(
        'EINVALIDARG',
        `eventID ${String(eventID)} is not supported (VIR_DOMAIN_EVENT_ID_LIFECYCLE, _DEVICE_ADDED, _DEVICE_REMOVED, _DEVICE_REMOVAL_FAILED)`,
        'eventID',
      );
    return this.#register('domain', eventID);
  }

  /** Equivalent to: virConnectDomainEventDeregisterAny. */
  domainEventDeregisterAny(id: number): Promise<void> {
    return this.#deregister(id, 'domain');
  }

  /**
   * Subscribes to network lifecycle events ('network-lifecycle' and 'lifecycle');
   * resolves a subscription id. Equivalent to: virConnectNetworkEventRegisterAny(LIFECYCLE),
   * virsh net-event --all --loop.
   */
  async networkEventRegisterAny(eventID = VIR_NETWORK_EVENT_ID_LIFECYCLE): Promise<number> {
    if (eventID !== VIR_NETWORK_EVENT_ID_LIFECYCLE)
      throw new ValidationError('EINVALIDARG', 'only VIR_NETWORK_EVENT_ID_LIFECYCLE is supported', 'eventID');
    return this.#register('network', eventID);
  }

  /** Equivalent to: virConnectNetworkEventDeregisterAny. */
  networkEventDeregisterAny(id: number): Promise<void> {
    return this.#deregister(id, 'network');
  }

  /**
   * Lifecycle events (domain and network) as an async iterator. The iterator subscribes itself
   * (domainEventRegisterAny() and networkEventRegisterAny(), sharing any registration the caller
   * has) when iteration starts, and its subscriptions end with it: when `signal` aborts (it
   * returns), when the loop is left by break, return or throw, and when the connection closes (it
   * throws ECLOSED with the close reason). With no other subscription left, the connection no
   * longer keeps Node alive. Equivalent to: virsh event --all --loop (the iteration of it).
   */
  async *lifecycleEvents(signal?: AbortSignal): AsyncGenerator<LifecycleEvent> {
    if (signal?.aborted) return;
    if (!this.#native) throw new HostwireError('ECLOSED', `connection to ${this.uri} is closed`);
    const stop = new AbortController();
    const abort = (): void => stop.abort();
    let closed: CloseEvent | undefined;
    const onClose = (ev: CloseEvent): void => {
      closed = ev;
      stop.abort();
    };
    signal?.addEventListener('abort', abort, { once: true });
    this.once('close', onClose);
    // Listening before subscribing: nothing emitted in between is lost.
    const events = on(this, 'lifecycle', { signal: stop.signal });
    const subs: { kind: 'domain' | 'network'; id: number }[] = [];
    try {
      subs.push({ kind: 'domain', id: await this.domainEventRegisterAny() });
      subs.push({ kind: 'network', id: await this.networkEventRegisterAny() });
      for await (const [ev] of events) yield ev as LifecycleEvent;
    } catch (e) {
      if ((e as { name?: string }).name !== 'AbortError') throw e;
    } finally {
      stop.abort(); // ends `events` (its listener goes) if the loop was left another way
      signal?.removeEventListener('abort', abort);
      this.removeListener('close', onClose);
      for (const s of subs) await this.#deregister(s.id, s.kind).catch(() => undefined);
    }
    if (closed) throw new HostwireError('ECLOSED', `the connection to ${this.uri} closed (${closed.reason})`);
  }
}
