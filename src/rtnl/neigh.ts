/**
 * Neighbours (the ARP/NDP cache) and bridge FDB entries: both are RTM_*NEIGH messages (ndmsg +
 * NDA_*), the FDB with family AF_BRIDGE. The request builders (RTM_GETNEIGH, RTM_NEWNEIGH,
 * RTM_DELNEIGH) and the bounds-checked decoder; the verbs are Handle's.
 */
import { ValidationError } from '../errors';
import { NLM_F_APPEND, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE, RTM_DELNEIGH, RTM_GETNEIGH, RTM_NEWNEIGH } from './constants';
import { AF_INET, AF_INET6, bytesToIp, ipToBytes, parseCidr } from './addr';
import { formatMac, nameOf, parseMacBytes, table } from './attrs';
import { checkDev, checkMac, checkUint } from './validate';
import type { EncodeContext, Request } from './request';
import { DecodeError, MessageWriter, eachAttr, need, type NetlinkMessage } from './wire';

export const AF_BRIDGE = 7;

/** NDA_* (linux/neighbour.h), in the kernel's enum order from 1. */
export const NDA = table('NDA_', [
  ['NDA_DST', 'binary'],
  ['NDA_LLADDR', 'mac'],
  ['NDA_CACHEINFO', 'binary'],
  ['NDA_PROBES', 'u32'],
  ['NDA_VLAN', 'u16'],
  ['NDA_PORT', 'u16be'],
  ['NDA_VNI', 'u32'],
  ['NDA_IFINDEX', 'u32'],
  ['NDA_MASTER', 'u32'],
  ['NDA_LINK_NETNSID', 'u32'],
  ['NDA_SRC_VNI', 'u32'],
  ['NDA_PROTOCOL', 'u8'],
  ['NDA_NH_ID', 'u32'],
  ['NDA_FDB_EXT_ATTRS', 'binary'],
  ['NDA_FLAGS_EXT', 'u32'],
  ['NDA_NDM_STATE_MASK', 'u16'],
  ['NDA_NDM_FLAGS_MASK', 'u8'],
]);
const NDA_DST = 1;
const NDA_LLADDR = 2;
const NDA_PORT = 6;
const NDA_VNI = 7;
const NDA_IFINDEX = 8;
const NDA_MASTER = 9;

/** NUD_* states by name, as `ip neigh` prints them. */
export const NUD: Record<string, number> = {
  INCOMPLETE: 0x01,
  REACHABLE: 0x02,
  STALE: 0x04,
  DELAY: 0x08,
  PROBE: 0x10,
  FAILED: 0x20,
  NOARP: 0x40,
  PERMANENT: 0x80,
};
/** NTF_* flags by name. */
export const NTF: Record<string, number> = {
  use: 0x01,
  self: 0x02,
  master: 0x04,
  proxy: 0x08,
  extern_learn: 0x10,
  offload: 0x20,
  sticky: 0x40,
  router: 0x80,
};

export interface Neighbour {
  /** 4, 6, or 'bridge' for an FDB entry. */
  family: 4 | 6 | 'bridge';
  /** The link's index. */
  index: number;
  /** NDA_DST: the IP (neighbours), or the remote of a VXLAN FDB entry. */
  dst?: string;
  /** NDA_LLADDR: the MAC. */
  lladdr?: string;
  /** NUD_* names: ['REACHABLE'], ['PERMANENT'] ... ([] for NUD_NONE). */
  state: string[];
  /** NTF_* names: ['self'], ['master'], ['extern_learn'] ... */
  flags: string[];
  vlan?: number;
  /** NDA_MASTER: the bridge of an FDB entry. */
  master?: number;
  /** NDA_VNI (VXLAN FDB). */
  vni?: number;
  /** NDA_PORT (VXLAN FDB). */
  port?: number;
  /** NDA_IFINDEX: the VXLAN FDB entry's outgoing device. */
  via?: number;
}

const names = (bits: number, table: Record<string, number>) =>
  Object.entries(table)
    .filter(([, b]) => bits & b)
    .map(([n]) => n);

/** RTM_NEWNEIGH's payload (ndmsg + NDA_*) as a Neighbour; DecodeError when it does not hold together. */
export function decodeNeighbour(msg: NetlinkMessage | Buffer): Neighbour {
  const d = Buffer.isBuffer(msg) ? msg : msg.data;
  if (d.length < 12) throw new DecodeError(`${d.length} bytes where 12 are needed`, 0, 'ndmsg');
  const fam = d[0];
  const n: Neighbour = {
    family: fam === AF_BRIDGE ? 'bridge' : fam === AF_INET6 ? 6 : 4,
    index: d.readInt32LE(4),
    state: names(d.readUInt16LE(8), NUD),
    flags: names(d[10], NTF),
  };
  eachAttr(
    d.subarray(12),
    (type, v) => {
      const name = nameOf(NDA, type);
      if (type === NDA_DST) {
        if (v.length !== 4 && v.length !== 16) throw new DecodeError(`${v.length} bytes is not an IP address`, 0, name);
        n.dst = bytesToIp(v);
      } else if (type === NDA_LLADDR) {
        if (v.length) n.lladdr = formatMac(v);
      } else if (type === 5) n.vlan = need(v, 2, name).readUInt16LE(0);
      else if (type === NDA_MASTER) n.master = need(v, 4, name).readUInt32LE(0);
      else if (type === NDA_VNI) n.vni = need(v, 4, name).readUInt32LE(0);
      else if (type === NDA_PORT) n.port = need(v, 2, name).readUInt16BE(0);
      else if (type === NDA_IFINDEX) n.via = need(v, 4, name).readUInt32LE(0);
    },
    (type) => nameOf(NDA, type),
  );
  return n;
}

/** What neighAdd/neighDelete take. */
export interface NeighbourSpec {
  /** The IP (ip neigh), or for an FDB entry on a VXLAN device the remote (`dst`). */
  dst?: string;
  /** The MAC (`lladdr`, or the FDB entry's address). */
  lladdr?: string;
  /** NUD state name (default PERMANENT; FDB default: 'permanent' for local, 'NOARP' for self on vxlan). */
  state?: string;
  /** FDB: NTF_SELF (the device's own table, e.g. VXLAN's) and/or NTF_MASTER (the bridge's). */
  self?: boolean;
  master?: boolean;
  /** FDB: the VLAN. */
  vlan?: number;
  /** FDB on VXLAN: the VNI and UDP port of the remote. */
  vni?: number;
  port?: number;
  /** FDB entries are family AF_BRIDGE. */
  fdb?: boolean;
}

export type NeighVerb = 'add' | 'replace' | 'append' | 'del';

const FLAGS: Record<NeighVerb, number> = {
  add: NLM_F_CREATE | NLM_F_EXCL,
  replace: NLM_F_CREATE | NLM_F_REPLACE,
  append: NLM_F_CREATE | NLM_F_APPEND,
  del: 0,
};

const checkU = checkUint;

/**
 * A neighbour or FDB entry to add, replace, append or delete on a link.
 * Equivalent to: ip neigh add|replace|del ADDR lladdr MAC dev DEV [nud STATE];
 *                bridge fdb add|append|replace|del MAC dev DEV [dst IP] [vni N] [port P] [vlan V] [self] [master]
 */
export function neighbourRequest(verb: NeighVerb, dev: string | number, spec: NeighbourSpec): Request {
  checkDev(dev);
  if (!FLAGS[verb] && verb !== 'del')
    throw new ValidationError('EINVALIDOP', `'${String(verb)}' is not add, replace, append or del`, 'verb');
  if (spec === null || typeof spec !== 'object') throw new ValidationError('EINVALIDOPTION', 'neighbour: not an object', 'spec');
  const dst = spec.dst === undefined ? undefined : parseCidr(spec.dst, 'dst');
  if (dst && dst.prefixlen !== (dst.family === 4 ? 32 : 128))
    throw new ValidationError('EINVALIDADDR', 'dst: a single address, no prefix', 'dst');
  const lladdr = spec.lladdr === undefined ? undefined : spec.fdb ? checkFdbMac(spec.lladdr) : checkMac(spec.lladdr, 'lladdr');
  if (spec.fdb && lladdr === undefined) throw new ValidationError('EINVALIDMAC', 'lladdr: an FDB entry needs a MAC', 'lladdr');
  if (!spec.fdb && dst === undefined) throw new ValidationError('EINVALIDADDR', 'dst: a neighbour needs an IP address', 'dst');
  if (!spec.fdb && verb !== 'del' && lladdr === undefined && spec.state?.toUpperCase() !== 'NOARP')
    throw new ValidationError('EINVALIDMAC', 'lladdr: a neighbour needs a MAC', 'lladdr');
  const stateName = (spec.state ?? (spec.fdb ? (spec.self ? 'NOARP' : 'PERMANENT') : 'PERMANENT')).toUpperCase();
  const state = NUD[stateName];
  if (state === undefined)
    throw new ValidationError('EINVALIDOPTION', `state: '${spec.state}' is not one of ${Object.keys(NUD).join(', ')}`, 'state');
  const vlan = spec.vlan === undefined ? undefined : checkU(spec.vlan, 4094, 'vlan');
  const vni = spec.vni === undefined ? undefined : checkU(spec.vni, 0xffffff, 'vni');
  const port = spec.port === undefined ? undefined : checkU(spec.port, 65535, 'port');
  let flags = (spec.self ? NTF.self : 0) | (spec.master ? NTF.master : 0);
  if (spec.fdb && !flags) flags = NTF.self;
  const family = spec.fdb ? AF_BRIDGE : dst?.family === 6 ? AF_INET6 : AF_INET;
  const what = spec.fdb ? `fdb ${verb} ${lladdr}` : `neigh ${verb} ${spec.dst}`;
  return {
    op: `${what} dev ${dev}`,
    dump: false,
    needs: typeof dev === 'string' ? [dev] : [],
    netns: [],
    encode(ctx: EncodeContext) {
      const w = new MessageWriter(verb === 'del' ? RTM_DELNEIGH : RTM_NEWNEIGH, FLAGS[verb], 64);
      const head = Buffer.alloc(12);
      head[0] = family;
      head.writeInt32LE(typeof dev === 'number' ? dev : (ctx.known(dev) ?? ctx.index(dev)), 4);
      head.writeUInt16LE(state, 8);
      head[10] = flags;
      w.bytes(head);
      if (dst) w.attr(NDA_DST, ipToBytes(dst.address));
      if (lladdr !== undefined) w.attr(NDA_LLADDR, parseMacBytes(lladdr));
      if (vlan !== undefined) w.u16(5, vlan);
      if (port !== undefined) {
        const b = Buffer.alloc(2);
        b.writeUInt16BE(port);
        w.attr(NDA_PORT, b);
      }
      if (vni !== undefined) w.u32(NDA_VNI, vni);
      return w.finish();
    },
  };
}

/** An FDB MAC: any Ethernet address, the all-zeros flood entry and multicast included. */
function checkFdbMac(mac: unknown): string {
  if (typeof mac !== 'string' || !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac))
    throw new ValidationError('EINVALIDMAC', `lladdr: '${String(mac)}' is not a MAC address (aa:bb:cc:dd:ee:ff)`, 'lladdr');
  return mac.toLowerCase();
}

/**
 * Every neighbour of a family, or the bridge FDB (family 'bridge').
 * Equivalent to: ip [-4|-6] neigh show; bridge fdb show
 */
export function neighbourDump(family?: 4 | 6 | 'bridge', op = family === 'bridge' ? 'fdb show' : 'neigh show'): Request {
  if (family !== undefined && family !== 4 && family !== 6 && family !== 'bridge')
    throw new ValidationError('EINVALIDOPTION', "family: 4, 6 or 'bridge'", 'family');
  return {
    op,
    dump: true,
    needs: [],
    netns: [],
    encode() {
      const head = Buffer.alloc(12);
      head[0] = family === 'bridge' ? AF_BRIDGE : family === 6 ? AF_INET6 : family === 4 ? AF_INET : 0;
      return new MessageWriter(RTM_GETNEIGH, NLM_F_DUMP, 32).bytes(head).finish();
    },
  };
}
