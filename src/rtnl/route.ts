/**
 * Routes: the request builders (RTM_GETROUTE, RTM_NEWROUTE, RTM_DELROUTE) for unicast routes with
 * a destination, gateway, output device, metric and preferred source, in any table, and the
 * bounds-checked rtmsg + RTA_* decoder. The verbs are Handle's (listRoutes, addRoute, deleteRoute).
 */
import { ValidationError } from '../errors';
import { checkUint } from './validate';
import { AF_INET, AF_INET6, bytesToIp, ipToBytes, parseCidr } from './addr';
import { NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, RTM_DELROUTE, RTM_GETROUTE, RTM_NEWROUTE } from './constants';
import { nameOf, table } from './attrs';
import type { EncodeContext, Request } from './request';
import { checkIfName } from './validate';
import { DecodeError, MessageWriter, eachAttr, need, type NetlinkMessage } from './wire';

export const RT_TABLE_MAIN = 254;
export const RTPROT_KERNEL = 2;
export const RTPROT_BOOT = 3;
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_LINK = 253;
export const RTN_UNICAST = 1;

export interface Route {
  family: 4 | 6;
  /** 'default' or 'A/N'. */
  dst: string;
  gateway?: string;
  /** Output link index. */
  oif?: number;
  /** Metric (RTA_PRIORITY). */
  priority?: number;
  prefsrc?: string;
  table: number;
  /** RTPROT_*: 2 kernel (made for an address), 3 boot (ip route add), 4 static, 16 dhcp ... */
  protocol: number;
  /** RT_SCOPE_*. */
  scope: number;
  /** RTN_*: 1 unicast, 2 local ... */
  type: number;
}

/** RTA_* (linux/rtnetlink.h), in the kernel's enum order from 1. */
export const RTA = table('RTA_', [
  ['RTA_DST', 'binary'],
  ['RTA_SRC', 'binary'],
  ['RTA_IIF', 'u32'],
  ['RTA_OIF', 'u32'],
  ['RTA_GATEWAY', 'binary'],
  ['RTA_PRIORITY', 'u32'],
  ['RTA_PREFSRC', 'binary'],
  ['RTA_METRICS', 'binary'],
  ['RTA_MULTIPATH', 'binary'],
  ['RTA_PROTOINFO', 'binary'],
  ['RTA_FLOW', 'u32'],
  ['RTA_CACHEINFO', 'binary'],
  ['RTA_SESSION', 'binary'],
  ['RTA_MP_ALGO', 'binary'],
  ['RTA_TABLE', 'u32'],
  ['RTA_MARK', 'u32'],
  ['RTA_MFC_STATS', 'binary'],
  ['RTA_VIA', 'binary'],
  ['RTA_NEWDST', 'binary'],
  ['RTA_PREF', 'u8'],
  ['RTA_ENCAP_TYPE', 'u16'],
  ['RTA_ENCAP', 'binary'],
  ['RTA_EXPIRES', 'u64'],
  null, // RTA_PAD
  ['RTA_UID', 'u32'],
  ['RTA_TTL_PROPAGATE', 'u8'],
  ['RTA_IP_PROTO', 'u8'],
  ['RTA_SPORT', 'u16'],
  ['RTA_DPORT', 'u16'],
  ['RTA_NH_ID', 'u32'],
  ['RTA_FLOWLABEL', 'binary'],
]);
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PRIORITY = 6;
const RTA_PREFSRC = 7;
const RTA_TABLE = 15;

/** RTM_NEWROUTE's payload (rtmsg + RTA_*) as a Route; DecodeError when it does not hold together. */
export function decodeRoute(msg: NetlinkMessage | Buffer): Route {
  const d = Buffer.isBuffer(msg) ? msg : msg.data;
  if (d.length < 12) throw new DecodeError(`${d.length} bytes where 12 are needed`, 0, 'rtmsg');
  const fam = d[0];
  const size = fam === AF_INET6 ? 16 : 4;
  const ip = (v: Buffer, type: number) => bytesToIp(need(v, size, nameOf(RTA, type)).subarray(0, size));
  const r: Route = {
    family: fam === AF_INET6 ? 6 : 4,
    dst: d[1] ? `?/${d[1]}` : 'default',
    table: d[4],
    protocol: d[5],
    scope: d[6],
    type: d[7],
  };
  eachAttr(
    d.subarray(12),
    (type, v) => {
      if (type === RTA_DST) r.dst = `${ip(v, type)}/${d[1]}`;
      else if (type === RTA_GATEWAY) r.gateway = ip(v, type);
      else if (type === RTA_OIF) r.oif = need(v, 4, 'RTA_OIF').readUInt32LE(0);
      else if (type === RTA_PRIORITY) r.priority = need(v, 4, 'RTA_PRIORITY').readUInt32LE(0);
      else if (type === RTA_PREFSRC) r.prefsrc = ip(v, type);
      else if (type === RTA_TABLE) r.table = need(v, 4, 'RTA_TABLE').readUInt32LE(0);
    },
    (type) => nameOf(RTA, type),
  );
  return r;
}

/** What addRoute/deleteRoute take: a Route without the fields the kernel fills in. */
export interface RouteSpec {
  dst: string;
  gateway?: string;
  oif?: number;
  /** The output link by name, resolved when the request is sent (instead of oif). */
  dev?: string;
  priority?: number;
  prefsrc?: string;
  table?: number;
  protocol?: number;
  scope?: number;
  type?: number;
}

const u8 = (v: unknown, field: string): number => checkUint(v, 255, field);
const u32 = (v: unknown, field: string): number => checkUint(v, 0xffffffff, field);

/** Checks a route and returns its encoder (rtmsg + RTA_*). `del` leaves scope and protocol open unless given. */
function routeBody(spec: RouteSpec, del: boolean): (w: MessageWriter, ctx: EncodeContext) => void {
  if (spec === null || typeof spec !== 'object') throw new ValidationError('EINVALIDADDR', 'route: not a route', 'dst');
  let family: 4 | 6 | undefined;
  let dst: Buffer | undefined;
  let gateway: Buffer | undefined;
  let dstLen = 0;
  if (spec.dst !== 'default') {
    const d = parseCidr(spec.dst, 'dst');
    family = d.family;
    dstLen = d.prefixlen;
    dst = ipToBytes(d.address);
  }
  if (spec.gateway !== undefined) {
    const g = parseCidr(spec.gateway, 'gateway');
    if (family !== undefined && g.family !== family)
      throw new ValidationError('EINVALIDADDR', 'gateway and destination are of different families', 'gateway');
    family = g.family;
    gateway = ipToBytes(g.address);
  }
  const prefsrc = spec.prefsrc !== undefined ? ipToBytes(parseCidr(spec.prefsrc, 'prefsrc').address) : undefined;
  if (family === undefined) throw new ValidationError('EINVALIDADDR', 'a default route needs a gateway (to know its family)', 'gateway');
  const oif = spec.oif === undefined ? undefined : u32(spec.oif, 'oif');
  const dev = spec.dev === undefined ? undefined : checkIfName(spec.dev, 'dev');
  if (dev !== undefined && oif !== undefined) throw new ValidationError('EINVALIDOPTION', 'dev and oif together', 'dev');
  const priority = spec.priority === undefined ? undefined : u32(spec.priority, 'priority');
  const table = spec.table === undefined ? RT_TABLE_MAIN : u32(spec.table, 'table');
  // Deleting matches on what is given: scope RT_SCOPE_NOWHERE and protocol 0 leave them open.
  const scope =
    spec.scope !== undefined ? u8(spec.scope, 'scope') : del ? 255 : spec.gateway === undefined ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  const protocol = spec.protocol !== undefined ? u8(spec.protocol, 'protocol') : del ? 0 : RTPROT_BOOT;
  const type = spec.type !== undefined ? u8(spec.type, 'type') : RTN_UNICAST;
  const fam = family;
  return (w, ctx) => {
    const head = Buffer.alloc(12);
    head[0] = fam === 4 ? AF_INET : AF_INET6;
    head[1] = dstLen;
    head[4] = table > 255 ? 252 /* RT_TABLE_COMPAT */ : table;
    head[5] = protocol;
    head[6] = scope;
    head[7] = type;
    w.bytes(head);
    if (table > 255) w.u32(RTA_TABLE, table);
    if (dst) w.attr(RTA_DST, dst);
    if (prefsrc) w.attr(RTA_PREFSRC, prefsrc);
    if (gateway) w.attr(RTA_GATEWAY, gateway);
    if (oif !== undefined) w.u32(RTA_OIF, oif);
    else if (dev !== undefined) w.u32(RTA_OIF, ctx.known(dev) ?? ctx.index(dev));
    if (priority !== undefined) w.u32(RTA_PRIORITY, priority);
  };
}

const label = (s: RouteSpec): string =>
  `${s.dst}${s.gateway ? ` via ${s.gateway}` : ''}${s.dev !== undefined ? ` dev ${s.dev}` : s.oif !== undefined ? ` oif ${s.oif}` : ''}`;

/**
 * Adds a route (the output link by index, oif, or by name, dev).
 * Equivalent to: ip route add DST [via GW] [dev DEV] [metric N] [src S] [table T] [proto P]
 */
export function routeAdd(spec: RouteSpec): Request {
  const body = routeBody(spec, false);
  return {
    op: `route add ${label(spec)}`,
    dump: false,
    needs: spec.dev !== undefined ? [spec.dev] : [],
    netns: [],
    encode: (ctx) => {
      const w = new MessageWriter(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, 80);
      body(w, ctx);
      return w.finish();
    },
  };
}

/**
 * Deletes a route, matching on what is given.
 * Equivalent to: ip route del DST [via GW] [dev DEV] [metric N] [table T]
 */
export function routeDelete(spec: RouteSpec): Request {
  const body = routeBody(spec, true);
  return {
    op: `route del ${label(spec)}`,
    dump: false,
    needs: spec.dev !== undefined ? [spec.dev] : [],
    netns: [],
    encode: (ctx) => {
      const w = new MessageWriter(RTM_DELROUTE, 0, 80);
      body(w, ctx);
      return w.finish();
    },
  };
}

/**
 * Every route of one family (all tables; callers filter).
 * Equivalent to: ip [-4|-6] route show table all
 */
export function routeDump(family: 4 | 6, op = 'route show'): Request {
  if (family !== 4 && family !== 6) throw new ValidationError('EINVALIDOPTION', 'family: 4 or 6', 'family');
  return {
    op,
    dump: true,
    needs: [],
    netns: [],
    encode: () => {
      const head = Buffer.alloc(12);
      head[0] = family === 4 ? AF_INET : AF_INET6;
      return new MessageWriter(RTM_GETROUTE, NLM_F_DUMP, 32).bytes(head).finish();
    },
  };
}
