/**
 * A Handle owns one rtnetlink socket in one network namespace (the current one, or a named
 * one, like `ip -n NS`), and carries every verb. Each verb builds its request with the one
 * builder of its operation (request.ts, addr.ts, route.ts), so all input is checked before
 * anything is sent, then sends it. Requests are pipelined; a handle does not keep the event loop
 * alive while idle. Module-level helpers in index.ts use a default handle.
 */
import * as fs from 'fs';
import { SyscallError, ValidationError } from '../errors';
import { kernelAddon, type NativeTunWorker, type TunResultNative, type TunSpecNative } from '../native';
import {
  IFF_MULTI_QUEUE,
  IFF_NO_PI,
  IFF_TAP,
  IFF_VNET_HDR,
  NETNS_DIR,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWNEIGH,
  RTM_NEWROUTE,
} from './constants';
import { NetlinkError } from './errors';
import { DEFAULT_WINDOW, NetlinkSocket, SEND_REQUESTS, readRecords, type ReplyCallback, type TransportFactory } from './socket';
import { decodeLink, decodeLinkBrief, type Link } from './link';
import type { BridgeOptions } from './kinds/bridge';
import type { VethOptions } from './kinds/veth';
import { tunSpec, type TapOptions } from './kinds/tunspec';
import { TapQueue, type TapDevice } from './tap';
import { checkDev, checkIfName, checkNetnsName } from './validate';
import {
  NO_CONTEXT,
  isMarked,
  linkCreate,
  linkDelete,
  linkDeleteGroup,
  linkDump,
  linkGet,
  linkSet,
  type EncodeContext,
  type LinkChange,
  type LinkCommon,
  type Request,
} from './request';
import { addressAdd, addressDelete, addressDump, decodeAddress, type Address, type AddressSpec } from './addr';
import { RT_TABLE_MAIN, decodeRoute, routeAdd, routeDelete, routeDump, type Route, type RouteSpec } from './route';
import { decodeNeighbour, neighbourDump, neighbourRequest, type NeighVerb, type Neighbour, type NeighbourSpec } from './neigh';
import {
  checkRate,
  classDump,
  decodeTc,
  htbClass,
  htbQdisc,
  ifbName,
  ingressQdisc,
  qdiscDelete,
  qdiscDump,
  rateOf,
  redirectFilter,
  RTM_NEWQDISC,
  RTM_NEWTCLASS,
  TC,
  type Bandwidth,
} from './qos';
import { DecodeError, type NetlinkMessage } from './wire';

export { NETNS_DIR };
export type { LinkChange, VethOptions };

export interface HandleOptions {
  /** Work in the named namespace (/run/netns/NAME), like `ip -n NAME`. */
  netns?: string;
  /** Most requests unanswered at once (default 1,024: sixteen sends of 64, see socket.ts). */
  window?: number;
  /** Receive buffer in bytes (default: sized for the window). */
  rcvbuf?: number;
  /** Replaces the kernel socket (see testing.ts: fakeTransport). */
  transport?: TransportFactory;
  /**
   * A lone request or dump made while nothing else is in flight is sent, and its answer read,
   * on the JS thread instead of the socket's own thread (see SocketOptions.inline): a round
   * trip without a hand-off between threads (about half of one here), but the kernel's work
   * for it (a set-master: up to a few hundred microseconds; a group delete: as long as the
   * deletion; a dump of thousands of links: milliseconds) then holds the event loop. For
   * processes whose event loop serves nobody else, like the CLI and its `batch -` stream.
   * Default false.
   */
  inline?: boolean;
  /**
   * Called for each message of a dump that does not decode (the rest of the dump is still
   * returned). Default: process.emitWarning.
   */
  onDecodeError?: (err: DecodeError) => void;
}

export interface LinkFilter {
  /** Only links of this kind (IFLA_INFO_KIND), filtered by the kernel. */
  kind?: string;
  /** Only ports of this master, filtered by the kernel. */
  master?: string | number;
  /** Only this link. */
  name?: string;
  /** Only links that are administratively up (ip link show up). */
  up?: boolean;
  /** Only links in this operational state ('UP', 'DOWN' ...). */
  operstate?: string;
  /** Only links that carry hostwire's mark (OWNER_MARK in IFLA_IFALIAS). */
  owned?: boolean;
}

/** Opens /run/netns/NAME for IFLA_NET_NS_FD; the fd is closed by the caller. */
export function openNetnsFd(name: string): number {
  checkNetnsName(name);
  try {
    return fs.openSync(`${NETNS_DIR}/${name}`, 'r');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new NetlinkError(
      err.errno ? -err.errno : 2,
      `open netns ${name}`,
      err.code === 'ENOENT' ? `no namespace named '${name}'` : err.message,
    );
  }
}

/** The default receive buffer: room for one send's replies (at most `window`) of a few KiB each, at least 4 MiB. */
export const rcvbufFor = (window: number) => Math.max(4 << 20, Math.min(window, SEND_REQUESTS) * 16 * 1024);

/**
 * An rtnetlink socket in the namespace the options name (the current one by default), on the
 * addon's own I/O thread, or on options.transport.
 */
export function openSocket(
  options: Pick<HandleOptions, 'netns' | 'window' | 'rcvbuf' | 'transport' | 'inline'> & { nsPath?: string } = {},
): NetlinkSocket {
  const netns = options.netns === undefined ? undefined : checkNetnsName(options.netns);
  const window = options.window ?? DEFAULT_WINDOW;
  const factory: TransportFactory =
    options.transport ??
    ((sink) => {
      const { NlSocket } = kernelAddon();
      try {
        return new NlSocket(
          {
            netns: options.nsPath ?? (netns ? `${NETNS_DIR}/${netns}` : undefined),
            rcvbuf: options.rcvbuf ?? rcvbufFor(window),
            sndbuf: 1 << 20,
            extAck: true,
            capAck: true,
            strictCheck: true,
            inline: options.inline ?? false,
          },
          (records) => readRecords(records, sink),
        );
      } catch (e) {
        const n = e as { errno?: number; syscall?: string; message?: string };
        const what = n.syscall === 'setns' && netns ? `open netns ${netns}` : `open rtnetlink socket`;
        throw new NetlinkError(n.errno ?? 5, what, n.errno === 2 && netns ? `no namespace named '${netns}'` : n.message);
      }
    });
  return new NetlinkSocket(factory, { window, inline: options.inline });
}

/** Messages of a dump decoded between two yields to the event loop. */
const DECODE_SLICE = 256;

/** Runs of deletions at least this long use the batched unregister (deleteLinks). */
export const GROUP_DELETE_MIN = 4;

export class Handle {
  readonly netns?: string;
  readonly socket: NetlinkSocket;
  private worker?: NativeTunWorker;
  private readonly onDecodeError: (err: DecodeError) => void;
  /**
   * The namespace, held open from the start: everything the handle does later (its socket, its
   * tun worker, made on first use) happens in that namespace even after its name is deleted
   * (`ip netns del`), and a Handle opened by the name afterwards gets ENOENT. The namespace dies
   * when its last user, this handle among them, closes.
   */
  private readonly nsFd?: number;
  private closedNs = false;

  constructor(options: HandleOptions = {}) {
    if (options.inline !== undefined && typeof options.inline !== 'boolean')
      throw new ValidationError('EINVALIDOPTION', 'inline: true or false', 'inline');
    if (options.netns !== undefined) this.netns = checkNetnsName(options.netns);
    const window = options.window ?? DEFAULT_WINDOW;
    this.onDecodeError = options.onDecodeError ?? ((e) => process.emitWarning(e));
    if (this.netns !== undefined && !options.transport) this.nsFd = openNetnsFd(this.netns);
    try {
      this.socket = openSocket({ ...options, window, nsPath: this.nsPath() });
    } catch (e) {
      if (this.nsFd !== undefined) fs.closeSync(this.nsFd);
      throw e;
    }
  }

  /** Where the handle's namespace is, for the addon's threads to enter: its held fd. */
  private nsPath(): string | undefined {
    return this.nsFd !== undefined ? `/proc/self/fd/${this.nsFd}` : undefined;
  }

  /** Closes the socket and the tun worker; requests still waiting fail with EBADF. */
  close(): void {
    this.socket.close();
    this.worker?.close();
    if (this.nsFd !== undefined && !this.closedNs) {
      this.closedNs = true;
      fs.closeSync(this.nsFd);
    }
  }

  /**
   * The addon's thread that makes tun/tap devices in this handle's namespace, started on first
   * use: it enters the namespace once, so a single createTap costs a wake-up, not a thread.
   */
  private tunWorker(): NativeTunWorker {
    return (this.worker ??= new (kernelAddon().TunWorker)(this.nsPath() ?? null));
  }

  /**
   * Sends a built request: resolves the names it needs (one GETLINK each), opens the namespaces
   * it names, encodes it and settles with the kernel's reply messages. With nothing to resolve
   * the request is queued synchronously, so call order is wire order.
   */
  async send(req: Request, known?: (name: string) => number | undefined): Promise<NetlinkMessage[]> {
    const resolved = new Map<string, number>();
    for (const n of req.needs) if (known?.(n) === undefined && !resolved.has(n)) resolved.set(n, await this.indexOf(n));
    const fds = new Map<string, number>();
    try {
      for (const ns of req.netns) if (!fds.has(ns)) fds.set(ns, openNetnsFd(ns));
      const ctx: EncodeContext =
        resolved.size || fds.size || known
          ? {
              known: (n) => known?.(n) ?? resolved.get(n),
              index: (n) => known?.(n) ?? resolved.get(n) ?? NO_CONTEXT.index(n),
              netnsFd: (n) => fds.get(n) ?? NO_CONTEXT.netnsFd(n),
            }
          : NO_CONTEXT;
      return await this.socket.request(req.encode(ctx), req.op, req.dump);
    } finally {
      for (const fd of fds.values()) fs.closeSync(fd);
    }
  }

  /**
   * Encodes a request with the given context and queues it at once (call order is wire order);
   * `cb` gets the kernel's answer and `tag` (one callback may serve many requests). No promise
   * per request: for pipelines such as runBatch. The caller resolves what the request needs
   * (`needs`, `netns`) through `ctx`.
   */
  queue(req: Request, ctx: EncodeContext, cb: ReplyCallback, tag = 0): void {
    this.socket.send(req.encode(ctx), req, req.dump, cb, undefined, tag);
  }

  /**
   * Decodes each message of a dump; one that does not decode is reported, not fatal. Yields to
   * the event loop every DECODE_SLICE messages, so a dump of thousands never stalls it.
   */
  private async decodeEach<T>(msgs: NetlinkMessage[], type: number, decode: (m: NetlinkMessage) => T): Promise<T[]> {
    const out: T[] = [];
    for (let i = 0; i < msgs.length; i++) {
      if (i % DECODE_SLICE === DECODE_SLICE - 1) await new Promise<void>((r) => setImmediate(r));
      const m = msgs[i];
      if (m.type !== type) continue;
      try {
        out.push(decode(m));
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e;
        this.onDecodeError(e);
      }
    }
    return out;
  }

  /**
   * Lists links, filtered by kind and master in the kernel (strict-checked dump).
   * Equivalent to: ip link show [type KIND] [master DEV] [up]
   */
  async listLinks(filter: LinkFilter = {}): Promise<Link[]> {
    if (filter.name !== undefined) {
      try {
        return this.matches(filter, [await this.getLink(filter.name)]);
      } catch (e) {
        if ((e as NetlinkError).code === 'ENODEV') return [];
        throw e;
      }
    }
    const msgs = await this.send(linkDump({ master: filter.master, kind: filter.kind }));
    return this.matches(filter, await this.decodeEach(msgs, RTM_NEWLINK, decodeLink));
  }

  // The kernel ignores a kind filter for kinds whose module is not loaded: filter here too.
  private matches(filter: LinkFilter, links: Link[]): Link[] {
    return links.filter(
      (l) =>
        (filter.kind === undefined || l.kind === filter.kind) &&
        (filter.up === undefined || l.up === filter.up) &&
        (filter.operstate === undefined || l.operstate === filter.operstate.toUpperCase()) &&
        (filter.owned === undefined || isMarked(l.alias) === filter.owned),
    );
  }

  /**
   * One link by name or index, without dumping the others (RTM_GETLINK with IFLA_IFNAME).
   * Equivalent to: ip link show DEV
   */
  async getLink(dev: string | number): Promise<Link> {
    const req = linkGet(dev);
    const m = (await this.send(req)).find((x) => x.type === RTM_NEWLINK);
    if (!m) throw new NetlinkError(19, req.op, `no reply for ${dev}`);
    return decodeLink(m);
  }

  /** The index of a link given by name or index (an index is returned as is). */
  async indexOf(dev: string | number): Promise<number> {
    checkDev(dev);
    return typeof dev === 'number' ? dev : (await this.getLink(dev)).index;
  }

  /**
   * Creates a link of any kind registered with create support (bridge, veth, and kinds added
   * with registerKind), its common fields and kind options in one message.
   * Equivalent to: ip link add NAME [mtu N] [address MAC] [master BR] [up] type KIND [OPTIONS]
   */
  async createLink(name: string, kind: string, options: LinkCommon | object = {}): Promise<void> {
    await this.send(linkCreate(name, kind, options));
    await this.setAliasAfterCreate(name, options);
  }

  /** The kernel ignores IFLA_IFALIAS when it makes a link: set it right after (see LinkCommon.alias). */
  private async setAliasAfterCreate(name: string, options: object): Promise<void> {
    const alias = (options as LinkCommon).alias;
    if (alias !== undefined) await this.send(linkSet(name, { alias }));
  }

  /**
   * Creates a bridge, with its options, MTU and MAC in the create message.
   * Equivalent to: ip link add NAME [address MAC] [mtu N] type bridge [stp_state 0|1] [forward_delay N] [vlan_filtering 0|1] [mcast_snooping 0|1]
   */
  async createBridge(name: string, options: BridgeOptions = {}): Promise<void> {
    await this.send(linkCreate(name, 'bridge', options));
    await this.setAliasAfterCreate(name, options);
  }

  /**
   * Creates a veth pair, the peer optionally in another namespace.
   * Equivalent to: ip link add NAME type veth peer name PEER [netns NS]
   */
  async createVeth(name: string, peer: string, options: VethOptions = {}): Promise<void> {
    await this.send(linkCreate(name, 'veth', { ...options, peer }));
    await this.setAliasAfterCreate(name, options);
  }

  /**
   * Changes a link; all the changes given go out in one RTM_SETLINK. `label` names the
   * operation in errors (default: the ip command it amounts to).
   * Equivalent to: ip link set DEV [up|down] [mtu N] [address MAC] [name NEW] [master BR|nomaster] [netns NS] [alias A] [group G]
   */
  async setLink(dev: string | number, change: LinkChange, label?: string): Promise<void> {
    await this.send(linkSet(dev, change, label));
  }

  /** Equivalent to: ip link set DEV up */
  setUp(dev: string | number): Promise<void> {
    return this.setLink(dev, { up: true });
  }

  /** Equivalent to: ip link set DEV down */
  setDown(dev: string | number): Promise<void> {
    return this.setLink(dev, { up: false });
  }

  /** Equivalent to: ip link set DEV master BR */
  setMaster(dev: string | number, master: string | number): Promise<void> {
    return this.setLink(dev, { master });
  }

  /** Equivalent to: ip link set DEV nomaster */
  setNoMaster(dev: string | number): Promise<void> {
    return this.setLink(dev, { master: null });
  }

  /** Equivalent to: ip link set DEV netns NS */
  setNetns(dev: string | number, netns: string): Promise<void> {
    return this.setLink(dev, { netns });
  }

  /**
   * Deletes a link (a veth's peer goes with it).
   * Equivalent to: ip link del DEV
   */
  async deleteLink(dev: string | number): Promise<void> {
    await this.send(linkDelete(dev));
  }

  /**
   * Deletes many links with the kernel's batched unregister, one result per device (null when
   * deleted). Deleting one RTM_DELLINK at a time costs an RCU grace period each (about 17 ms);
   * RTM_DELLINK of a whole netdev group unregisters them together. To use it without ever
   * touching a device the caller did not name, the named devices move into a fresh random
   * group, a dump confirms the group holds exactly them, and only then is the group deleted.
   * Anything unexpected falls back to deleting one by one, and a device whose delete then fails
   * is put back in the group it came from.
   * Equivalent to: ip link set DEV group G (each) && ip link del group G
   */
  async deleteLinks(devs: Array<string | number>): Promise<Array<Error | null>> {
    devs.forEach((d) => checkDev(d));
    const links = await this.groupsByIndex();
    const byName = new Map([...links].map(([ix, [name]]) => [name, ix]));
    const results: Array<Error | null> = devs.map(() => null);
    const wanted = new Map<number, number>(); // ifindex -> position in devs
    devs.forEach((d, k) => {
      const ix = typeof d === 'number' ? (links.has(d) ? d : undefined) : byName.get(d);
      if (ix === undefined) results[k] = new NetlinkError(19, `link del ${d}`, `Cannot find device "${d}"`);
      else if (wanted.has(ix)) results[k] = new NetlinkError(19, `link del ${d}`, 'named twice in one batch');
      else wanted.set(ix, k);
    });
    if (wanted.size === 0) return results;

    const used = new Set([...links.values()].map(([, g]) => g));
    let group = 0;
    while (group === 0 || used.has(group)) group = (require('crypto') as typeof import('crypto')).randomInt(1 << 20, 0x7fffffff); // lazily: node:crypto costs ~2 ms of start-up
    const moved: number[] = [];
    const oneByOne = async () => {
      await Promise.all(
        [...wanted].map(([ix, k]) =>
          this.deleteLink(ix).then(
            () => (results[k] = null),
            (e: Error) => {
              results[k] = e;
              // Not deleted: out of the temporary group, back where it was.
              if (moved.includes(ix)) return this.setLink(ix, { group: links.get(ix)?.[1] ?? 0 }).catch(() => undefined);
            },
          ),
        ),
      );
      return results;
    };
    // Into the group, pipelined with callbacks, yielding between slices: thousands of devices
    // never hold the event loop.
    let refused = false;
    await new Promise<void>((resolve) => {
      let left = wanted.size;
      if (!left) resolve();
      const ixs = [...wanted.keys()];
      const sendSlice = (from: number) => {
        for (let j = from; j < Math.min(from + DECODE_SLICE, ixs.length); j++) {
          const ix = ixs[j];
          this.queue(linkSet(ix, { group }, `link set ${links.get(ix)?.[0]} group ${group}`), NO_CONTEXT, (err) => {
            if (err) refused = true;
            else moved.push(ix);
            if (--left === 0) resolve();
          });
        }
        if (from + DECODE_SLICE < ixs.length) setImmediate(() => sendSlice(from + DECODE_SLICE));
      };
      sendSlice(0);
    });
    if (refused) return oneByOne();
    // The group must hold exactly the named devices, nothing else.
    const after = await this.groupsByIndex();
    const members = [...after].filter(([, [, g]]) => g === group).map(([ix]) => ix);
    if (members.length !== wanted.size || !members.every((ix) => wanted.has(ix))) return oneByOne();
    try {
      await this.send(linkDeleteGroup(group));
      return results;
    } catch {
      // e.g. EOPNOTSUPP: a device kind without dellink. The kernel checks them all first and
      // deletes none, so fall back.
      return oneByOne();
    }
  }

  /** Every link of the namespace as index -> [name, group], in one dump. */
  private async groupsByIndex(): Promise<Map<number, [string, number]>> {
    const out = new Map<number, [string, number]>();
    for (const l of await this.decodeEach(await this.send(linkDump()), RTM_NEWLINK, decodeLinkBrief)) out.set(l.index, [l.name, l.group]);
    return out;
  }

  /**
   * Creates a persistent tap (or tun) device with owner, group, flags, MAC and MTU, all applied
   * before it is used (by /dev/net/tun ioctls on the handle's tun worker, in its namespace).
   * Fails with EBUSY when the name is taken, leaving that device untouched.
   * Equivalent to: ip tuntap add dev NAME mode tap [user U] [group G] [multi_queue] [vnet_hdr] && ip link set NAME address MAC mtu N
   */
  async createTap(name: string, options: TapOptions = {}): Promise<TapDevice> {
    const [r] = await this.createTaps([{ name, options }]);
    if (r instanceof Error) throw r;
    return r;
  }

  /**
   * Creates many taps in one trip to the tun worker; one result (device or error) per entry.
   * Every entry is checked before any is made.
   * Equivalent to: ip tuntap add dev NAME mode tap ... (for each)
   */
  async createTaps(taps: Array<{ name: string; options?: TapOptions }>): Promise<Array<TapDevice | SyscallError>> {
    return this.createTunDevices(taps.map((t) => tunSpec(t.name, t.options)));
  }

  /**
   * Opens the queues of a macvtap (its /dev/tapN character device, found through sysfs as the
   * handle's namespace sees it; no udev needed) and hands their fds over as createTap does with
   * keepFds, for qemu: IFF_VNET_HDR with vnetHdr, several queues with queues > 1.
   * Equivalent to: exec 3<>/dev/tap$(cat /sys/class/net/DEV/ifindex) (libvirt's macvtap open for qemu)
   */
  async openMacvtap(dev: string, options: { queues?: number; vnetHdr?: boolean } = {}): Promise<TapDevice> {
    checkIfName(dev, 'dev');
    const queues = options.queues ?? 1;
    if (!Number.isInteger(queues) || queues < 1 || queues > 256)
      throw new ValidationError('EINVALIDOPTION', `queues: '${String(options.queues)}' is not 1-256`, 'queues');
    if (options.vnetHdr !== undefined && typeof options.vnetHdr !== 'boolean')
      throw new ValidationError('EINVALIDOPTION', 'vnetHdr: true or false', 'vnetHdr');
    let flags = IFF_TAP | IFF_NO_PI;
    if (options.vnetHdr) flags |= IFF_VNET_HDR;
    if (queues > 1) flags |= IFF_MULTI_QUEUE;
    const [r] = await this.createTunDevices([{ name: dev, flags, queues, keepFds: true, persist: false, macvtap: true }]);
    if (r instanceof Error) throw r;
    return r;
  }

  /** Already-checked specs (tunSpec) to the worker, one result per spec. */
  async createTunDevices(specs: TunSpecNative[]): Promise<Array<TapDevice | SyscallError>> {
    if (!specs.length) return [];
    let results: TunResultNative[];
    try {
      results = await this.tunWorker().create(specs);
    } catch (e) {
      const n = e as { code: string; errno: number; syscall: string; message: string };
      const what = n.syscall === 'setns' || n.syscall === 'open' ? `open netns ${this.netns}: ${n.message}` : n.message;
      const err = new SyscallError(n.code, n.errno, n.syscall, what);
      return specs.map(() => err);
    }
    return results.map((r, i) => {
      if (r.code !== undefined)
        return new SyscallError(r.code, r.errno, r.syscall, `tap add ${specs[i].name}: ${r.message} (${r.syscall})`);
      return { name: specs[i].name, index: r.ifindex, queues: r.fds.map((fd) => new TapQueue(fd)) };
    });
  }

  /**
   * The addresses of one link, or of all.
   * Equivalent to: ip [-4|-6] addr show [dev DEV]
   */
  async listAddresses(filter: { dev?: string | number; family?: 4 | 6 } = {}): Promise<Address[]> {
    const req = addressDump(filter.family, `addr show${filter.dev !== undefined ? ` dev ${filter.dev}` : ''}`);
    const index = filter.dev !== undefined ? await this.indexOf(filter.dev) : 0;
    return (await this.decodeEach(await this.send(req), RTM_NEWADDR, decodeAddress)).filter(
      (a) => (!index || a.index === index) && (!filter.family || a.family === filter.family),
    );
  }

  /**
   * Adds an address to a link.
   * Equivalent to: ip addr add CIDR [broadcast B|+] [label L] [peer P] dev DEV
   */
  async addAddress(dev: string | number, spec: AddressSpec | string, opts: { scope?: number } = {}): Promise<void> {
    await this.send(addressAdd(dev, spec, opts));
  }

  /**
   * Removes an address from a link.
   * Equivalent to: ip addr del CIDR dev DEV
   */
  async deleteAddress(dev: string | number, cidr: string): Promise<void> {
    await this.send(addressDelete(dev, cidr));
  }

  /**
   * Routes of a table (default main), optionally only those out of one link.
   * Equivalent to: ip [-4|-6] route show [table T] [dev DEV]
   */
  async listRoutes(filter: { family?: 4 | 6; dev?: string | number; table?: number } = {}): Promise<Route[]> {
    const families = filter.family ? [filter.family] : ([4, 6] as const);
    const op = `route show${filter.dev !== undefined ? ` dev ${filter.dev}` : ''}`;
    const reqs = families.map((f) => routeDump(f, op));
    const oif = filter.dev !== undefined ? await this.indexOf(filter.dev) : undefined;
    const table = filter.table ?? RT_TABLE_MAIN;
    const out: Route[] = [];
    for (const req of reqs)
      for (const r of await this.decodeEach(await this.send(req), RTM_NEWROUTE, decodeRoute))
        if (r.table === table && (oif === undefined || r.oif === oif)) out.push(r);
    return out;
  }

  /**
   * Adds a route.
   * Equivalent to: ip route add DST [via GW] [dev DEV] [metric N] [src S] [table T]
   */
  async addRoute(spec: RouteSpec): Promise<void> {
    await this.send(routeAdd(spec));
  }

  /**
   * Deletes a route, matching on what is given.
   * Equivalent to: ip route del DST [via GW] [dev DEV] [metric N] [table T]
   */
  async deleteRoute(spec: RouteSpec): Promise<void> {
    await this.send(routeDelete(spec));
  }

  /**
   * Neighbours (the ARP and NDP caches), of one link or all.
   * Equivalent to: ip [-4|-6] neigh show [dev DEV]
   */
  async listNeighbours(filter: { dev?: string | number; family?: 4 | 6 } = {}): Promise<Neighbour[]> {
    const req = neighbourDump(filter.family, `neigh show${filter.dev !== undefined ? ` dev ${filter.dev}` : ''}`);
    const index = filter.dev !== undefined ? await this.indexOf(filter.dev) : 0;
    return (await this.decodeEach(await this.send(req), RTM_NEWNEIGH, decodeNeighbour)).filter(
      (n) => n.family !== 'bridge' && (!index || n.index === index),
    );
  }

  /**
   * Adds, replaces or deletes a neighbour entry.
   * Equivalent to: ip neigh add|replace|del ADDR [lladdr MAC] dev DEV [nud STATE]
   */
  async neighbour(verb: Exclude<NeighVerb, 'append'>, dev: string | number, spec: Omit<NeighbourSpec, 'fdb'>): Promise<void> {
    await this.send(neighbourRequest(verb, dev, { ...spec, fdb: false }));
  }

  /**
   * The bridge forwarding database: learned and static MACs of bridge ports and of VXLAN
   * devices (with their remote `dst`), of one device or master, or all.
   * Equivalent to: bridge fdb show [dev DEV] [br BR]
   */
  async listFdb(filter: { dev?: string | number; master?: string | number } = {}): Promise<Neighbour[]> {
    const req = neighbourDump('bridge');
    const index = filter.dev !== undefined ? await this.indexOf(filter.dev) : 0;
    const master = filter.master !== undefined ? await this.indexOf(filter.master) : 0;
    return (await this.decodeEach(await this.send(req), RTM_NEWNEIGH, decodeNeighbour)).filter(
      (n) => n.family === 'bridge' && (!index || n.index === index) && (!master || n.master === master || n.index === master),
    );
  }

  /**
   * Adds, appends (another remote for the same MAC: a unicast flood list), replaces or deletes
   * an FDB entry. `self` (default) is the device's own table (VXLAN's), `master` the bridge's.
   * Equivalent to: bridge fdb add|append|replace|del MAC dev DEV [dst IP] [vni N] [port P] [vlan V] [self] [master] [static|permanent]
   */
  async fdb(verb: NeighVerb, dev: string | number, spec: Omit<NeighbourSpec, 'fdb'>): Promise<void> {
    await this.send(neighbourRequest(verb, dev, { ...spec, fdb: true }));
  }

  /**
   * Sets a port's bandwidth as libvirt's <bandwidth> does (inbound: HTB on the port's egress;
   * outbound: the port's ingress redirected to an ifb carrying HTB; see qos.ts), replacing any
   * earlier limits. Both directions are checked before anything changes, and a failure part-way
   * removes what was made.
   * Equivalent to: virsh domiftune DOM DEV --inbound AVG,PEAK,BURST --outbound AVG,PEAK,BURST
   *   (tc qdisc add dev DEV root handle 1: htb default 1; tc class add ... htb rate ...; ip link add hwqN type ifb;
   *    tc qdisc add dev DEV handle ffff: ingress; tc filter add ... action mirred egress redirect dev hwqN ...)
   */
  async setQos(dev: string | number, bw: Bandwidth): Promise<void> {
    checkDev(dev);
    if (!bw || typeof bw !== 'object' || (bw.inbound === undefined && bw.outbound === undefined))
      throw new ValidationError('EINVALIDOPTION', 'qos: --inbound and/or --outbound', 'bandwidth');
    const inbound = bw.inbound === undefined ? undefined : checkRate(bw.inbound, 'inbound');
    const outbound = bw.outbound === undefined ? undefined : checkRate(bw.outbound, 'outbound');
    const ix = await this.indexOf(dev);
    await this.clearQos(ix);
    try {
      if (inbound) {
        await this.send(htbQdisc(ix));
        await this.send(htbClass(ix, inbound));
      }
      if (outbound) {
        const ifb = ifbName(ix);
        await this.send(linkCreate(ifb, 'ifb', { up: true, alias: `hostwire qos of ${ix}` }));
        await this.send(htbQdisc(ifb));
        await this.send(htbClass(ifb, outbound));
        await this.send(ingressQdisc(ix));
        await this.send(redirectFilter(ix, ifb));
      }
    } catch (e) {
      await this.clearQos(ix).catch(() => undefined);
      throw e;
    }
  }

  /**
   * A port's bandwidth, read back from its qdiscs and classes (and its ifb's).
   * Equivalent to: virsh domiftune DOM DEV (tc qdisc show dev DEV; tc class show dev DEV)
   */
  async getQos(dev: string | number): Promise<Bandwidth> {
    const ix = await this.indexOf(dev);
    const out: Bandwidth = {};
    const qdiscs = await this.decodeEach(await this.send(qdiscDump()), RTM_NEWQDISC, decodeTc);
    const rateOn = async (index: number) => {
      if (!qdiscs.some((q) => q.index === index && q.kind === 'htb' && q.parent === TC.TC_H_ROOT)) return undefined;
      const classes = await this.decodeEach(await this.send(classDump(index)), RTM_NEWTCLASS, decodeTc);
      const c = classes.find((x) => x.handle === TC.HTB_CLASS);
      return c ? rateOf(c) : undefined;
    };
    const inbound = await rateOn(ix);
    if (inbound) out.inbound = inbound;
    if (qdiscs.some((q) => q.index === ix && q.kind === 'ingress')) {
      const ifb = await this.getLink(ifbName(ix)).catch(() => undefined);
      const outbound = ifb ? await rateOn(ifb.index) : undefined;
      if (outbound) out.outbound = outbound;
    }
    return out;
  }

  /**
   * Removes a port's bandwidth limits: its root and ingress qdiscs and its ifb. Limits that are
   * not there are not an error.
   * Equivalent to: tc qdisc del dev DEV root; tc qdisc del dev DEV ingress; ip link del hwqN
   */
  async clearQos(dev: string | number): Promise<void> {
    const ix = await this.indexOf(dev);
    const absent = (e: unknown) => {
      const code = (e as { code?: string }).code;
      if (code !== 'ENOENT' && code !== 'EINVAL' && code !== 'ENODEV') throw e;
    };
    await this.send(qdiscDelete(ix, 'root')).catch(absent);
    await this.send(qdiscDelete(ix, 'ingress')).catch(absent);
    await this.send(linkDelete(ifbName(ix))).catch(absent);
  }
}
