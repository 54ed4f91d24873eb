/**
 * kind 'bridge': IFLA_BR_* (linux/if_link.h), plus IFLA_BRPORT_* for its ports.
 * Time values are in the kernel's clock_t units (1/100 s), as `ip -d link` shows them.
 */
import { decodeTable, encodeTable, table } from '../attrs';
import type { LinkKind } from './kind';
import { checkBool, checkUint } from '../validate';
import { ipBool, ipInt, readIpWords, type IpWord } from './ipwords';

export const IFLA_BR = table('IFLA_BR_', [
  ['IFLA_BR_FORWARD_DELAY', 'u32'],
  ['IFLA_BR_HELLO_TIME', 'u32'],
  ['IFLA_BR_MAX_AGE', 'u32'],
  ['IFLA_BR_AGEING_TIME', 'u32'],
  ['IFLA_BR_STP_STATE', 'u32'],
  ['IFLA_BR_PRIORITY', 'u16'],
  ['IFLA_BR_VLAN_FILTERING', 'u8'],
  ['IFLA_BR_VLAN_PROTOCOL', 'u16be'],
  ['IFLA_BR_GROUP_FWD_MASK', 'u16'],
  ['IFLA_BR_ROOT_ID', 'binary'],
  ['IFLA_BR_BRIDGE_ID', 'binary'],
  ['IFLA_BR_ROOT_PORT', 'u16'],
  ['IFLA_BR_ROOT_PATH_COST', 'u32'],
  ['IFLA_BR_TOPOLOGY_CHANGE', 'u8'],
  ['IFLA_BR_TOPOLOGY_CHANGE_DETECTED', 'u8'],
  ['IFLA_BR_HELLO_TIMER', 'u64'],
  ['IFLA_BR_TCN_TIMER', 'u64'],
  ['IFLA_BR_TOPOLOGY_CHANGE_TIMER', 'u64'],
  ['IFLA_BR_GC_TIMER', 'u64'],
  ['IFLA_BR_GROUP_ADDR', 'mac'],
  ['IFLA_BR_FDB_FLUSH', 'flag'],
  ['IFLA_BR_MCAST_ROUTER', 'u8'],
  ['IFLA_BR_MCAST_SNOOPING', 'u8'],
  ['IFLA_BR_MCAST_QUERY_USE_IFADDR', 'u8'],
  ['IFLA_BR_MCAST_QUERIER', 'u8'],
  ['IFLA_BR_MCAST_HASH_ELASTICITY', 'u32'],
  ['IFLA_BR_MCAST_HASH_MAX', 'u32'],
  ['IFLA_BR_MCAST_LAST_MEMBER_CNT', 'u32'],
  ['IFLA_BR_MCAST_STARTUP_QUERY_CNT', 'u32'],
  ['IFLA_BR_MCAST_LAST_MEMBER_INTVL', 'u64'],
  ['IFLA_BR_MCAST_MEMBERSHIP_INTVL', 'u64'],
  ['IFLA_BR_MCAST_QUERIER_INTVL', 'u64'],
  ['IFLA_BR_MCAST_QUERY_INTVL', 'u64'],
  ['IFLA_BR_MCAST_QUERY_RESPONSE_INTVL', 'u64'],
  ['IFLA_BR_MCAST_STARTUP_QUERY_INTVL', 'u64'],
  ['IFLA_BR_NF_CALL_IPTABLES', 'u8'],
  ['IFLA_BR_NF_CALL_IP6TABLES', 'u8'],
  ['IFLA_BR_NF_CALL_ARPTABLES', 'u8'],
  ['IFLA_BR_VLAN_DEFAULT_PVID', 'u16'],
  null, // IFLA_BR_PAD
  ['IFLA_BR_VLAN_STATS_ENABLED', 'u8'],
  ['IFLA_BR_MCAST_STATS_ENABLED', 'u8'],
  ['IFLA_BR_MCAST_IGMP_VERSION', 'u8'],
  ['IFLA_BR_MCAST_MLD_VERSION', 'u8'],
  ['IFLA_BR_VLAN_STATS_PER_PORT', 'u8'],
  ['IFLA_BR_MULTI_BOOLOPT', 'binary'],
  ['IFLA_BR_MCAST_QUERIER_STATE', 'binary'],
  ['IFLA_BR_FDB_N_LEARNED', 'u32'],
  ['IFLA_BR_FDB_MAX_LEARNED', 'u32'],
]);

export const IFLA_BRPORT = table('IFLA_BRPORT_', [
  ['IFLA_BRPORT_STATE', 'u8'],
  ['IFLA_BRPORT_PRIORITY', 'u16'],
  ['IFLA_BRPORT_COST', 'u32'],
  ['IFLA_BRPORT_MODE', 'u8'],
  ['IFLA_BRPORT_GUARD', 'u8'],
  ['IFLA_BRPORT_PROTECT', 'u8'],
  ['IFLA_BRPORT_FAST_LEAVE', 'u8'],
  ['IFLA_BRPORT_LEARNING', 'u8'],
  ['IFLA_BRPORT_UNICAST_FLOOD', 'u8'],
  ['IFLA_BRPORT_PROXYARP', 'u8'],
  ['IFLA_BRPORT_LEARNING_SYNC', 'u8'],
  ['IFLA_BRPORT_PROXYARP_WIFI', 'u8'],
  ['IFLA_BRPORT_ROOT_ID', 'binary'],
  ['IFLA_BRPORT_BRIDGE_ID', 'binary'],
  ['IFLA_BRPORT_DESIGNATED_PORT', 'u16'],
  ['IFLA_BRPORT_DESIGNATED_COST', 'u16'],
  ['IFLA_BRPORT_ID', 'u16'],
  ['IFLA_BRPORT_NO', 'u16'],
  ['IFLA_BRPORT_TOPOLOGY_CHANGE_ACK', 'u8'],
  ['IFLA_BRPORT_CONFIG_PENDING', 'u8'],
  ['IFLA_BRPORT_MESSAGE_AGE_TIMER', 'u64'],
  ['IFLA_BRPORT_FORWARD_DELAY_TIMER', 'u64'],
  ['IFLA_BRPORT_HOLD_TIMER', 'u64'],
  ['IFLA_BRPORT_FLUSH', 'flag'],
  ['IFLA_BRPORT_MULTICAST_ROUTER', 'u8'],
  null, // IFLA_BRPORT_PAD
  ['IFLA_BRPORT_MCAST_FLOOD', 'u8'],
  ['IFLA_BRPORT_MCAST_TO_UCAST', 'u8'],
  ['IFLA_BRPORT_VLAN_TUNNEL', 'u8'],
  ['IFLA_BRPORT_BCAST_FLOOD', 'u8'],
  ['IFLA_BRPORT_GROUP_FWD_MASK', 'u16'],
  ['IFLA_BRPORT_NEIGH_SUPPRESS', 'u8'],
  ['IFLA_BRPORT_ISOLATED', 'u8'],
  ['IFLA_BRPORT_BACKUP_PORT', 'u32'],
  ['IFLA_BRPORT_MRP_RING_OPEN', 'u8'],
  ['IFLA_BRPORT_MRP_IN_OPEN', 'u8'],
  ['IFLA_BRPORT_MCAST_EHT_HOSTS_LIMIT', 'u32'],
  ['IFLA_BRPORT_MCAST_EHT_HOSTS_CNT', 'u32'],
  ['IFLA_BRPORT_LOCKED', 'u8'],
  ['IFLA_BRPORT_MAB', 'u8'],
  ['IFLA_BRPORT_MCAST_N_GROUPS', 'u32'],
  ['IFLA_BRPORT_MCAST_MAX_GROUPS', 'u32'],
  ['IFLA_BRPORT_NEIGH_VLAN_SUPPRESS', 'u8'],
  ['IFLA_BRPORT_BACKUP_NHID', 'u32'],
]);

/** Options of a new bridge, as `ip link add NAME type bridge ...` takes them. */
export interface BridgeOptions {
  /** Spanning tree on (IFLA_BR_STP_STATE). Default: off, as the kernel. */
  stp?: boolean;
  /** IFLA_BR_FORWARD_DELAY in 1/100 s (ip's forward_delay; the kernel default is 1500). */
  forwardDelay?: number;
  /** IFLA_BR_VLAN_FILTERING. */
  vlanFiltering?: boolean;
  /** IFLA_BR_MCAST_SNOOPING: off halves attach/detach cost on a bridge with many ports. */
  mcastSnooping?: boolean;
  /** IFLA_BR_PRIORITY (0-65535). */
  priority?: number;
  /** IFLA_BR_AGEING_TIME in 1/100 s. */
  ageingTime?: number;
  /** IFLA_BR_VLAN_DEFAULT_PVID. */
  vlanDefaultPvid?: number;
  /** IFLA_MTU, set in the create message. */
  mtu?: number;
  /** IFLA_ADDRESS, set in the create message so udev's MAC policy never rewrites it. */
  address?: string;
}

const checkU = checkUint;
const checkFlag = (v: unknown, field: string): number => Number(checkBool(v, field));

/** Checks bridge options and returns IFLA_BR_* values by table key; throws ValidationError. */
function check(options: object): Record<string, unknown> {
  const o = options as BridgeOptions;
  const opt = <T>(v: T | undefined, fn: (v: T) => number) => (v === undefined ? undefined : fn(v));
  return {
    forward_delay: opt(o.forwardDelay, (v) => checkU(v, 3000, 'forwardDelay')),
    stp_state: opt(o.stp, (v) => checkFlag(v, 'stp')),
    priority: opt(o.priority, (v) => checkU(v, 65535, 'priority')),
    vlan_filtering: opt(o.vlanFiltering, (v) => checkFlag(v, 'vlanFiltering')),
    ageing_time: opt(o.ageingTime, (v) => checkU(v, 0xffffffff, 'ageingTime')),
    mcast_snooping: opt(o.mcastSnooping, (v) => checkFlag(v, 'mcastSnooping')),
    vlan_default_pvid: opt(o.vlanDefaultPvid, (v) => checkU(v, 4094, 'vlanDefaultPvid')),
  };
}

const IP: Record<string, IpWord> = {
  stp_state: { key: 'stp', value: ipBool },
  forward_delay: { key: 'forwardDelay', value: ipInt },
  priority: { key: 'priority', value: ipInt },
  vlan_filtering: { key: 'vlanFiltering', value: ipBool },
  mcast_snooping: { key: 'mcastSnooping', value: ipBool },
  ageing_time: { key: 'ageingTime', value: ipInt },
  vlan_default_pvid: { key: 'vlanDefaultPvid', value: ipInt },
};

/** BridgeOptions key -> IFLA_BR_* table key, and how the kernel's value reads as the option. */
const READ: ReadonlyArray<[keyof BridgeOptions, string, (v: number) => unknown]> = [
  ['stp', 'stp_state', (v) => v !== 0],
  ['forwardDelay', 'forward_delay', (v) => v],
  ['priority', 'priority', (v) => v],
  ['vlanFiltering', 'vlan_filtering', (v) => v !== 0],
  ['ageingTime', 'ageing_time', (v) => v],
  ['mcastSnooping', 'mcast_snooping', (v) => v !== 0],
  ['vlanDefaultPvid', 'vlan_default_pvid', (v) => v],
];

/** The options `check` takes, read back from IFLA_BR_* (those the kernel reports: no vlan_* without CONFIG_BRIDGE_VLAN_FILTERING). */
function readOptions(link: { info?: Record<string, unknown> }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, attr, conv] of READ) {
    const v = link.info?.[attr];
    if (typeof v === 'number') out[key] = conv(v);
  }
  return out;
}

export const bridge: LinkKind = {
  kind: 'bridge',
  fromIp: (words) => readIpWords('bridge', words, IP),
  data: IFLA_BR,
  slaveData: IFLA_BRPORT,
  check,
  encodeData: (w, values) => encodeTable(w, IFLA_BR, values as Record<string, unknown>),
  readOptions,
  // Every option changes in place: ip link set BR type bridge stp_state 1 ...
  mutable: READ.map(([key]) => key),
  // br_stp_recalculate_bridge_id: the lowest port MAC, unless one was set.
  addressFromPorts: true,
  // The kernel's (br_dev_setup, br_multicast_init).
  defaults: {
    stp: false,
    forwardDelay: 1500,
    priority: 32768,
    vlanFiltering: false,
    ageingTime: 30000,
    mcastSnooping: true,
    vlanDefaultPvid: 1,
  },
};

export const decodeBridgeData = (buf: Buffer) => decodeTable(IFLA_BR, buf);
