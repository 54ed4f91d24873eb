/**
 * Addresses: the request builders (RTM_GETADDR, RTM_NEWADDR, RTM_DELADDR) and the bounds-checked
 * ifaddrmsg + IFA_* decoder, plus the IP text <-> bytes helpers route.ts shares. The verbs are
 * Handle's (listAddresses, addAddress, deleteAddress).
 */
import { ValidationError } from '../errors';
import { NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, RTM_DELADDR, RTM_GETADDR, RTM_NEWADDR } from './constants';
import { nameOf, table } from './attrs';
import { checkDev } from './validate';
import type { EncodeContext, Request } from './request';
import { DecodeError, MessageWriter, cString, eachAttr, need, type NetlinkMessage } from './wire';

/** net.isIP, loaded on first use: node:net (and the streams under it) cost ~2 ms of every start-up. */
const isIP = (s: string): number => (require('net') as typeof import('net')).isIP(s);

export const AF_INET = 2;
export const AF_INET6 = 10;
/** IFA_F_PERMANENT: configured, not autoconfigured or from DHCPv6. */
export const IFA_F_PERMANENT = 0x80;

/** An IPv4 or IPv6 address in text form as 4 or 16 bytes. */
export function ipToBytes(ip: string): Buffer {
  const v = isIP(ip);
  if (v === 4) return Buffer.from(ip.split('.').map(Number));
  if (v !== 6) throw new ValidationError('EINVALIDADDR', `'${ip}' is not an IP address`, 'address');
  let s = ip.replace(/%.*$/, '');
  const v4 = s.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (v4) {
    const b = ipToBytes(v4[1]);
    s = s.slice(0, -v4[1].length) + `${b.readUInt16BE(0).toString(16)}:${b.readUInt16BE(2).toString(16)}`;
  }
  const [head, tail] = s.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined ? (tail ? tail.split(':') : []) : [];
  const groups = tail !== undefined ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** 4 or 16 bytes as text (IPv6 compressed the usual way). */
export function bytesToIp(b: Buffer): string {
  if (b.length === 4) return Array.from(b).join('.');
  const g = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** 'A/N' (or a bare address: /32, /128) -> its parts; 'EINVALIDADDR' when malformed. */
export function parseCidr(cidr: string, field = 'address'): { address: string; prefixlen: number; family: 4 | 6 } {
  if (typeof cidr !== 'string') throw new ValidationError('EINVALIDADDR', `${field}: an address is required`, field);
  const [address, len, extra] = cidr.split('/');
  const family = isIP(address);
  if ((family !== 4 && family !== 6) || extra !== undefined)
    throw new ValidationError('EINVALIDADDR', `${field}: '${cidr}' is not ADDRESS[/PREFIX]`, field);
  const max = family === 4 ? 32 : 128;
  const prefixlen = len === undefined ? max : /^\d+$/.test(len) ? Number(len) : NaN;
  if (!(prefixlen >= 0 && prefixlen <= max))
    throw new ValidationError('EINVALIDADDR', `${field}: prefix of '${cidr}' is not 0-${max}`, field);
  return { address, prefixlen, family };
}

export interface Address {
  family: 4 | 6;
  /** The link's index. */
  index: number;
  /** IFA_LOCAL (IFA_ADDRESS for IPv6): the address itself. */
  address: string;
  prefixlen: number;
  /** IFA_ADDRESS when it differs from IFA_LOCAL (point-to-point peer). */
  peer?: string;
  broadcast?: string;
  label?: string;
  /** RT_SCOPE_*: 0 global, 253 link, 254 host. */
  scope: number;
  /** IFA_F_* bits (IFA_FLAGS when present). */
  flags: number;
}

/** IFA_* (linux/if_addr.h), in the kernel's enum order from 1. */
export const IFA = table('IFA_', [
  ['IFA_ADDRESS', 'binary'],
  ['IFA_LOCAL', 'binary'],
  ['IFA_LABEL', 'string'],
  ['IFA_BROADCAST', 'binary'],
  ['IFA_ANYCAST', 'binary'],
  ['IFA_CACHEINFO', 'binary'],
  ['IFA_MULTICAST', 'binary'],
  ['IFA_FLAGS', 'u32'],
  ['IFA_RT_PRIORITY', 'u32'],
  ['IFA_TARGET_NETNSID', 'u32'],
  ['IFA_PROTO', 'u8'],
]);
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_LABEL = 3;
const IFA_BROADCAST = 4;
const IFA_FLAGS = 8;

/** An address attribute's bytes: 4 for IPv4, 16 for IPv6. */
function ipAttr(d: Buffer, family: number, type: number): Buffer {
  return need(d, family === AF_INET6 ? 16 : 4, nameOf(IFA, type)).subarray(0, family === AF_INET6 ? 16 : 4);
}

/** RTM_NEWADDR's payload (ifaddrmsg + IFA_*) as an Address; DecodeError when it does not hold together. */
export function decodeAddress(msg: NetlinkMessage | Buffer): Address {
  const d = Buffer.isBuffer(msg) ? msg : msg.data;
  if (d.length < 8) throw new DecodeError(`${d.length} bytes where 8 are needed`, 0, 'ifaddrmsg');
  const family = d[0];
  let local: Buffer | undefined;
  let address: Buffer | undefined;
  let flags = d[2];
  const a: Address = { family: family === AF_INET6 ? 6 : 4, index: d.readUInt32LE(4), address: '', prefixlen: d[1], scope: d[3], flags };
  eachAttr(
    d.subarray(8),
    (type, v) => {
      if (type === IFA_ADDRESS) address = ipAttr(v, family, type);
      else if (type === IFA_LOCAL) local = ipAttr(v, family, type);
      else if (type === IFA_BROADCAST) a.broadcast = bytesToIp(ipAttr(v, family, type));
      else if (type === IFA_LABEL) a.label = cString(v);
      else if (type === IFA_FLAGS) flags = need(v, 4, 'IFA_FLAGS').readUInt32LE(0);
    },
    (type) => nameOf(IFA, type),
  );
  a.flags = flags;
  const mine = local ?? address;
  if (mine) a.address = bytesToIp(mine);
  if (address && local && !address.equals(local)) a.peer = bytesToIp(address);
  return a;
}

export interface AddressSpec {
  /** 'A/N'. */
  cidr: string;
  /** IPv4 broadcast; '+' computes it from the prefix, as ip does. */
  broadcast?: string;
  label?: string;
  /** Peer address for point-to-point. */
  peer?: string;
  /**
   * IFA_F_NODAD: skip IPv6 duplicate address detection (the address is usable at once instead
   * of tentative for about a second), for an address this host already owns and is moving.
   */
  nodad?: boolean;
}

export const IFA_F_NODAD = 0x2;

function indexIn(dev: string | number, ctx: EncodeContext): number {
  return typeof dev === 'number' ? dev : (ctx.known(dev) ?? ctx.index(dev));
}

/** Checks an address and returns its encoder (ifaddrmsg + IFA_LOCAL/ADDRESS/BROADCAST/LABEL). */
function addressBody(spec: AddressSpec | string, scope?: number): (w: MessageWriter, index: number) => void {
  const s = typeof spec === 'string' ? { cidr: spec } : spec;
  if (s === null || typeof s !== 'object') throw new ValidationError('EINVALIDADDR', 'address: not an address', 'address');
  const { address, prefixlen, family } = parseCidr(s.cidr);
  const bytes = ipToBytes(address);
  const peer = s.peer !== undefined ? ipToBytes(parseCidr(s.peer, 'peer').address) : bytes;
  let broadcast: Buffer | undefined;
  if (s.broadcast !== undefined && family === 4) {
    if (s.broadcast === '+') {
      const mask = prefixlen === 0 ? 0 : (~0 << (32 - prefixlen)) >>> 0;
      broadcast = Buffer.alloc(4);
      broadcast.writeUInt32BE(((bytes.readUInt32BE(0) & mask) | (~mask >>> 0)) >>> 0);
    } else {
      broadcast = ipToBytes(parseCidr(s.broadcast, 'broadcast').address);
    }
  }
  if (s.label !== undefined && (typeof s.label !== 'string' || Buffer.byteLength(s.label) > 15))
    throw new ValidationError('EINVALIDOPTION', 'label: not a string of at most 15 bytes', 'label');
  if (scope !== undefined && (!Number.isInteger(scope) || scope < 0 || scope > 255))
    throw new ValidationError('EINVALIDOPTION', `scope: '${String(scope)}' is not 0-255`, 'scope');
  const flags = s.nodad && family === 6 ? IFA_F_NODAD : 0;
  const label = s.label;
  return (w, index) => {
    const head = Buffer.alloc(8);
    head[0] = family === 4 ? AF_INET : AF_INET6;
    head[1] = prefixlen;
    head[2] = flags;
    head[3] = scope ?? 0;
    head.writeUInt32LE(index, 4);
    w.bytes(head);
    w.attr(IFA_LOCAL, bytes);
    w.attr(IFA_ADDRESS, peer);
    if (broadcast) w.attr(IFA_BROADCAST, broadcast);
    if (label !== undefined) w.string(IFA_LABEL, label);
  };
}

/**
 * Adds an address to a link.
 * Equivalent to: ip addr add CIDR [broadcast B|+] [label L] [peer P] [scope S] dev DEV
 */
export function addressAdd(dev: string | number, spec: AddressSpec | string, opts: { scope?: number } = {}): Request {
  checkDev(dev);
  const body = addressBody(spec, opts.scope);
  const cidr = typeof spec === 'string' ? spec : spec.cidr;
  return {
    op: `addr add ${cidr} dev ${dev}`,
    dump: false,
    needs: typeof dev === 'string' ? [dev] : [],
    netns: [],
    encode(ctx) {
      const w = new MessageWriter(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, 80);
      body(w, indexIn(dev, ctx));
      return w.finish();
    },
  };
}

/**
 * Removes an address from a link.
 * Equivalent to: ip addr del CIDR dev DEV
 */
export function addressDelete(dev: string | number, cidr: string): Request {
  checkDev(dev);
  const body = addressBody({ cidr });
  return {
    op: `addr del ${cidr} dev ${dev}`,
    dump: false,
    needs: typeof dev === 'string' ? [dev] : [],
    netns: [],
    encode(ctx) {
      const w = new MessageWriter(RTM_DELADDR, 0, 80);
      body(w, indexIn(dev, ctx));
      return w.finish();
    },
  };
}

/**
 * Every address (of one family). The kernel ignores the index in an address dump: callers
 * filter by link.
 * Equivalent to: ip [-4|-6] addr show
 */
export function addressDump(family?: 4 | 6, op = 'addr show'): Request {
  if (family !== undefined && family !== 4 && family !== 6) throw new ValidationError('EINVALIDOPTION', 'family: 4 or 6', 'family');
  return {
    op,
    dump: true,
    needs: [],
    netns: [],
    encode() {
      const head = Buffer.alloc(8);
      head[0] = family === 4 ? AF_INET : family === 6 ? AF_INET6 : 0;
      return new MessageWriter(RTM_GETADDR, NLM_F_DUMP, 32).bytes(head).finish();
    },
  };
}
