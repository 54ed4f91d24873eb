/** Typed link objects, decoded from RTM_NEWLINK. */
import type { LinkMessage } from 'netlink/dist/rt/structs';
import {
  IFF_FLAGS,
  IFF_UP,
  IF_OPER,
  IFLA_INFO_DATA,
  IFLA_INFO_KIND,
  IFLA_INFO_SLAVE_DATA,
  IFLA_INFO_SLAVE_KIND,
  type OperState,
} from './constants';
import { formatMac } from './attrs';
import { decodeInfoData, decodeSlaveData } from './kinds';
import { eachAttr } from './wire';

export interface Link {
  index: number;
  name: string;
  /** IFLA_INFO_KIND ('bridge', 'veth', 'tun' ...); null for devices without one (physical NICs, lo). */
  kind: string | null;
  /** Index of the master (the bridge this link is a port of), or null. */
  master: number | null;
  /** IFLA_OPERSTATE: 'UP', 'DOWN', 'UNKNOWN', 'LOWERLAYERDOWN' ... */
  operstate: OperState;
  /** IFF_* flags by name, as `ip link` prints them: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP']. */
  flags: string[];
  /** IFF_UP: administratively up. */
  up: boolean;
  mtu: number;
  /** Hardware address, aa:bb:cc:dd:ee:ff, or null for devices without one. */
  address: string | null;
  broadcast: string | null;
  txqlen?: number;
  group?: number;
  /** IFLA_LINK: the peer's index for veth, the lower device for vlans. */
  link?: number;
  /** IFLA_LINK_NETNSID: set when `link` is in another namespace. */
  linkNetnsId?: number;
  /** IFLA_INFO_DATA decoded by the kind's codec. */
  info?: Record<string, unknown>;
  /** Kind of the master seen from the port ('bridge'), and the port's IFLA_INFO_SLAVE_DATA. */
  slaveKind?: string;
  slaveInfo?: Record<string, unknown>;
}

function decodeLinkInfo(buf: Buffer, out: Link): void {
  let data: Buffer | undefined;
  let slaveData: Buffer | undefined;
  eachAttr(buf, (type, d) => {
    if (type === IFLA_INFO_KIND) out.kind = d.toString('utf8').replace(/\0.*$/s, '');
    else if (type === IFLA_INFO_DATA) data = d;
    else if (type === IFLA_INFO_SLAVE_KIND) out.slaveKind = d.toString('utf8').replace(/\0.*$/s, '');
    else if (type === IFLA_INFO_SLAVE_DATA) slaveData = d;
  });
  if (out.kind && data) out.info = decodeInfoData(out.kind, data);
  if (out.slaveKind && slaveData) out.slaveInfo = decodeSlaveData(out.slaveKind, slaveData);
}

export function decodeLink(m: LinkMessage): Link {
  const { data, attrs } = m;
  const rawFlags = typeof data.flags === 'number' ? data.flags : flagsToNumber(data.flags);
  const link: Link = {
    index: data.index ?? 0,
    name: attrs.ifname ?? '',
    kind: null,
    master: attrs.master ?? null,
    operstate: IF_OPER[attrs.operstate ?? 0] ?? 'UNKNOWN',
    flags: IFF_FLAGS.filter(([bit]) => rawFlags & bit).map(([, n]) => n),
    up: (rawFlags & IFF_UP) !== 0,
    mtu: attrs.mtu ?? 0,
    address: attrs.address?.length ? formatMac(attrs.address) : null,
    broadcast: attrs.broadcast?.length ? formatMac(attrs.broadcast) : null,
  };
  if (attrs.txqlen !== undefined) link.txqlen = attrs.txqlen;
  if (attrs.group !== undefined) link.group = attrs.group;
  if (attrs.link !== undefined) link.link = attrs.link.readUInt32LE(0);
  if (attrs.linkNetnsid !== undefined) link.linkNetnsId = attrs.linkNetnsid;
  if (attrs.linkinfo) decodeLinkInfo(attrs.linkinfo, link);
  return link;
}

// netlink's parseLink gives flags as an object of booleans; rebuild the bit mask.
const FLAG_KEYS: Record<string, number> = {
  up: 0x1,
  broadcast: 0x2,
  debug: 0x4,
  loopback: 0x8,
  pointopoint: 0x10,
  notrailers: 0x20,
  running: 0x40,
  noarp: 0x80,
  promisc: 0x100,
  allmulti: 0x200,
  master: 0x400,
  slave: 0x800,
  multicast: 0x1000,
  portsel: 0x2000,
  automedia: 0x4000,
  dynamic: 0x8000,
  lowerUp: 0x10000,
  dormant: 0x20000,
  echo: 0x40000,
};

function flagsToNumber(f: unknown): number {
  if (!f || typeof f !== 'object') return 0;
  let n = 0;
  for (const [k, v] of Object.entries(f as Record<string, unknown>)) if (v === true && FLAG_KEYS[k]) n |= FLAG_KEYS[k];
  return n;
}
