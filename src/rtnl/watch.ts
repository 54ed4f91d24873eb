/**
 * A watcher of one namespace's links, addresses, routes and neighbours: list, then watch, and
 * repair every gap. Like a Kubernetes informer, it hands its consumer only differences, and its
 * cache is always what replaying its events gives.
 *
 * How it stays exact. The watcher's own socket joins the multicast groups first, then dumps on
 * that same socket. The kernel queues dump parts and notifications on one receive queue in the
 * order it made them, so they are applied in that order: a dump entry says "this is the object
 * now", a notification says "this changed now". When a dump ends, an object in the cache that
 * the dump did not list and no notification touched meanwhile is gone. When the kernel drops
 * notifications (ENOBUFS: the receive queue overflowed), the watcher dumps again in the same way
 * and emits exactly the difference, each event marked `resync: true`, and counts the resyncs.
 *
 * The kernel removes IPv4 routes of a link that goes down or away without a notification of
 * its own; the watcher removes them from its cache at that point too, with delete events.
 */
import { EventEmitter } from 'events';
import {
  RTM_DELADDR,
  RTM_DELLINK,
  RTM_DELNEIGH,
  RTM_DELROUTE,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWNEIGH,
  RTM_NEWROUTE,
  RTNLGRP_IPV4_IFADDR,
  RTNLGRP_IPV4_ROUTE,
  RTNLGRP_IPV6_IFADDR,
  RTNLGRP_IPV6_ROUTE,
  RTNLGRP_LINK,
  RTNLGRP_NEIGH,
} from './constants';
import { HostwireError } from '../errors';
import { openSocket, type HandleOptions } from './handle';
import { decodeLink, type Link } from './link';
import { addressDump, decodeAddress, type Address } from './addr';
import { decodeRoute, routeDump, type Route } from './route';
import { decodeNeighbour, neighbourDump, type Neighbour } from './neigh';
import { linkDump, NO_CONTEXT, type Request } from './request';
import type { NetlinkSocket } from './socket';
import { DecodeError, type NetlinkMessage } from './wire';

export type WatchObject = 'link' | 'addr' | 'route' | 'neigh';
export const WATCH_OBJECTS: readonly WatchObject[] = ['link', 'addr', 'route', 'neigh'];

export interface StateOf {
  link: Link;
  addr: Address;
  route: Route;
  neigh: Neighbour;
}

export interface WatchEvent<O extends WatchObject = WatchObject> {
  event: 'add' | 'change' | 'delete';
  object: O;
  /** The object's key in the cache: ifindex for links; family, link, address ... for the rest. */
  key: string;
  /** The object's decoded state (for a delete, its last state). */
  state: StateOf[O];
  /** Set on events a resync made (after the kernel dropped notifications). */
  resync?: true;
}

export interface WatchOptions extends Pick<HandleOptions, 'netns' | 'transport'> {
  /** What to watch (default: all four). */
  objects?: WatchObject[];
  /** The socket's receive buffer in bytes (default 4 MiB). A small one forces gaps, for tests. */
  rcvbuf?: number;
  /** Emit the initial snapshot as 'add' events too (default false: it is only cached). */
  emitInitial?: boolean;
}

interface Kind<O extends WatchObject> {
  groups: number[];
  newType: number;
  delType: number;
  dump(): Request[];
  decode(m: NetlinkMessage): StateOf[O];
  key(s: StateOf[O]): string;
}

const KINDS: { [O in WatchObject]: Kind<O> } = {
  link: {
    groups: [RTNLGRP_LINK],
    newType: RTM_NEWLINK,
    delType: RTM_DELLINK,
    dump: () => [linkDump()],
    decode: (m) => decodeLink(m),
    key: (l) => String(l.index),
  },
  addr: {
    groups: [RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR],
    newType: RTM_NEWADDR,
    delType: RTM_DELADDR,
    dump: () => [addressDump()],
    decode: (m) => decodeAddress(m),
    key: (a) => `${a.family}|${a.index}|${a.address}/${a.prefixlen}${a.peer ? `|${a.peer}` : ''}`,
  },
  route: {
    groups: [RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE],
    newType: RTM_NEWROUTE,
    delType: RTM_DELROUTE,
    dump: () => [routeDump(4), routeDump(6)],
    decode: (m) => decodeRoute(m),
    key: (r) => `${r.family}|${r.table}|${r.type}|${r.dst}|${r.priority ?? 0}${r.family === 6 ? `|${r.gateway ?? ''}|${r.oif ?? ''}` : ''}`,
  },
  neigh: {
    groups: [RTNLGRP_NEIGH],
    newType: RTM_NEWNEIGH,
    delType: RTM_DELNEIGH,
    dump: () => [neighbourDump()],
    decode: (m) => decodeNeighbour(m),
    key: (n) => `${n.family}|${n.index}|${n.dst ?? ''}|${n.family === 'bridge' ? `${n.lladdr}|${n.vlan ?? ''}|${n.master ?? ''}` : ''}`,
  },
};

/** A dump that failed only because the kernel was busy: ENOBUFS (queue full) or EINTR (interrupted again and again). */
const isGap = (e: unknown): boolean => [105, 4].includes((e as { errno?: number }).errno ?? 0);

/** What a sync of one object kind has seen so far. */
interface Sync {
  object: WatchObject;
  resync: boolean;
  seen: Set<string>;
  touched: Set<string>;
  /**
   * The dump's first part has arrived. Notifications before it were queued before the dump began
   * (after a gap, stale ones still ahead of it in the queue): they are older than anything the
   * dump says, so they do not count as touched meanwhile.
   */
  started: boolean;
}

/**
 * Watches a namespace. `await Watcher.open(options)` resolves once the initial snapshot is in
 * the cache; then 'event' (WatchEvent), 'resync' (count) and 'error' are emitted, and the
 * watcher is an async iterable of its events. The event loop is kept alive only while it has
 * 'event' listeners or an iterator is being read.
 * Equivalent to: ip monitor [link|address|route|neigh], with its gaps repaired
 */
export class Watcher extends EventEmitter {
  readonly objects: readonly WatchObject[];
  /** The state as the events so far describe it: per object kind, key -> state. */
  readonly cache: { [O in WatchObject]: Map<string, StateOf[O]> } = {
    link: new Map(),
    addr: new Map(),
    route: new Map(),
    neigh: new Map(),
  };
  /** Resyncs done after the kernel dropped notifications. */
  resyncs = 0;
  private readonly socket: NetlinkSocket;
  private sync?: Sync;
  private gap = false;
  private syncing?: Promise<void>;
  private readers = 0;
  private closed = false;
  private readonly emitInitial: boolean;
  /** With emitInitial: the snapshot's add events, handed to the first listener or iterator. */
  private initial?: WatchEvent[];

  private constructor(options: WatchOptions) {
    super();
    this.objects = [...new Set(options.objects ?? WATCH_OBJECTS)];
    for (const o of this.objects)
      if (!WATCH_OBJECTS.includes(o))
        throw new HostwireError('EINVALIDOPTION', `objects: '${String(o)}' is not one of ${WATCH_OBJECTS.join(', ')}`);
    this.emitInitial = !!options.emitInitial;
    if (this.emitInitial) this.initial = [];
    this.socket = openSocket({ netns: options.netns, transport: options.transport, rcvbuf: options.rcvbuf ?? 4 << 20, window: 4 });
    this.socket.on('notification', (m) => this.notification(m));
    this.socket.on('error', (e) => {
      if ((e as { errno?: number }).errno === 105) this.lost();
      else if (this.listenerCount('error')) this.emit('error', e);
    });
    // 'newListener' comes before the listener is added: hold now; let go when the last one leaves.
    this.on('newListener', (ev) => {
      if (ev !== 'event' || this.closed) return;
      this.socket.hold(true);
      const first = this.initial;
      this.initial = undefined;
      // After the listener is in place: the snapshot first, ahead of anything newer.
      if (first?.length) queueMicrotask(() => first.forEach((e) => this.emit('event', e)));
    });
    this.on('removeListener', (ev) => ev === 'event' && this.updateHold());
  }

  /**
   * Joins the groups, takes the initial snapshot and resolves with the watcher, synced.
   * Equivalent to: ip monitor (after ip link show, ip addr show, ip route show, ip neigh show)
   */
  static async open(options: WatchOptions = {}): Promise<Watcher> {
    const w = new Watcher(options);
    try {
      for (const o of w.objects) for (const g of KINDS[o].groups) w.socket.addMembership(g);
      await w.resync(false);
      if (!w.emitInitial) w.initial = undefined;
      return w;
    } catch (e) {
      w.close();
      throw e;
    }
  }

  /** Stops watching; the socket (and the namespace it holds) is released. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
    this.emit('close');
  }

  private updateHold(): void {
    if (!this.closed) this.socket.hold(this.listenerCount('event') > 0 || this.readers > 0);
  }

  /** The kernel dropped notifications: dump again, now or after the sync under way. */
  private lost(): void {
    this.gap = true;
    if (!this.syncing) void this.resync(true).catch((e) => this.listenerCount('error') && this.emit('error', e));
  }

  /** Dumps every watched kind, again while gaps keep coming; `marked`: its events are a resync's. */
  private resync(marked: boolean): Promise<void> {
    let finished = false;
    const run = async () => {
      try {
        do {
          this.gap = false;
          const whole = await this.pass(marked);
          if (marked && whole) this.emit('resync', ++this.resyncs);
          // The first snapshot stays quiet (unmarked) until one pass is whole.
          if (whole) marked = true;
        } while (this.gap && !this.closed);
      } finally {
        // In the same turn as the last look at `gap`: a drop reported from now on starts a new sync.
        this.syncing = undefined;
        finished = true;
      }
    };
    const p = run();
    if (!finished) this.syncing = p;
    return p;
  }

  /**
   * One dump of every watched kind on the watcher's socket, in order with notifications. False
   * when the kernel refused a dump: it could not start one with our queue full (ENOBUFS), or
   * changes kept interrupting it (EINTR). That is one more gap: the caller dumps everything again.
   */
  private async pass(marked: boolean): Promise<boolean> {
    for (const object of this.objects) {
      for (const req of KINDS[object].dump()) {
        const sync: Sync = { object, resync: marked, seen: new Set(), touched: new Set(), started: false };
        this.sync = sync;
        try {
          await new Promise<void>((resolve, reject) =>
            this.socket.send(
              req.encode(NO_CONTEXT),
              req.op,
              true,
              (err) => (err ? reject(err) : resolve()),
              (m) => this.dumped(sync, m),
            ),
          );
        } catch (e) {
          if (!isGap(e) || this.closed) throw e;
          this.gap = true;
          return false;
        } finally {
          this.sync = undefined;
        }
        this.sweep(sync, req);
      }
    }
    return true;
  }

  private decode<O extends WatchObject>(object: O, m: NetlinkMessage): StateOf[O] | undefined {
    try {
      return KINDS[object].decode(m) as StateOf[O];
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      if (this.listenerCount('error')) this.emit('error', e);
      return undefined;
    }
  }

  /** A part of the dump under way: the object as it is now. */
  private dumped(sync: Sync, m: NetlinkMessage): void {
    sync.started = true;
    const k = KINDS[sync.object];
    if (m.type !== k.newType) return;
    const state = this.decode(sync.object, m);
    if (!state) return;
    const key = k.key(state as never);
    sync.seen.add(key);
    this.put(sync.object, key, state, sync.resync, !sync.resync && !this.emitInitial);
  }

  /** After a dump of one kind: what the cache has that neither the dump nor a notification saw is gone. */
  private sweep(sync: Sync, req: Request): void {
    const cache = this.cache[sync.object] as Map<string, StateOf[WatchObject]>;
    // A route dump covers one family: sweep only that family.
    const family = sync.object === 'route' ? (req.op === 'route show' && req.encode(NO_CONTEXT)[16] === 10 ? 6 : 4) : undefined;
    for (const [key, state] of [...cache]) {
      if (sync.seen.has(key) || sync.touched.has(key)) continue;
      if (family !== undefined && (state as Route).family !== family) continue;
      cache.delete(key);
      this.send({ event: 'delete', object: sync.object, key, state, ...(sync.resync ? { resync: true as const } : {}) });
    }
  }

  private notification(m: NetlinkMessage): void {
    for (const object of this.objects) {
      const k = KINDS[object];
      if (m.type !== k.newType && m.type !== k.delType) continue;
      const state = this.decode(object, m);
      if (!state) return;
      const key = k.key(state as never);
      if (this.sync?.object === object && this.sync.started) this.sync.touched.add(key);
      if (m.type === k.newType) this.put(object, key, state, false, false);
      else this.remove(object, key, state);
      if (object === 'link') this.linkRoutes(state as Link, m.type === k.delType);
      return;
    }
  }

  /** IPv4 routes through a link that went down or away are gone, though no notification says so. */
  private linkRoutes(link: Link, deleted: boolean): void {
    if (!this.objects.includes('route') || (!deleted && link.up)) return;
    for (const [key, r] of [...this.cache.route]) if (r.family === 4 && r.oif === link.index && r.type === 1) this.remove('route', key, r);
  }

  private put<O extends WatchObject>(object: O, key: string, state: StateOf[O], resync: boolean, quiet: boolean): void {
    const cache = this.cache[object] as Map<string, StateOf[O]>;
    const before = cache.get(key);
    cache.set(key, state);
    if (quiet) return;
    if (before && JSON.stringify(before) === JSON.stringify(state)) return;
    this.send({ event: before ? 'change' : 'add', object, key, state, ...(resync ? { resync: true as const } : {}) });
  }

  private remove<O extends WatchObject>(object: O, key: string, state: StateOf[O]): void {
    const cache = this.cache[object] as Map<string, StateOf[O]>;
    const before = cache.get(key);
    if (!cache.delete(key)) return;
    this.send({ event: 'delete', object, key, state: before ?? state });
  }

  private send(ev: WatchEvent): void {
    if (this.initial) this.initial.push(ev);
    else this.emit('event', ev);
  }

  /** The events from now on; breaking out of the loop closes the watcher. */
  [Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    const queue: WatchEvent[] = [];
    let wake: (() => void) | undefined;
    const onEvent = (ev: WatchEvent) => {
      queue.push(ev);
      wake?.();
    };
    const onClose = () => wake?.();
    this.on('event', onEvent);
    this.on('close', onClose);
    this.readers++;
    this.updateHold();
    const stop = () => {
      this.off('event', onEvent);
      this.off('close', onClose);
      this.readers--;
      this.close();
    };
    return {
      next: async () => {
        while (!queue.length && !this.closed) await new Promise<void>((r) => (wake = r));
        wake = undefined;
        if (queue.length) return { value: queue.shift() as WatchEvent, done: false };
        stop();
        return { value: undefined, done: true };
      },
      return: async () => {
        stop();
        return { value: undefined, done: true };
      },
    };
  }
}
