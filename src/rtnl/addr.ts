/**
 * Address verbs (RTM_GETADDR, RTM_NEWADDR, RTM_DELADDR), on netlink's ifaddrmsg codecs, and the
 * IP text <-> bytes helpers route.ts shares. Called through Handle (listAddresses, addAddress,
 * deleteAddress); input is checked before any request is sent.
 */
import { isIP } from 'net';
import * as rt from 'netlink/dist/rt/structs';
import { ValidationError } from '../errors';
import { NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, RTM_DELADDR, RTM_GETADDR, RTM_NEWADDR } from './constants';
import type { Handle } from './handle';
import { encodeWith } from './wire';

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

const flagBits = (f: unknown): number => {
  if (typeof f === 'number') return f;
  const names: Record<string, number> = {
    secondary: 0x1,
    nodad: 0x2,
    optimistic: 0x4,
    dadfailed: 0x8,
    homeaddress: 0x10,
    deprecated: 0x20,
    tentative: 0x40,
    permanent: 0x80,
    managetempaddr: 0x100,
    noprefixroute: 0x200,
    mcautojoin: 0x400,
    stablePrivacy: 0x800,
  };
  let n = 0;
  for (const [k, v] of Object.entries((f ?? {}) as Record<string, unknown>)) if (v === true && names[k]) n |= names[k];
  return n;
};

export function decodeAddress(m: rt.AddressMessage): Address {
  const { data, attrs } = m;
  const local = attrs.local ?? attrs.address;
  const a: Address = {
    family: data.family === AF_INET6 ? 6 : 4,
    index: data.index ?? 0,
    address: local ? bytesToIp(local) : '',
    prefixlen: data.prefixlen ?? 0,
    scope: data.scope ?? 0,
    flags: flagBits(attrs.flags ?? data.flags),
  };
  if (attrs.address && attrs.local && !attrs.address.equals(attrs.local)) a.peer = bytesToIp(attrs.address);
  if (attrs.broadcast) a.broadcast = bytesToIp(attrs.broadcast);
  if (attrs.label) a.label = attrs.label;
  return a;
}

/**
 * The addresses of one link, or of all. Equivalent to: ip addr show [dev DEV]
 */
export async function listAddresses(h: Handle, filter: { dev?: string | number; family?: 4 | 6 } = {}): Promise<Address[]> {
  const index = filter.dev !== undefined ? await h.indexOf(filter.dev) : 0;
  const family = filter.family === 4 ? AF_INET : filter.family === 6 ? AF_INET6 : 0;
  const msgs = await h.socket.request(
    RTM_GETADDR,
    encodeWith(rt.formatAddressMessage, { kind: 'address', data: { family, index }, attrs: {} }),
    `addr show${filter.dev !== undefined ? ` dev ${filter.dev}` : ''}`,
    NLM_F_DUMP,
  );
  return msgs
    .filter((m) => m.type === RTM_NEWADDR)
    .map((m) => decodeAddress(rt.parseAddressMessage(m.data)))
    .filter((a) => (!index || a.index === index) && (!filter.family || a.family === filter.family));
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

/** The request of addAddress/deleteAddress, checked. */
export function addressMessage(index: number, spec: AddressSpec, scope?: number): rt.AddressMessage {
  const { address, prefixlen, family } = parseCidr(spec.cidr);
  const bytes = ipToBytes(address);
  const attrs: rt.AddressMessage['attrs'] = {
    local: bytes,
    address: spec.peer !== undefined ? ipToBytes(parseCidr(spec.peer, 'peer').address) : bytes,
  };
  if (spec.broadcast !== undefined && family === 4) {
    if (spec.broadcast === '+') {
      const mask = prefixlen === 0 ? 0 : (~0 << (32 - prefixlen)) >>> 0;
      const b = Buffer.alloc(4);
      b.writeUInt32BE(((bytes.readUInt32BE(0) & mask) | (~mask >>> 0)) >>> 0);
      attrs.broadcast = b;
    } else {
      attrs.broadcast = ipToBytes(parseCidr(spec.broadcast, 'broadcast').address);
    }
  }
  if (spec.label !== undefined) attrs.label = spec.label;
  const data: rt.AddressMessage['data'] = { family: family === 4 ? AF_INET : AF_INET6, prefixlen, index };
  if (spec.nodad && family === 6) data.flags = { nodad: true };
  if (scope !== undefined) data.scope = scope;
  return { kind: 'address', data, attrs };
}

/** Equivalent to: ip addr add CIDR [broadcast B] [label L] [peer P] dev DEV */
export async function addAddress(
  h: Handle,
  dev: string | number,
  spec: AddressSpec | string,
  opts: { scope?: number } = {},
): Promise<void> {
  const s = typeof spec === 'string' ? { cidr: spec } : spec;
  const msg = addressMessage(0, s, opts.scope);
  msg.data.index = await h.indexOf(dev);
  await h.socket.request(RTM_NEWADDR, encodeWith(rt.formatAddressMessage, msg), `addr add ${s.cidr} dev ${dev}`, NLM_F_CREATE | NLM_F_EXCL);
}

/** Equivalent to: ip addr del CIDR dev DEV */
export async function deleteAddress(h: Handle, dev: string | number, cidr: string): Promise<void> {
  const msg = addressMessage(0, { cidr });
  msg.data.index = await h.indexOf(dev);
  await h.socket.request(RTM_DELADDR, encodeWith(rt.formatAddressMessage, msg), `addr del ${cidr} dev ${dev}`);
}
