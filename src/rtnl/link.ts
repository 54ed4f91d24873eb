/**
 * Typed link objects, decoded from RTM_NEWLINK with bounds checks: a truncated attribute is a
 * DecodeError naming it (IFLA_MTU ...), never a RangeError.
 */
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
import { formatMac, nameOf, table } from './attrs';
import { decodeInfoData, decodeSlaveData } from './kinds';
import { DecodeError, cString, cStringAt, eachAttr, need, scanAttrs, type NetlinkMessage } from './wire';

/** The top-level IFLA_* attributes (linux/if_link.h), in the kernel's enum order from 1. */
export const IFLA = table('IFLA_', [
  ['IFLA_ADDRESS', 'mac'],
  ['IFLA_BROADCAST', 'mac'],
  ['IFLA_IFNAME', 'string'],
  ['IFLA_MTU', 'u32'],
  ['IFLA_LINK', 'u32'],
  ['IFLA_QDISC', 'string'],
  ['IFLA_STATS', 'binary'],
  ['IFLA_COST', 'binary'],
  ['IFLA_PRIORITY', 'binary'],
  ['IFLA_MASTER', 'u32'],
  ['IFLA_WIRELESS', 'binary'],
  ['IFLA_PROTINFO', 'binary'],
  ['IFLA_TXQLEN', 'u32'],
  ['IFLA_MAP', 'binary'],
  ['IFLA_WEIGHT', 'u32'],
  ['IFLA_OPERSTATE', 'u8'],
  ['IFLA_LINKMODE', 'u8'],
  ['IFLA_LINKINFO', 'binary'],
  ['IFLA_NET_NS_PID', 'u32'],
  ['IFLA_IFALIAS', 'string'],
  ['IFLA_NUM_VF', 'u32'],
  ['IFLA_VFINFO_LIST', 'binary'],
  ['IFLA_STATS64', 'binary'],
  ['IFLA_VF_PORTS', 'binary'],
  ['IFLA_PORT_SELF', 'binary'],
  ['IFLA_AF_SPEC', 'binary'],
  ['IFLA_GROUP', 'u32'],
  ['IFLA_NET_NS_FD', 'u32'],
  ['IFLA_EXT_MASK', 'u32'],
  ['IFLA_PROMISCUITY', 'u32'],
  ['IFLA_NUM_TX_QUEUES', 'u32'],
  ['IFLA_NUM_RX_QUEUES', 'u32'],
  ['IFLA_CARRIER', 'u8'],
  ['IFLA_PHYS_PORT_ID', 'binary'],
  ['IFLA_CARRIER_CHANGES', 'u32'],
  ['IFLA_PHYS_SWITCH_ID', 'binary'],
  ['IFLA_LINK_NETNSID', 'u32'],
  ['IFLA_PHYS_PORT_NAME', 'string'],
  ['IFLA_PROTO_DOWN', 'u8'],
  ['IFLA_GSO_MAX_SEGS', 'u32'],
  ['IFLA_GSO_MAX_SIZE', 'u32'],
  null, // IFLA_PAD
  ['IFLA_XDP', 'binary'],
  ['IFLA_EVENT', 'u32'],
  ['IFLA_NEW_NETNSID', 'u32'],
  ['IFLA_TARGET_NETNSID', 'u32'],
  ['IFLA_CARRIER_UP_COUNT', 'u32'],
  ['IFLA_CARRIER_DOWN_COUNT', 'u32'],
  ['IFLA_NEW_IFINDEX', 'u32'],
  ['IFLA_MIN_MTU', 'u32'],
  ['IFLA_MAX_MTU', 'u32'],
  ['IFLA_PROP_LIST', 'binary'],
  ['IFLA_ALT_IFNAME', 'string'],
  ['IFLA_PERM_ADDRESS', 'mac'],
  ['IFLA_PROTO_DOWN_REASON', 'binary'],
  ['IFLA_PARENT_DEV_NAME', 'string'],
  ['IFLA_PARENT_DEV_BUS_NAME', 'string'],
  ['IFLA_GRO_MAX_SIZE', 'u32'],
  ['IFLA_TSO_MAX_SIZE', 'u32'],
  ['IFLA_TSO_MAX_SEGS', 'u32'],
  ['IFLA_ALLMULTI', 'u32'],
  ['IFLA_DEVLINK_PORT', 'binary'],
  ['IFLA_GSO_IPV4_MAX_SIZE', 'u32'],
  ['IFLA_GRO_IPV4_MAX_SIZE', 'u32'],
  ['IFLA_DPLL_PIN', 'binary'],
  ['IFLA_MAX_PACING_OFFLOAD_HORIZON', 'u32'],
  ['IFLA_NETNS_IMMUTABLE', 'u8'],
]);

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
  /** ARPHRD_* (ifi_type): 1 ether, 772 loopback ... */
  linkType?: number;
  txqlen?: number;
  group?: number;
  qdisc?: string;
  /** IFLA_IFALIAS (ip link set DEV alias TEXT). */
  alias?: string;
  promiscuity?: number;
  minMtu?: number;
  maxMtu?: number;
  /** IFLA_CARRIER. */
  carrier?: boolean;
  /** IFLA_PERM_ADDRESS: the hardware's own MAC, when the driver knows it. */
  permAddress?: string;
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

const iflaName = (type: number) => nameOf(IFLA, type);
const u32 = (d: Buffer, type: number) => need(d, 4, iflaName(type)).readUInt32LE(0);

function decodeLinkInfo(buf: Buffer, out: Link): void {
  let data: Buffer | undefined;
  let slaveData: Buffer | undefined;
  eachAttr(
    buf,
    (type, d) => {
      if (type === IFLA_INFO_KIND) out.kind = cString(d);
      else if (type === IFLA_INFO_DATA) data = d;
      else if (type === IFLA_INFO_SLAVE_KIND) out.slaveKind = cString(d);
      else if (type === IFLA_INFO_SLAVE_DATA) slaveData = d;
    },
    (type) =>
      ['IFLA_INFO_UNSPEC', 'IFLA_INFO_KIND', 'IFLA_INFO_DATA', 'IFLA_INFO_XSTATS', 'IFLA_INFO_SLAVE_KIND', 'IFLA_INFO_SLAVE_DATA'][type],
  );
  if (out.kind && data) out.info = decodeInfoData(out.kind, data);
  if (out.slaveKind && slaveData) out.slaveInfo = decodeSlaveData(out.slaveKind, slaveData);
}

/** Index, name and netdev group only: what a bulk delete checks, read without the rest. */
export interface LinkBrief {
  index: number;
  name: string;
  group: number;
}

/** RTM_NEWLINK's index, IFLA_IFNAME and IFLA_GROUP, with the same checks as decodeLink. */
export function decodeLinkBrief(msg: NetlinkMessage): LinkBrief {
  const d = msg.data;
  if (d.length < 16) throw new DecodeError(`${d.length} bytes where 16 are needed`, 0, 'ifinfomsg');
  const out: LinkBrief = { index: d.readInt32LE(4), name: '', group: 0 };
  // In place (scanAttrs): a dump of thousands of links, two attributes read of each.
  scanAttrs(
    d,
    16,
    (type, start, end) => {
      if (type === 3) out.name = cStringAt(d, start, end);
      else if (type === 27) {
        if (end - start < 4) throw new DecodeError(`${end - start} bytes where 4 are needed`, 0, iflaName(type));
        out.group = d.readUInt32LE(start);
      }
    },
    iflaName,
  );
  return out;
}

/** RTM_NEWLINK's payload (ifinfomsg + IFLA_*) as a Link; DecodeError when it does not hold together. */
export function decodeLink(msg: NetlinkMessage | Buffer): Link {
  const d = Buffer.isBuffer(msg) ? msg : msg.data;
  if (d.length < 16) throw new DecodeError(`${d.length} bytes where 16 are needed`, 0, 'ifinfomsg');
  const rawFlags = d.readUInt32LE(8);
  const link: Link = {
    index: d.readInt32LE(4),
    name: '',
    kind: null,
    master: null,
    operstate: 'UNKNOWN',
    flags: IFF_FLAGS.filter(([bit]) => rawFlags & bit).map(([, n]) => n),
    up: (rawFlags & IFF_UP) !== 0,
    mtu: 0,
    address: null,
    broadcast: null,
    linkType: d.readUInt16LE(2),
  };
  let linkinfo: Buffer | undefined;
  eachAttr(
    d.subarray(16),
    (type, v) => {
      switch (type) {
        case 1: // IFLA_ADDRESS
          if (v.length) link.address = formatMac(v);
          break;
        case 2: // IFLA_BROADCAST
          if (v.length) link.broadcast = formatMac(v);
          break;
        case 3: // IFLA_IFNAME
          link.name = cString(v);
          break;
        case 4: // IFLA_MTU
          link.mtu = u32(v, type);
          break;
        case 5: // IFLA_LINK
          link.link = u32(v, type);
          break;
        case 6: // IFLA_QDISC
          link.qdisc = cString(v);
          break;
        case 10: // IFLA_MASTER
          link.master = u32(v, type) || null;
          break;
        case 13: // IFLA_TXQLEN
          link.txqlen = u32(v, type);
          break;
        case 16: // IFLA_OPERSTATE
          link.operstate = IF_OPER[need(v, 1, 'IFLA_OPERSTATE')[0]] ?? 'UNKNOWN';
          break;
        case 18: // IFLA_LINKINFO
          linkinfo = v;
          break;
        case 20: // IFLA_IFALIAS
          link.alias = cString(v);
          break;
        case 27: // IFLA_GROUP
          link.group = u32(v, type);
          break;
        case 30: // IFLA_PROMISCUITY
          link.promiscuity = u32(v, type);
          break;
        case 33: // IFLA_CARRIER
          link.carrier = need(v, 1, 'IFLA_CARRIER')[0] !== 0;
          break;
        case 37: // IFLA_LINK_NETNSID
          link.linkNetnsId = need(v, 4, 'IFLA_LINK_NETNSID').readInt32LE(0);
          break;
        case 50: // IFLA_MIN_MTU
          link.minMtu = u32(v, type);
          break;
        case 51: // IFLA_MAX_MTU
          link.maxMtu = u32(v, type);
          break;
        case 54: // IFLA_PERM_ADDRESS
          if (v.length) link.permAddress = formatMac(v);
          break;
      }
    },
    iflaName,
  );
  if (linkinfo) decodeLinkInfo(linkinfo, link);
  return link;
}
