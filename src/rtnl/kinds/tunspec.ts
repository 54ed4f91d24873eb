/**
 * Checks and defaults for new tun/tap devices, turned into what the addon's TunWorker takes.
 * (Kept apart from tun.ts, which only decodes IFLA_TUN_*.)
 */
import type { TunSpecNative } from '../../native';
import { ValidationError } from '../../errors';
import { IFF_MULTI_QUEUE, IFF_NO_PI, IFF_TAP, IFF_TUN, IFF_VNET_HDR } from '../constants';
import { parseMacBytes } from '../attrs';
import { checkAlias, checkId, checkIfName, checkMac, checkMtu } from '../validate';

export interface TapOptions {
  /** A layer-3 tun device instead of a tap (IFF_TUN). */
  tun?: boolean;
  /** TUNSETOWNER: the uid allowed to attach (e.g. qemu's). */
  owner?: number;
  /** TUNSETGROUP. */
  group?: number;
  /** IFF_MULTI_QUEUE. */
  multiQueue?: boolean;
  /** Queues to open (multi-queue only; default 1). Their fds are handed back with keepFds. */
  queues?: number;
  /** IFF_VNET_HDR. */
  vnetHdr?: boolean;
  /** Keep the packet-information header (default off: IFF_NO_PI, as ip tuntap). */
  pi?: boolean;
  /** MAC, set before the device is used (taps only). */
  address?: string;
  mtu?: number;
  /** Hand the queue fds to the caller (for passing to qemu) instead of closing them. */
  keepFds?: boolean;
  /** TUNSETPERSIST (default true: the device outlives its fds, like ip tuntap add). */
  persist?: boolean;
  /**
   * IFLA_IFALIAS, set by the tun worker before TUNSETPERSIST: a tap is never persistent without
   * it, even if the process dies in between (hostwire's ownership mark goes here).
   */
  alias?: string;
}

export function tunSpec(name: string, o: TapOptions = {}): TunSpecNative {
  checkIfName(name);
  let flags = o.tun ? IFF_TUN : IFF_TAP;
  if (!o.pi) flags |= IFF_NO_PI;
  if (o.vnetHdr) flags |= IFF_VNET_HDR;
  if (o.multiQueue) flags |= IFF_MULTI_QUEUE;
  const queues = o.queues ?? 1;
  if (!Number.isInteger(queues) || queues < 1 || queues > 256)
    throw new ValidationError('EINVALIDOPTION', `queues: '${String(o.queues)}' is not 1-256`, 'queues');
  if (queues > 1 && !o.multiQueue) throw new ValidationError('EINVALIDOPTION', 'queues: more than one queue needs multiQueue', 'queues');
  if (o.address !== undefined && o.tun) throw new ValidationError('EINVALIDOPTION', 'address: a tun device has no MAC address', 'address');
  if (o.persist === false && !o.keepFds)
    throw new ValidationError('EINVALIDOPTION', 'persist: false without keepFds would remove the device at once', 'persist');
  return {
    name,
    flags,
    owner: o.owner === undefined ? undefined : checkId(o.owner, 'owner'),
    group: o.group === undefined ? undefined : checkId(o.group, 'group'),
    queues,
    mtu: o.mtu === undefined ? undefined : checkMtu(o.mtu),
    mac: o.address === undefined ? undefined : parseMacBytes(checkMac(o.address)),
    keepFds: !!o.keepFds,
    persist: o.persist ?? true,
    alias: o.alias === undefined ? undefined : checkAlias(o.alias),
  };
}
