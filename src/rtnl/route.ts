/**
 * Route verbs (RTM_GETROUTE, RTM_NEWROUTE, RTM_DELROUTE) on netlink's rtmsg codecs: unicast
 * routes with a destination, gateway, output device, metric and preferred source, in any table.
 * Called through Handle (listRoutes, addRoute, deleteRoute).
 */
import * as rt from 'netlink/dist/rt/structs';
import { ValidationError } from '../errors';
import { AF_INET, AF_INET6, bytesToIp, ipToBytes, parseCidr } from './addr';
import { NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, RTM_DELROUTE, RTM_GETROUTE, RTM_NEWROUTE } from './constants';
import type { Handle } from './handle';
import { encodeWith } from './wire';

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

const num = (v: unknown, names: Record<string, number>): number =>
  typeof v === 'number' ? v : typeof v === 'string' ? (names[v] ?? 0) : 0;
const PROTO: Record<string, number> = { REDIRECT: 1, KERNEL: 2, BOOT: 3, STATIC: 4, RA: 9, DHCP: 16 };
const SCOPE: Record<string, number> = { UNIVERSE: 0, SITE: 200, LINK: 253, HOST: 254, NOWHERE: 255 };
const TYPE: Record<string, number> = {
  UNSPEC: 0,
  UNICAST: 1,
  LOCAL: 2,
  BROADCAST: 3,
  ANYCAST: 4,
  MULTICAST: 5,
  BLACKHOLE: 6,
  UNREACHABLE: 7,
  PROHIBIT: 8,
  THROW: 9,
};

export function decodeRoute(m: rt.RouteMessage): Route {
  const { data, attrs } = m;
  const family = data.family === AF_INET6 ? 6 : 4;
  const r: Route = {
    family,
    dst: attrs.dst ? `${bytesToIp(attrs.dst)}/${data.dstLen ?? 0}` : data.dstLen ? `?/${data.dstLen}` : 'default',
    table: attrs.table ?? data.table ?? 0,
    protocol: num(data.protocol, PROTO),
    scope: num(data.scope, SCOPE),
    type: num(data.type, TYPE),
  };
  if (attrs.gateway) r.gateway = bytesToIp(attrs.gateway);
  if (attrs.oif !== undefined) r.oif = attrs.oif;
  if (attrs.priority !== undefined) r.priority = attrs.priority;
  if (attrs.prefsrc) r.prefsrc = bytesToIp(attrs.prefsrc);
  return r;
}

/** What addRoute/deleteRoute take: a Route without the fields the kernel fills in. */
export interface RouteSpec {
  dst: string;
  gateway?: string;
  oif?: number;
  priority?: number;
  prefsrc?: string;
  table?: number;
  protocol?: number;
  scope?: number;
  type?: number;
}

/** The rtmsg of a route, checked ('EINVALIDADDR'). */
export function routeMessage(spec: RouteSpec): rt.RouteMessage {
  let family: 4 | 6 | undefined;
  const attrs: rt.RouteMessage['attrs'] = {};
  let dstLen = 0;
  if (spec.dst !== 'default') {
    const d = parseCidr(spec.dst, 'dst');
    family = d.family;
    dstLen = d.prefixlen;
    attrs.dst = ipToBytes(d.address);
  }
  if (spec.gateway !== undefined) {
    const g = parseCidr(spec.gateway, 'gateway');
    if (family !== undefined && g.family !== family)
      throw new ValidationError('EINVALIDADDR', 'gateway and destination are of different families', 'gateway');
    family = g.family;
    attrs.gateway = ipToBytes(g.address);
  }
  if (spec.prefsrc !== undefined) attrs.prefsrc = ipToBytes(parseCidr(spec.prefsrc, 'prefsrc').address);
  if (family === undefined) throw new ValidationError('EINVALIDADDR', 'a default route needs a gateway (to know its family)', 'gateway');
  if (spec.oif !== undefined) attrs.oif = spec.oif;
  if (spec.priority !== undefined) attrs.priority = spec.priority;
  const table = spec.table ?? RT_TABLE_MAIN;
  if (table > 255) attrs.table = table;
  const scope = spec.scope ?? (spec.gateway === undefined ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE);
  return {
    kind: 'route',
    data: {
      family: family === 4 ? AF_INET : AF_INET6,
      dstLen,
      table: table > 255 ? 252 /* RT_TABLE_COMPAT */ : table,
      protocol: spec.protocol ?? RTPROT_BOOT,
      scope,
      type: spec.type ?? RTN_UNICAST,
    },
    attrs,
  };
}

/**
 * Routes of a table (default main), optionally only those out of one link.
 * Equivalent to: ip [-6] route show [table T] [dev DEV]
 */
export async function listRoutes(h: Handle, filter: { family?: 4 | 6; dev?: string | number; table?: number } = {}): Promise<Route[]> {
  const oif = filter.dev !== undefined ? await h.indexOf(filter.dev) : undefined;
  const table = filter.table ?? RT_TABLE_MAIN;
  const out: Route[] = [];
  for (const family of filter.family ? [filter.family] : ([4, 6] as const)) {
    const msg: rt.RouteMessage = { kind: 'route', data: { family: family === 4 ? AF_INET : AF_INET6 }, attrs: {} };
    const msgs = await h.socket.request(
      RTM_GETROUTE,
      encodeWith(rt.formatRouteMessage, msg),
      `route show${filter.dev !== undefined ? ` dev ${filter.dev}` : ''}`,
      NLM_F_DUMP,
    );
    for (const m of msgs) {
      if (m.type !== RTM_NEWROUTE) continue;
      const r = decodeRoute(rt.parseRouteMessage(m.data));
      if (r.table === table && (oif === undefined || r.oif === oif)) out.push(r);
    }
  }
  return out;
}

const label = (s: RouteSpec): string => `${s.dst}${s.gateway ? ` via ${s.gateway}` : ''}${s.oif !== undefined ? ` oif ${s.oif}` : ''}`;

/** Equivalent to: ip route add DST [via GW] [dev DEV] [metric N] [src S] [table T] */
export async function addRoute(h: Handle, spec: RouteSpec): Promise<void> {
  await h.socket.request(
    RTM_NEWROUTE,
    encodeWith(rt.formatRouteMessage, routeMessage(spec)),
    `route add ${label(spec)}`,
    NLM_F_CREATE | NLM_F_EXCL,
  );
}

/** Equivalent to: ip route del DST [via GW] [dev DEV] [metric N] [table T] */
export async function deleteRoute(h: Handle, spec: RouteSpec): Promise<void> {
  const msg = routeMessage(spec);
  // Deleting matches on what is given: leave the scope open (RT_SCOPE_NOWHERE) unless set.
  if (spec.scope === undefined) msg.data.scope = 255;
  if (spec.protocol === undefined) msg.data.protocol = 0 as rt.RouteMessage['data']['protocol'];
  await h.socket.request(RTM_DELROUTE, encodeWith(rt.formatRouteMessage, msg), `route del ${label(spec)}`);
}
