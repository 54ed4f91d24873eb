/**
 * A Handle owns one rtnetlink socket in one network namespace (the current one, or a named
 * one, like `ip -n NS`), and carries the verbs. Module-level helpers in index.ts use a default
 * handle. Requests are pipelined; a handle does not keep the event loop alive while idle.
 */
import * as fs from 'fs';
import type * as rt from 'netlink/dist/rt/structs';
import type { LinkAttrs } from 'netlink/dist/rt/ifla';
import { ValidationError } from '../errors';
import { kernelAddon, type NativeTunWorker } from '../native';
import { attr, encodeLinkPayload } from './wire';
import {
  IFLA_EXT_MASK,
  IFLA_INFO_DATA,
  IFLA_INFO_KIND,
  IFLA_LINKINFO,
  NETNS_DIR,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_EXCL,
  RTEXT_FILTER_SKIP_STATS,
  RTM_DELLINK,
  RTM_GETLINK,
  RTM_NEWLINK,
  RTM_SETLINK,
} from './constants';
import { NetlinkError } from './errors';
import { NetlinkSocket, type TransportFactory } from './socket';
import { decodeLink, type Link } from './link';
import { decodeLinkMessage } from './wire';
import { encodeBridgeData, type BridgeOptions } from './kinds/bridge';
import { encodeVethData } from './kinds/veth';
import { parseMacBytes } from './attrs';
import { checkDev, checkIfName, checkMac, checkMtu, checkNetnsName } from './validate';
import { createTap, type TapDevice, type TapOptions } from './tap';
import { addAddress, deleteAddress, listAddresses, type Address, type AddressSpec } from './addr';
import { addRoute, deleteRoute, listRoutes, type Route, type RouteSpec } from './route';

export { NETNS_DIR };

export interface HandleOptions {
  /** Work in the named namespace (/run/netns/NAME), like `ip -n NAME`. */
  netns?: string;
  /** Most requests unanswered at once (default 256). */
  window?: number;
  /** Receive buffer in bytes (default: sized for the window). */
  rcvbuf?: number;
  /** Replaces the kernel socket (codec tests). */
  transport?: TransportFactory;
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
}

/** What `ip link set` changes. Several changes in one call go out as one request. */
export interface LinkChange {
  up?: boolean;
  mtu?: number;
  address?: string;
  name?: string;
  /** A master (bridge) by name or index; null detaches (nomaster). */
  master?: string | number | null;
  /** Move to the named namespace. */
  netns?: string;
}

export interface VethOptions {
  /** Put the peer in this named namespace (IFLA_NET_NS_FD inside VETH_INFO_PEER). */
  peerNetns?: string;
  mtu?: number;
  address?: string;
  peerAddress?: string;
}

const linkMsg = (index = 0, up?: boolean): rt.Link =>
  (up === undefined ? { index } : { index, flags: up ? { up: true } : {}, change: { up: true } }) as rt.Link;

const extMask = () => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(RTEXT_FILTER_SKIP_STATS);
  return attr(IFLA_EXT_MASK, b);
};

function linkInfo(kind: string, data?: Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [attr(IFLA_INFO_KIND, Buffer.from(kind))];
  if (data?.length) parts.push(attr(IFLA_INFO_DATA, data, true));
  return attr(IFLA_LINKINFO, parts, true);
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

/** The default receive buffer: room for `window` replies of a few KiB each, at least 4 MiB. */
export const rcvbufFor = (window: number) => Math.max(4 << 20, window * 16 * 1024);

export class Handle {
  readonly netns?: string;
  readonly socket: NetlinkSocket;
  private worker?: NativeTunWorker;

  constructor(options: HandleOptions = {}) {
    if (options.netns !== undefined) this.netns = checkNetnsName(options.netns);
    const window = options.window ?? 256;
    const nsPath = this.netns ? `${NETNS_DIR}/${this.netns}` : undefined;
    const factory: TransportFactory =
      options.transport ??
      ((receive) => {
        const { NlSocket } = kernelAddon();
        try {
          return new NlSocket(
            { netns: nsPath, rcvbuf: options.rcvbuf ?? rcvbufFor(window), sndbuf: 1 << 20, extAck: true, capAck: true, strictCheck: true },
            receive,
          );
        } catch (e) {
          const n = e as { errno?: number; syscall?: string; message?: string };
          const what = n.syscall === 'setns' && this.netns ? `open netns ${this.netns}` : `open rtnetlink socket`;
          throw new NetlinkError(n.errno ?? 5, what, n.errno === 2 && this.netns ? `no namespace named '${this.netns}'` : n.message);
        }
      });
    this.socket = new NetlinkSocket(factory, { window });
  }

  /** Closes the socket and the tun worker; requests still waiting fail with EBADF. */
  close(): void {
    this.socket.close();
    this.worker?.close();
  }

  /**
   * The addon's thread that makes tun/tap devices in this handle's namespace, started on first
   * use: it enters the namespace once, so a single createTap costs a wake-up, not a thread.
   */
  tunWorker(): NativeTunWorker {
    return (this.worker ??= new (kernelAddon().TunWorker)(this.netns ? `${NETNS_DIR}/${this.netns}` : null));
  }

  private async linkRequest(type: number, op: string, data: rt.Link, attrs: LinkAttrs, extra: Uint8Array[] = [], flags = 0) {
    return this.socket.request(type, encodeLinkPayload(data, attrs, extra), op, flags);
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
    const attrs: LinkAttrs = {};
    const extra = [extMask()];
    let op = 'link show';
    if (filter.master !== undefined) {
      attrs.master = await this.indexOf(filter.master);
      op += ` master ${filter.master}`;
    }
    if (filter.kind !== undefined) {
      if (typeof filter.kind !== 'string' || !/^[a-z0-9_]{1,32}$/.test(filter.kind))
        throw new ValidationError('EINVALIDKIND', `'${String(filter.kind)}' is not a link kind`, 'kind');
      extra.push(linkInfo(filter.kind));
      op += ` type ${filter.kind}`;
    }
    const msgs = await this.linkRequest(RTM_GETLINK, op, linkMsg(), attrs, extra, NLM_F_DUMP);
    return this.matches(
      filter,
      msgs.filter((m) => m.type === RTM_NEWLINK).map((m) => decodeLink(decodeLinkMessage(m))),
    );
  }

  // The kernel ignores a kind filter for kinds whose module is not loaded: filter here too.
  private matches(filter: LinkFilter, links: Link[]): Link[] {
    return links.filter(
      (l) =>
        (filter.kind === undefined || l.kind === filter.kind) &&
        (filter.up === undefined || l.up === filter.up) &&
        (filter.operstate === undefined || l.operstate === filter.operstate.toUpperCase()),
    );
  }

  /**
   * One link by name or index, without dumping the others (RTM_GETLINK with IFLA_IFNAME).
   * Equivalent to: ip link show DEV
   */
  async getLink(dev: string | number): Promise<Link> {
    checkDev(dev);
    const attrs: LinkAttrs = typeof dev === 'string' ? { ifname: dev } : {};
    const msgs = await this.linkRequest(RTM_GETLINK, `link show ${dev}`, linkMsg(typeof dev === 'number' ? dev : 0), attrs, [extMask()]);
    const m = msgs.find((x) => x.type === RTM_NEWLINK);
    if (!m) throw new NetlinkError(19, `link show ${dev}`, `no reply for ${dev}`);
    return decodeLink(decodeLinkMessage(m));
  }

  /** The index of a link given by name or index (an index is returned as is). */
  async indexOf(dev: string | number): Promise<number> {
    checkDev(dev);
    return typeof dev === 'number' ? dev : (await this.getLink(dev)).index;
  }

  /**
   * Creates a bridge, with its options, MTU and MAC in the create message.
   * Equivalent to: ip link add NAME [address MAC] [mtu N] type bridge [stp_state 0|1] [forward_delay N] [vlan_filtering 0|1] [mcast_snooping 0|1]
   */
  async createBridge(name: string, options: BridgeOptions = {}): Promise<void> {
    checkIfName(name);
    const data = encodeBridgeData(options);
    const attrs: LinkAttrs = { ifname: name };
    if (options.mtu !== undefined) attrs.mtu = checkMtu(options.mtu);
    if (options.address !== undefined) attrs.address = parseMacBytes(checkMac(options.address));
    await this.linkRequest(RTM_NEWLINK, `bridge add ${name}`, linkMsg(), attrs, [linkInfo('bridge', data)], NLM_F_CREATE | NLM_F_EXCL);
  }

  /**
   * Creates a veth pair, the peer optionally in another namespace.
   * Equivalent to: ip link add NAME type veth peer name PEER [netns NS]
   */
  async createVeth(name: string, peer: string, options: VethOptions = {}): Promise<void> {
    checkIfName(name);
    checkIfName(peer, 'peer');
    const attrs: LinkAttrs = { ifname: name };
    const peerAttrs: LinkAttrs = { ifname: peer };
    if (options.mtu !== undefined) attrs.mtu = peerAttrs.mtu = checkMtu(options.mtu);
    if (options.address !== undefined) attrs.address = parseMacBytes(checkMac(options.address));
    if (options.peerAddress !== undefined) peerAttrs.address = parseMacBytes(checkMac(options.peerAddress, 'peerAddress'));
    const fd = options.peerNetns !== undefined ? openNetnsFd(options.peerNetns) : undefined;
    try {
      if (fd !== undefined) peerAttrs.netNsFd = fd;
      const op = `link add ${name} type veth peer ${peer}`;
      await this.linkRequest(RTM_NEWLINK, op, linkMsg(), attrs, [linkInfo('veth', encodeVethData(peerAttrs))], NLM_F_CREATE | NLM_F_EXCL);
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }

  /**
   * Changes a link; all the changes given go out in one RTM_SETLINK. `label` names the
   * operation in errors (default: the ip command it amounts to).
   * Equivalent to: ip link set DEV [up|down] [mtu N] [address MAC] [name NEW] [master BR|nomaster] [netns NS]
   */
  async setLink(dev: string | number, change: LinkChange, label?: string): Promise<void> {
    checkDev(dev);
    const attrs: LinkAttrs = {};
    const words: string[] = [];
    if (change.mtu !== undefined) {
      attrs.mtu = checkMtu(change.mtu);
      words.push(`mtu ${change.mtu}`);
    }
    if (change.address !== undefined) {
      attrs.address = parseMacBytes(checkMac(change.address));
      words.push(`address ${change.address}`);
    }
    if (change.name !== undefined) checkIfName(change.name, 'name');
    if (change.master !== undefined && change.master !== null) checkDev(change.master, 'master');
    if (change.netns !== undefined) checkNetnsName(change.netns);
    if (change.up !== undefined) words.push(change.up ? 'up' : 'down');
    if (change.master === null) {
      attrs.master = 0;
      words.push('nomaster');
    } else if (change.master !== undefined) {
      // No await for an index: a batch relies on requests being queued in call order.
      attrs.master = typeof change.master === 'number' ? change.master : await this.indexOf(change.master);
      words.push(`master ${change.master}`);
    }
    // Addressed by name (IFLA_IFNAME) unless the name itself changes: then by index.
    let index = typeof dev === 'number' ? dev : 0;
    if (change.name !== undefined) {
      if (!index) index = await this.indexOf(dev);
      attrs.ifname = change.name;
      words.push(`name ${change.name}`);
    } else if (!index) {
      attrs.ifname = dev as string;
    }
    const fd = change.netns !== undefined ? openNetnsFd(change.netns) : undefined;
    try {
      if (fd !== undefined) {
        attrs.netNsFd = fd;
        words.push(`netns ${change.netns}`);
      }
      await this.linkRequest(RTM_SETLINK, label ?? `link set ${dev} ${words.join(' ')}`.trim(), linkMsg(index, change.up), attrs);
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }

  /**
   * Creates a persistent tap (or tun) device in this handle's namespace; see tap.ts.
   * Equivalent to: ip tuntap add dev NAME mode tap [user U] [group G] [multi_queue] [vnet_hdr]
   */
  createTap(name: string, options: TapOptions = {}): Promise<TapDevice> {
    return createTap(this, name, options);
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
    checkDev(dev);
    const attrs: LinkAttrs = typeof dev === 'string' ? { ifname: dev } : {};
    await this.linkRequest(RTM_DELLINK, `link del ${dev}`, linkMsg(typeof dev === 'number' ? dev : 0), attrs);
  }

  /** Equivalent to: ip addr show [dev DEV]. See addr.ts. */
  listAddresses(filter: { dev?: string | number; family?: 4 | 6 } = {}): Promise<Address[]> {
    return listAddresses(this, filter);
  }

  /** Equivalent to: ip addr add CIDR dev DEV. See addr.ts. */
  addAddress(dev: string | number, spec: AddressSpec | string, opts: { scope?: number } = {}): Promise<void> {
    return addAddress(this, dev, spec, opts);
  }

  /** Equivalent to: ip addr del CIDR dev DEV. See addr.ts. */
  deleteAddress(dev: string | number, cidr: string): Promise<void> {
    return deleteAddress(this, dev, cidr);
  }

  /** Equivalent to: ip route show [table T] [dev DEV]. See route.ts. */
  listRoutes(filter: { family?: 4 | 6; dev?: string | number; table?: number } = {}): Promise<Route[]> {
    return listRoutes(this, filter);
  }

  /** Equivalent to: ip route add DST [via GW] [dev DEV] ... See route.ts. */
  addRoute(spec: RouteSpec): Promise<void> {
    return addRoute(this, spec);
  }

  /** Equivalent to: ip route del DST [via GW] [dev DEV] ... See route.ts. */
  deleteRoute(spec: RouteSpec): Promise<void> {
    return deleteRoute(this, spec);
  }
}
