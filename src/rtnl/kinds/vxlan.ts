/**
 * kind 'vxlan': IFLA_VXLAN_* (linux/if_link.h). Layer 2 between hosts over UDP: a VNI, the
 * local address, a remote (unicast) or group (multicast) address, the UDP destination port,
 * the underlay device, TTL, learning and the source-port range. Decoded as `ip -d -j` shows it.
 */
import { ValidationError } from '../../errors';
import { bytesToIp, ipToBytes, parseCidr } from '../addr';
import { decodeTable, table } from '../attrs';
import { checkBool, checkDev, checkUint } from '../validate';
import type { MessageWriter } from '../wire';
import { ipBool, ipInt, readIpWords, str, type IpWord } from './ipwords';
import type { EncodeContext, LinkKind } from './kind';

export const IFLA_VXLAN = table('IFLA_VXLAN_', [
  ['IFLA_VXLAN_ID', 'u32'],
  ['IFLA_VXLAN_GROUP', 'binary'],
  ['IFLA_VXLAN_LINK', 'u32'],
  ['IFLA_VXLAN_LOCAL', 'binary'],
  ['IFLA_VXLAN_TTL', 'u8'],
  ['IFLA_VXLAN_TOS', 'u8'],
  ['IFLA_VXLAN_LEARNING', 'u8'],
  ['IFLA_VXLAN_AGEING', 'u32'],
  ['IFLA_VXLAN_LIMIT', 'u32'],
  ['IFLA_VXLAN_PORT_RANGE', 'binary'],
  ['IFLA_VXLAN_PROXY', 'u8'],
  ['IFLA_VXLAN_RSC', 'u8'],
  ['IFLA_VXLAN_L2MISS', 'u8'],
  ['IFLA_VXLAN_L3MISS', 'u8'],
  ['IFLA_VXLAN_PORT', 'u16be'],
  ['IFLA_VXLAN_GROUP6', 'binary'],
  ['IFLA_VXLAN_LOCAL6', 'binary'],
  ['IFLA_VXLAN_UDP_CSUM', 'u8'],
  ['IFLA_VXLAN_UDP_ZERO_CSUM6_TX', 'u8'],
  ['IFLA_VXLAN_UDP_ZERO_CSUM6_RX', 'u8'],
  ['IFLA_VXLAN_REMCSUM_TX', 'u8'],
  ['IFLA_VXLAN_REMCSUM_RX', 'u8'],
  ['IFLA_VXLAN_GBP', 'flag'],
  ['IFLA_VXLAN_REMCSUM_NOPARTIAL', 'flag'],
  ['IFLA_VXLAN_COLLECT_METADATA', 'u8'],
  ['IFLA_VXLAN_LABEL', 'u32'],
  ['IFLA_VXLAN_GPE', 'flag'],
  ['IFLA_VXLAN_TTL_INHERIT', 'u8'],
  ['IFLA_VXLAN_DF', 'u8'],
  ['IFLA_VXLAN_VNIFILTER', 'u8'],
  ['IFLA_VXLAN_LOCALBYPASS', 'u8'],
  ['IFLA_VXLAN_LABEL_POLICY', 'u32'],
  ['IFLA_VXLAN_RESERVED_BITS', 'binary'],
  ['IFLA_VXLAN_MC_ROUTE', 'u8'],
]);

/** A VXLAN device's options, as `ip link add NAME type vxlan ...` takes them. */
export interface VxlanOptions {
  /** The VNI (IFLA_VXLAN_ID), 0-16777215. Required. */
  id?: number;
  /** The unicast remote VTEP (IFLA_VXLAN_GROUP / GROUP6). */
  remote?: string;
  /** A multicast group instead of a remote (needs `dev`). */
  group?: string;
  /** The local VTEP address (IFLA_VXLAN_LOCAL / LOCAL6). */
  local?: string;
  /** The UDP destination port (IFLA_VXLAN_PORT; the kernel's default is 8472, IANA's 4789). */
  dstport?: number;
  /** The underlay device (IFLA_VXLAN_LINK), by name or index. */
  dev?: string | number;
  /** IFLA_VXLAN_TTL (0: inherit from the inner packet's, as the kernel does by default). */
  ttl?: number;
  tos?: number;
  /** Learn remote MACs into the FDB (default on, as the kernel). */
  learning?: boolean;
  /** FDB entry lifetime, seconds. */
  ageing?: number;
  /** The UDP source-port range [low, high]. */
  portRange?: [number, number];
  /** ARP/ND proxy, and the miss notifications. */
  proxy?: boolean;
  l2miss?: boolean;
  l3miss?: boolean;
  udpCsum?: boolean;
}

const checkU = checkUint;

function ip(v: unknown, field: string): { family: 4 | 6; address: string } {
  const c = parseCidr(v as string, field);
  if (c.prefixlen !== (c.family === 4 ? 32 : 128)) throw new ValidationError('EINVALIDADDR', `${field}: an address, no prefix`, field);
  return c;
}

const isMulticast = (a: { family: 4 | 6; address: string }) =>
  a.family === 4 ? Number(a.address.split('.')[0]) >= 224 && Number(a.address.split('.')[0]) <= 239 : /^ff/i.test(a.address);

function check(options: object): VxlanOptions {
  const o = options as VxlanOptions;
  if (o.id === undefined) throw new ValidationError('EINVALIDOPTION', 'id: a vxlan needs a VNI (id N)', 'id');
  const out: VxlanOptions = { id: checkU(o.id, 0xffffff, 'id') };
  if (o.remote !== undefined && o.group !== undefined) throw new ValidationError('EINVALIDOPTION', 'remote and group together', 'group');
  const families = new Set<number>();
  if (o.remote !== undefined) {
    const r = ip(o.remote, 'remote');
    if (isMulticast(r)) throw new ValidationError('EINVALIDADDR', `remote: ${o.remote} is multicast: use group`, 'remote');
    families.add(r.family);
    out.remote = r.address;
  }
  if (o.group !== undefined) {
    const g = ip(o.group, 'group');
    if (!isMulticast(g)) throw new ValidationError('EINVALIDADDR', `group: ${o.group} is not multicast: use remote`, 'group');
    if (o.dev === undefined) throw new ValidationError('EINVALIDOPTION', 'group: a multicast group needs dev DEV', 'dev');
    families.add(g.family);
    out.group = g.address;
  }
  if (o.local !== undefined) {
    const l = ip(o.local, 'local');
    families.add(l.family);
    out.local = l.address;
  }
  if (families.size > 1) throw new ValidationError('EINVALIDADDR', 'local and remote/group are of different families', 'local');
  if (o.dstport !== undefined) out.dstport = checkU(o.dstport, 65535, 'dstport');
  if (o.dev !== undefined) out.dev = checkDev(o.dev, 'dev');
  if (o.ttl !== undefined) out.ttl = checkU(o.ttl, 255, 'ttl');
  if (o.tos !== undefined) out.tos = checkU(o.tos, 255, 'tos');
  if (o.learning !== undefined) out.learning = checkBool(o.learning, 'learning');
  if (o.ageing !== undefined) out.ageing = checkU(o.ageing, 0xffffffff, 'ageing');
  if (o.portRange !== undefined) {
    const r = o.portRange;
    if (!Array.isArray(r) || r.length !== 2) throw new ValidationError('EINVALIDOPTION', 'portRange: [low, high]', 'portRange');
    const [lo, hi] = [checkU(r[0], 65535, 'portRange'), checkU(r[1], 65535, 'portRange')];
    if (lo > hi) throw new ValidationError('EINVALIDOPTION', 'portRange: low above high', 'portRange');
    out.portRange = [lo, hi];
  }
  for (const k of ['proxy', 'l2miss', 'l3miss', 'udpCsum'] as const) if (o[k] !== undefined) out[k] = checkBool(o[k], k);
  return out;
}

const be16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};

function encodeData(w: MessageWriter, options: object, ctx: EncodeContext): void {
  const o = options as VxlanOptions;
  w.u32(1, o.id as number);
  const far = o.remote ?? o.group;
  if (far !== undefined) w.attr(far.includes(':') ? 16 : 2, ipToBytes(far));
  if (o.dev !== undefined) w.u32(3, typeof o.dev === 'number' ? o.dev : (ctx.known(o.dev) ?? ctx.index(o.dev)));
  if (o.local !== undefined) w.attr(o.local.includes(':') ? 17 : 4, ipToBytes(o.local));
  if (o.ttl !== undefined) w.u8(5, o.ttl);
  if (o.tos !== undefined) w.u8(6, o.tos);
  if (o.learning !== undefined) w.u8(7, Number(o.learning));
  if (o.ageing !== undefined) w.u32(8, o.ageing);
  if (o.portRange) w.attr(10, Buffer.concat([be16(o.portRange[0]), be16(o.portRange[1])]));
  if (o.proxy !== undefined) w.u8(11, Number(o.proxy));
  if (o.l2miss !== undefined) w.u8(13, Number(o.l2miss));
  if (o.l3miss !== undefined) w.u8(14, Number(o.l3miss));
  if (o.dstport !== undefined) w.attr(15, be16(o.dstport));
  if (o.udpCsum !== undefined) w.u8(18, Number(o.udpCsum));
}

/** IFLA_INFO_DATA as `ip -d -j` shows a vxlan: id, remote|group, local, link, port, port_range, ttl, learning ... */
export function decodeVxlanData(buf: Buffer): Record<string, unknown> {
  const raw = decodeTable(IFLA_VXLAN, buf);
  const out: Record<string, unknown> = {};
  const addr = (hex: unknown) =>
    typeof hex === 'string' && (hex.length === 8 || hex.length === 32) ? bytesToIp(Buffer.from(hex, 'hex')) : undefined;
  if (raw.id !== undefined) out.id = raw.id;
  const far = addr(raw.group) ?? addr(raw.group6);
  if (far) out[isMulticast({ family: far.includes(':') ? 6 : 4, address: far }) ? 'group' : 'remote'] = far;
  const local = addr(raw.local) ?? addr(raw.local6);
  if (local) out.local = local;
  if (raw.link !== undefined) out.link = raw.link;
  if (raw.port !== undefined) out.port = raw.port;
  if (typeof raw.port_range === 'string' && raw.port_range.length === 8) {
    const b = Buffer.from(raw.port_range, 'hex');
    out.port_range = { low: b.readUInt16BE(0), high: b.readUInt16BE(2) };
  }
  for (const k of ['ttl', 'tos', 'ageing', 'limit', 'df', 'label'] as const) if (raw[k] !== undefined) out[k] = raw[k];
  for (const k of [
    'learning',
    'proxy',
    'rsc',
    'l2miss',
    'l3miss',
    'udp_csum',
    'udp_zero_csum6_tx',
    'udp_zero_csum6_rx',
    'remcsum_tx',
    'remcsum_rx',
    'collect_metadata',
    'vnifilter',
    'localbypass',
    'ttl_inherit',
  ] as const)
    if (raw[k] !== undefined) out[k] = raw[k] === 1;
  for (const k of ['gbp', 'gpe', 'remcsum_nopartial'] as const) if (raw[k] !== undefined) out[k] = true;
  return out;
}

const IP: Record<string, IpWord> = {
  id: { key: 'id', value: ipInt },
  vni: { key: 'id', value: ipInt },
  remote: { key: 'remote', value: str },
  group: { key: 'group', value: str },
  local: { key: 'local', value: str },
  dstport: { key: 'dstport', value: ipInt },
  dev: { key: 'dev', value: str },
  ttl: { key: 'ttl', value: (raw: string, w: string) => (raw === 'inherit' || raw === 'auto' ? 0 : ipInt(raw, w)) },
  hoplimit: { key: 'ttl', value: ipInt },
  tos: { key: 'tos', value: ipInt },
  learning: { key: 'learning', flag: true },
  nolearning: { key: 'learning', flag: false },
  ageing: { key: 'ageing', value: ipInt },
  srcport: { key: 'portRange', values: 2, take: (raw: string[], w: string) => [ipInt(raw[0], w), ipInt(raw[1], w)] },
  port: { key: 'portRange', values: 2, take: (raw: string[], w: string) => [ipInt(raw[0], w), ipInt(raw[1], w)] },
  proxy: { key: 'proxy', flag: true },
  noproxy: { key: 'proxy', flag: false },
  l2miss: { key: 'l2miss', flag: true },
  nol2miss: { key: 'l2miss', flag: false },
  l3miss: { key: 'l3miss', flag: true },
  nol3miss: { key: 'l3miss', flag: false },
  udpcsum: { key: 'udpCsum', flag: true },
  noudpcsum: { key: 'udpCsum', flag: false },
  udp_csum: { key: 'udpCsum', value: ipBool },
};

export const vxlan: LinkKind = {
  kind: 'vxlan',
  data: IFLA_VXLAN,
  decodeData: decodeVxlanData,
  check,
  needs: (o) => (typeof (o as VxlanOptions).dev === 'string' ? [(o as VxlanOptions).dev as string] : []),
  encodeData,
  fromIp: (words) => readIpWords('vxlan', words, IP),
};
