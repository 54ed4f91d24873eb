/**
 * kind 'tun' (tun and tap devices): IFLA_TUN_* (linux/if_link.h), read back over rtnetlink.
 * The kernel creates these only through /dev/net/tun (native/kernel/tun.cc); RTM_NEWLINK with
 * kind tun answers EOPNOTSUPP.
 */
import { decodeTable, table } from '../attrs';
import type { LinkKind } from './kind';

export const IFLA_TUN = table('IFLA_TUN_', [
  ['IFLA_TUN_OWNER', 'u32'],
  ['IFLA_TUN_GROUP', 'u32'],
  ['IFLA_TUN_TYPE', 'u8'],
  ['IFLA_TUN_PI', 'u8'],
  ['IFLA_TUN_VNET_HDR', 'u8'],
  ['IFLA_TUN_PERSIST', 'u8'],
  ['IFLA_TUN_MULTI_QUEUE', 'u8'],
  ['IFLA_TUN_NUM_QUEUES', 'u32'],
  ['IFLA_TUN_NUM_DISABLED_QUEUES', 'u32'],
]);

/** IFF_TUN / IFF_TAP, as IFLA_TUN_TYPE carries them. */
const TUN_TYPES: Record<number, string> = { 1: 'tun', 2: 'tap' };

/**
 * Decoded as `ip -d -j` shows it: type 'tun'|'tap', booleans for pi, vnet_hdr, persist,
 * multi_queue, and owner/group (absent when unset, i.e. -1).
 */
export function decodeTunData(buf: Buffer): Record<string, unknown> {
  const raw = decodeTable(IFLA_TUN, buf);
  const out: Record<string, unknown> = {};
  if (raw.type !== undefined) out.type = TUN_TYPES[raw.type as number] ?? raw.type;
  for (const k of ['pi', 'vnet_hdr', 'persist', 'multi_queue']) if (raw[k] !== undefined) out[k] = raw[k] === 1;
  if (raw.num_queues !== undefined) out.num_queues = raw.num_queues;
  if (raw.num_disabled_queues !== undefined) out.num_disabled_queues = raw.num_disabled_queues;
  for (const k of ['owner', 'group']) if (raw[k] !== undefined && raw[k] !== 0xffffffff) out[k] = raw[k];
  return out;
}

/** The TapOptions of an existing tun/tap device (what createTap takes), from IFLA_TUN_*. */
function readOptions(link: { info?: Record<string, unknown> }): Record<string, unknown> {
  const i = link.info ?? {};
  const out: Record<string, unknown> = {};
  if (i.type !== undefined) out.tun = i.type === 'tun';
  if (i.pi !== undefined) out.pi = i.pi;
  if (i.vnet_hdr !== undefined) out.vnetHdr = i.vnet_hdr;
  if (i.multi_queue !== undefined) out.multiQueue = i.multi_queue;
  if (i.owner !== undefined) out.owner = i.owner;
  if (i.group !== undefined) out.group = i.group;
  return out;
}

/** Made through /dev/net/tun (createTap, or createLink with kind 'tun' in a batch); nothing changes in place. */
export const tun: LinkKind = {
  kind: 'tun',
  data: IFLA_TUN,
  decodeData: decodeTunData,
  readOptions,
  mutable: [],
  defaults: { tun: false, pi: false, vnetHdr: false, multiQueue: false },
};
