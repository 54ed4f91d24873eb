/**
 * plan(desired, current): the minimal list of changes that makes a namespace's state (as read
 * by readState in state.ts) what a checked state document says, in a safe order, each with the
 * batch operations it sends. Pure: no I/O, unit-tested on its own (test/state-plan.test.ts).
 *
 * The order: routes and addresses that go, first; then links made, masters before their ports
 * (a master's chain first); then changes to links that stay, masters first, ports of a master
 * that goes detached among them; then addresses, then routes, added (after the links are up);
 * last, links removed, ports before masters, a veth pair once.
 *
 * Ownership: what hostwire's apply makes carries a mark (links: IFLA_IFALIAS 'hostwire';
 * routes: protocol 104, RTPROT_HOSTWIRE). Only marked links and routes are ever removed (with
 * prune), or made again when their kind or a fixed option differs. A link of the document that
 * collides with an unmarked device of another kind, or whose fixed options differ from such a
 * device's, is refused (StateError 'ECOLLISION', 'EIMMUTABLE') before anything is sent.
 */
import { ValidationError } from '../errors';
import { buildOp, type BatchOp } from '../rtnl/batch';
import { bytesToIp, ipToBytes } from '../rtnl/addr';
import type { AddressSpec } from '../rtnl/addr';
import type { RouteSpec } from '../rtnl/route';
import { getKind } from '../rtnl/kinds';
import { OWNER_MARK, isMarked, type LinkChange } from '../rtnl/request';
import {
  StateError,
  defaultMetric,
  isHardware,
  normalCidr,
  normalDst,
  routeFamily,
  routeKey,
  type LinkState,
  type RouteState,
  type StateDocument,
} from './state-doc';

/** IFLA_IFALIAS of links hostwire's apply made (a prefix: 'hostwire ...' counts too): src/rtnl/request.ts. */
export { OWNER_MARK, isMarked };
/** rtm_protocol of routes hostwire's apply added (`ip route` shows 'proto 104'). */
export const RTPROT_HOSTWIRE = 104;

/** An address as it is, in full, so that a removal can be undone exactly. */
export interface ObservedAddress extends AddressSpec {
  /** Canonical 'A/N'. */
  cidr: string;
}

/** A link as readState found it: every field known, and whether hostwire's apply made it. */
export interface ObservedLink {
  name: string;
  kind: string;
  options: Record<string, unknown>;
  master: string | null;
  mtu: number;
  address: string | null;
  up: boolean;
  /** Configured addresses (IPv6 link-local and autoconfigured ones aside). */
  addresses: ObservedAddress[];
  /** Marked as made by hostwire's apply (OWNER_MARK). */
  owned: boolean;
  /** The MAC is its ports' (LinkKind.addressFromPorts), not its own: show-state leaves it out. */
  addressFromPorts?: boolean;
}

/** A main-table route as readState found it, in full. */
export interface ObservedRoute extends RouteState {
  protocol: number;
  scope: number;
  type: number;
  /** Added by hostwire's apply (RTPROT_HOSTWIRE). */
  owned: boolean;
}

export interface CurrentState {
  links: ObservedLink[];
  /** Undefined when routes were not read (the document has none and nothing is pruned). */
  routes?: ObservedRoute[];
}

export interface PlanOptions {
  /** Remove marked links and routes the document does not list. */
  prune?: boolean;
}

export type PlanAction = 'create' | 'update' | 'delete' | 'replace';

/** One change of the plan, and the operations that make it. */
export interface PlanEntry {
  action: PlanAction;
  type: 'link' | 'address' | 'route' | 'network';
  /** The link's name, the address ('A/N'), or the route's destination. */
  name: string;
  /** The link an address or route is on. */
  dev?: string;
  kind?: string;
  /** Field -> [before, after]; before is null for what is made. */
  changes?: Record<string, [unknown, unknown]>;
  /** What it sends, in order (runBatch operations). */
  ops: BatchOp[];
}

export interface Plan {
  entries: PlanEntry[];
}

const SYMBOL: Record<PlanAction, string> = { create: '+', update: '~', delete: '-', replace: '-/+' };

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
const normalIp = (ip: string | undefined): string | undefined => (ip === undefined ? ip : bytesToIp(ipToBytes(ip)));

function routeSpec(r: RouteState, protocol?: number): RouteSpec {
  const s: RouteSpec = { dst: normalDst(r.dst) };
  if (r.gateway !== undefined) s.gateway = r.gateway;
  if (r.dev !== undefined) s.dev = r.dev;
  s.priority = r.metric ?? defaultMetric(routeFamily(r));
  if (r.src !== undefined) s.prefsrc = r.src;
  if (protocol !== undefined) s.protocol = protocol;
  return s;
}

/** The full spec of a route that is there: what deletes it, and what adds it back on a rollback. */
function observedSpec(r: ObservedRoute): RouteSpec {
  return { ...routeSpec(r), protocol: r.protocol, scope: r.scope, type: r.type };
}

const routeText = (r: RouteState): string =>
  `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''}${r.dev ? ` dev ${r.dev}` : ''}${r.metric !== undefined ? ` metric ${r.metric}` : ''}`;

/** Kind options a create carries: those that differ from what a new link of the kind has anyway. */
function kindOptions(kind: string, options: Record<string, unknown> = {}): Record<string, unknown> {
  const defaults = getKind(kind)?.defaults ?? {};
  return Object.fromEntries(Object.entries(options).filter(([k, v]) => !(k in defaults) || !same(v, defaults[k])));
}

/** The stated common fields of a link that a create carries (with the mark). */
function createOptions(d: LinkState): Record<string, unknown> {
  const o: Record<string, unknown> = kindOptions(d.kind, d.options);
  if (d.mtu !== undefined) o.mtu = d.mtu;
  if (d.address !== undefined) o.address = d.address;
  if (typeof d.master === 'string') o.master = d.master;
  if (d.up !== undefined) o.up = d.up;
  o.alias = OWNER_MARK;
  return o;
}

/** What a create shows: the stated fields. */
function createChanges(d: LinkState): Record<string, [unknown, unknown]> {
  const c: Record<string, [unknown, unknown]> = {};
  for (const f of ['master', 'mtu', 'address', 'up'] as const) if (d[f] !== undefined && d[f] !== null) c[f] = [null, d[f]];
  for (const [k, v] of Object.entries(d.options ?? {})) c[`options.${k}`] = [null, v];
  return c;
}

/** The operations that make an observed link again as it is (a delete's restore, for rollback). */
function recreate(c: ObservedLink, current: Map<string, ObservedLink>, routes: ObservedRoute[]): BatchOp[] {
  const opts: Record<string, unknown> = { ...kindOptions(c.kind, c.options), mtu: c.mtu, up: c.up };
  if (c.address) opts.address = c.address;
  if (c.master) opts.master = c.master;
  if (c.owned) opts.alias = OWNER_MARK;
  const ops: BatchOp[] = [{ op: 'createLink', name: c.name, kind: c.kind, options: opts }];
  const made = [c];
  const peer = getKind(c.kind)?.peer?.(c.options);
  const p = peer === undefined ? undefined : current.get(peer);
  if (p) {
    const change: LinkChange = { mtu: p.mtu, up: p.up, master: p.master };
    if (p.address) change.address = p.address;
    if (p.owned) change.alias = OWNER_MARK;
    ops.push({ op: 'setLink', dev: p.name, change });
    made.push(p);
  }
  for (const l of made) {
    for (const a of l.addresses) ops.push({ op: 'addAddress', dev: l.name, address: a });
    for (const r of routes) if (r.dev === l.name) ops.push({ op: 'addRoute', route: observedSpec(r) });
  }
  return ops;
}

/**
 * The plan that makes `current` what `desired` (a document checked by checkState) says.
 * Throws StateError before anything is planned to be sent: 'ECOLLISION' (a device of another
 * kind not made by hostwire, or a physical one, holds the name), 'EIMMUTABLE' (a fixed option
 * differs on such a device), 'ENODEV' (a physical device that is not there: they are never
 * made), 'ENOMASTER' (a master neither listed nor there), 'ENOTSUP' (a kind hostwire cannot make).
 */
export function plan(desired: StateDocument, current: CurrentState, options: PlanOptions = {}): Plan {
  const cur = new Map(current.links.map((l) => [l.name, l]));
  const des = new Map(desired.links.map((l, i) => [l.name, { l, i }]));
  const curRoutes = current.routes ?? [];

  // 1. What happens to each link of the document: made, made by its peer, made again, or kept.
  type Fate = 'create' | 'byPeer' | 'replace' | 'keep';
  const fate = new Map<string, Fate>();
  for (const [name, { l: d, i }] of des) {
    const c = cur.get(name);
    const p = `links[${i}]`;
    if (isHardware(d.kind)) {
      if (!c) throw new StateError('ENODEV', `${p}.name`, `${name}: no such ${d.kind} device (they are never made)`);
      if (c.kind !== d.kind) throw new StateError('ECOLLISION', `${p}.kind`, `${name} is a ${c.kind} device, not ${d.kind}`);
      fate.set(name, 'keep');
      continue;
    }
    if (!c) {
      fate.set(name, fate.get(name) ?? 'create');
    } else if (c.kind !== d.kind) {
      if (!c.owned || isHardware(c.kind))
        throw new StateError(
          'ECOLLISION',
          `${p}.kind`,
          `${name} is a ${c.kind} device that hostwire did not make; the document says ${d.kind}: refused, nothing was changed`,
        );
      fate.set(name, 'replace');
    } else {
      const k = getKind(d.kind);
      const fixed = Object.entries(d.options ?? {}).filter(
        ([key, v]) => key in c.options && !same(v, c.options[key]) && !(k?.mutable ?? []).includes(key),
      );
      if (fixed.length && !c.owned)
        throw new StateError(
          'EIMMUTABLE',
          `${p}.options.${fixed[0][0]}`,
          `${name}'s ${fixed[0][0]} is ${JSON.stringify(c.options[fixed[0][0]])} and cannot change in place; hostwire did not make it: refused`,
        );
      fate.set(name, fixed.length ? 'replace' : 'keep');
    }
    const f = fate.get(name);
    if (f === 'create' || f === 'replace') {
      // Made by the one builder of its kind (its registry entry): checked now, before anything is sent.
      try {
        buildOp({ op: 'createLink', name, kind: d.kind, options: createOptions(d) });
      } catch (e) {
        if (!(e instanceof ValidationError)) throw e;
        if (e.code === 'EINVALIDKIND') throw new StateError('ENOTSUP', `${p}.kind`, `hostwire cannot make links of kind '${d.kind}'`);
        throw new StateError(e.code, p, e.message);
      }
      // A link whose making also makes its listed peer: the peer is then made by it.
      const peer = d.options ? getKind(d.kind)?.peer?.(d.options) : undefined;
      if (peer !== undefined && des.has(peer) && fate.get(peer) === undefined) {
        const pc = cur.get(peer);
        if (pc && !(pc.owned && f === 'replace' && getKind(pc.kind)?.peer?.(pc.options) === name))
          throw new StateError('ECOLLISION', `${p}.options.peer`, `${name}'s peer ${peer} already exists`);
        fate.set(peer, 'byPeer');
      }
    }
  }
  for (const [name, { i }] of des) {
    const c = cur.get(name);
    // Making a link again removes its current peer with it: only when that peer is made again too.
    if (fate.get(name) === 'replace' && c) {
      const oldPeer = getKind(c.kind)?.peer?.(c.options);
      if (oldPeer !== undefined && des.has(oldPeer) && !['replace', 'byPeer'].includes(fate.get(oldPeer) as string))
        throw new StateError(
          'EIMMUTABLE',
          `links[${i}]`,
          `making ${name} again would remove its peer ${oldPeer}, which the document keeps`,
        );
    }
  }

  // 2. Links that go (prune): marked, not listed, not the peer of a link that stays.
  const removed = new Set<string>();
  if (options.prune)
    for (const c of current.links) {
      if (des.has(c.name) || !c.owned || isHardware(c.kind)) continue;
      const peer = getKind(c.kind)?.peer?.(c.options);
      if (peer !== undefined && des.has(peer) && fate.get(peer) === 'keep') continue;
      removed.add(c.name);
    }
  const replaced = new Set([...fate].filter(([, f]) => f === 'replace').map(([n]) => n));
  // Links gone take their peers, ports' master, addresses and routes with them: those made again
  // (`early`) before anything else is made or changed, those removed (prune) at the very end.
  const withPeers = (names: Iterable<string>) => {
    const out = new Set(names);
    for (const n of [...out]) {
      const c = cur.get(n) as ObservedLink;
      const peer = getKind(c.kind)?.peer?.(c.options);
      if (peer !== undefined && cur.has(peer)) out.add(peer);
    }
    return out;
  };
  const early = withPeers(replaced);
  const gone = new Set([...early, ...withPeers(removed)]);
  const exists = (n: string) => (cur.has(n) && !gone.has(n)) || des.has(n);

  for (const [name, { l: d, i }] of des)
    if (typeof d.master === 'string' && !exists(d.master))
      throw new StateError('ENOMASTER', `links[${i}].master`, `${name}'s master ${d.master} is neither listed nor there`);

  // The depth of a link in the chain of masters (a master before its ports).
  const depth = (name: string, seen = new Set<string>()): number => {
    const d = des.get(name)?.l;
    const m = d && typeof d.master === 'string' ? d.master : d?.master === undefined ? cur.get(name)?.master : null;
    if (!m || seen.has(name)) return 0;
    seen.add(name);
    return 1 + depth(m, seen);
  };

  const removeRoutes: PlanEntry[] = [];
  /** Routes the kernel flushes with an address that goes. */
  const flushed = new Set<ObservedRoute>();
  const removeAddrs: PlanEntry[] = [];
  const creates: Array<PlanEntry & { depth: number }> = [];
  const updates: Array<PlanEntry & { depth: number }> = [];
  const addAddrs: PlanEntry[] = [];
  const addRoutes: PlanEntry[] = [];
  const deletes: Array<PlanEntry & { depth: number }> = [];

  const restoreOf = (name: string) => recreate(cur.get(name) as ObservedLink, cur, curRoutes);

  // 3. Links.
  for (const [name, { l: d }] of des) {
    const f = fate.get(name) as Fate;
    const c = cur.get(name);
    if (f === 'create' || f === 'replace') {
      const ops: BatchOp[] = [];
      if (f === 'replace') ops.push({ op: 'delete', dev: name, restore: restoreOf(name) });
      ops.push({ op: 'createLink', name, kind: d.kind, options: createOptions(d) });
      const changes = createChanges(d);
      if (f === 'replace' && c) changes.kind = [c.kind, d.kind];
      creates.push({ action: f, type: 'link', name, kind: d.kind, changes, ops, depth: depth(name) });
      continue;
    }
    if (f === 'byPeer') {
      const change: LinkChange = { alias: OWNER_MARK };
      if (d.mtu !== undefined) change.mtu = d.mtu;
      if (d.address !== undefined) change.address = d.address;
      if (typeof d.master === 'string') change.master = d.master;
      if (d.up !== undefined) change.up = d.up;
      const ops: BatchOp[] = [{ op: 'setLink', dev: name, change }];
      updates.push({ action: 'create', type: 'link', name, kind: d.kind, changes: createChanges(d), ops, depth: depth(name) });
      continue;
    }
    // Kept: the stated fields that differ, one RTM_SETLINK; kind options that differ, one changelink.
    const now = c as ObservedLink;
    const change: LinkChange = {};
    const revert: LinkChange = {};
    const changes: Record<string, [unknown, unknown]> = {};
    const curMaster = now.master !== null && early.has(now.master) ? null : now.master;
    if (d.master !== undefined && d.master !== curMaster) {
      change.master = d.master;
      revert.master = now.master;
      changes.master = [curMaster, d.master];
    }
    if (d.mtu !== undefined && d.mtu !== now.mtu) {
      change.mtu = d.mtu;
      revert.mtu = now.mtu;
      changes.mtu = [now.mtu, d.mtu];
    }
    if (d.address !== undefined && d.address.toLowerCase() !== now.address) {
      change.address = d.address;
      if (now.address) revert.address = now.address;
      changes.address = [now.address, d.address];
    }
    if (d.up !== undefined && d.up !== now.up) {
      change.up = d.up;
      revert.up = now.up;
      changes.up = [now.up, d.up];
    }
    const ops: BatchOp[] = [];
    const typeChange = Object.fromEntries(Object.entries(d.options ?? {}).filter(([k, v]) => k in now.options && !same(v, now.options[k])));
    if (Object.keys(typeChange).length) {
      const back = Object.fromEntries(Object.keys(typeChange).map((k) => [k, now.options[k]]));
      ops.push({ op: 'setType', dev: name, kind: d.kind, options: typeChange, revert: back });
      for (const k of Object.keys(typeChange)) changes[`options.${k}`] = [now.options[k], typeChange[k]];
    }
    if (Object.keys(change).length) ops.push({ op: 'setLink', dev: name, change, revert });
    if (ops.length) updates.push({ action: 'update', type: 'link', name, kind: d.kind, changes, ops, depth: depth(name) });
  }

  // Ports of a master that goes, that stay and whose master the document does not state: detached first.
  for (const c of current.links) {
    if (gone.has(c.name) || c.master === null || !removed.has(c.master)) continue;
    const d = des.get(c.name)?.l;
    if (d && d.master !== undefined) continue; // its update already moves it
    updates.push({
      action: 'update',
      type: 'link',
      name: c.name,
      kind: c.kind,
      changes: { master: [c.master, null] },
      ops: [{ op: 'setLink', dev: c.name, change: { master: null }, revert: { master: c.master } }],
      depth: 1,
    });
  }

  // The removals, ports before masters, a pair once (deleting one end deletes the other).
  const deleted = new Set<string>();
  for (const name of removed) {
    const c = cur.get(name) as ObservedLink;
    const peer = getKind(c.kind)?.peer?.(c.options);
    if (peer !== undefined && deleted.has(peer)) continue;
    deleted.add(name);
    deletes.push({
      action: 'delete',
      type: 'link',
      name,
      kind: c.kind,
      ops: [{ op: 'delete', dev: name, restore: restoreOf(name) }],
      depth: c.master ? 1 : 0,
    });
  }

  // 4. Addresses, on links the document states them for.
  for (const [name, { l: d }] of des) {
    if (d.addresses === undefined) continue;
    const c = cur.get(name);
    const have = c && !early.has(name) ? c.addresses : [];
    const want = new Set(d.addresses.map(normalCidr));
    const haveSet = new Set(have.map((a) => a.cidr));
    // IPv4 routes out of a link that loses its last IPv4 address, and routes preferring a source
    // address that goes, go with it (the kernel flushes them): removed first, explicitly, so that a
    // rollback adds them back, and added again after if the document keeps them.
    const leaving = have.filter((a) => !want.has(a.cidr));
    const lastV4 = leaving.some((a) => !a.cidr.includes(':')) && have.every((a) => a.cidr.includes(':') || !want.has(a.cidr));
    const sources = new Set(leaving.map((a) => a.cidr.split('/')[0]));
    for (const r of curRoutes)
      if (r.dev === name && ((lastV4 && routeFamily(r) === 4) || (r.src !== undefined && sources.has(normalIp(r.src) as string))))
        flushed.add(r);
    for (const a of leaving)
      if (!want.has(a.cidr))
        removeAddrs.push({
          action: 'delete',
          type: 'address',
          name: a.cidr,
          dev: name,
          ops: [{ op: 'deleteAddress', dev: name, address: a }],
        });
    for (const a of d.addresses)
      if (!haveSet.has(normalCidr(a)))
        addAddrs.push({
          action: 'create',
          type: 'address',
          name: normalCidr(a),
          dev: name,
          ops: [{ op: 'addAddress', dev: name, address: a }],
        });
  }

  // 5. Routes: those the document lists; with prune, hostwire's own that it does not.
  const curByKey = new Map(curRoutes.map((r) => [routeKey(r), r]));
  const wantKeys = new Set<string>();
  for (const r of desired.routes ?? []) {
    const key = routeKey(r);
    wantKeys.add(key);
    const c = curByKey.get(key);
    // Its link (made again) or its address goes before routes are added, and the route with it.
    const lost = c && ((c.dev !== undefined && early.has(c.dev)) || flushed.has(c));
    const differs =
      c &&
      (normalIp(c.gateway) !== normalIp(r.gateway) ||
        (r.dev !== undefined && c.dev !== r.dev) ||
        (r.src !== undefined && normalIp(c.src) !== normalIp(r.src)) ||
        (r.protocol !== undefined && c.protocol !== r.protocol));
    if (c && !lost && !differs) continue;
    const ops: BatchOp[] = [];
    const changes: Record<string, [unknown, unknown]> = {};
    if (c && !lost) {
      ops.push({ op: 'deleteRoute', route: observedSpec(c) });
      for (const f of ['gateway', 'dev', 'src'] as const) if (c[f] !== r[f] && r[f] !== undefined) changes[f] = [c[f] ?? null, r[f]];
    }
    ops.push({ op: 'addRoute', route: routeSpec(r, r.protocol ?? RTPROT_HOSTWIRE) });
    addRoutes.push({ action: c && !lost ? 'replace' : 'create', type: 'route', name: routeText(r), dev: r.dev, changes, ops });
  }
  for (const c of flushed)
    removeRoutes.push({
      action: 'delete',
      type: 'route',
      name: routeText(c),
      dev: c.dev,
      ops: [{ op: 'deleteRoute', route: observedSpec(c) }],
    });
  if (options.prune)
    for (const c of curRoutes) {
      if (!c.owned || wantKeys.has(routeKey(c)) || flushed.has(c) || (c.dev !== undefined && gone.has(c.dev))) continue;
      removeRoutes.push({
        action: 'delete',
        type: 'route',
        name: routeText(c),
        dev: c.dev,
        ops: [{ op: 'deleteRoute', route: observedSpec(c) }],
      });
    }

  // 6. The safe order. Creations of a depth grouped by kind: runs of taps go to the tun worker in one trip.
  const byDepth = (a: { depth: number }, b: { depth: number }) => a.depth - b.depth;
  creates.sort((a, b) => byDepth(a, b) || Number(a.kind === 'tun') - Number(b.kind === 'tun'));
  updates.sort(byDepth);
  deletes.sort((a, b) => b.depth - a.depth);
  const entries = [...removeRoutes, ...removeAddrs, ...creates, ...updates, ...addAddrs, ...addRoutes, ...deletes].map((e) => {
    const { depth: _depth, ...entry } = e as PlanEntry & { depth?: number };
    return entry;
  });
  return { entries };
}

/**
 * The state as a document: every field stated, so that applying it where it came from changes
 * nothing. `protocols`: routes state their rtm_protocol too (a checkpoint's, so that a restore
 * adds them back as they were, not as hostwire's).
 */
export function toDocument(s: CurrentState, opts: { protocols?: boolean } = {}): StateDocument {
  const links = s.links.map((l): LinkState => {
    const addresses = l.addresses.map((a) => a.cidr);
    if (isHardware(l.kind)) return { name: l.name, kind: l.kind, master: l.master, up: l.up, addresses };
    const d: LinkState = { name: l.name, kind: l.kind };
    if (Object.keys(l.options).length) d.options = l.options;
    d.master = l.master;
    d.mtu = l.mtu;
    if (l.address && !l.addressFromPorts) d.address = l.address;
    d.up = l.up;
    d.addresses = addresses;
    return d;
  });
  const doc: StateDocument = { version: 1, links };
  if (s.routes)
    doc.routes = s.routes.map((r): RouteState => {
      const o: RouteState = { dst: r.dst };
      if (r.gateway !== undefined) o.gateway = r.gateway;
      if (r.dev !== undefined) o.dev = r.dev;
      if (r.metric !== undefined) o.metric = r.metric;
      if (r.src !== undefined) o.src = r.src;
      if (opts.protocols) o.protocol = r.protocol;
      return o;
    });
  return doc;
}

/** The plan as `--json` prints it: each entry without its operations. */
export function planJson(p: Plan): Array<Omit<PlanEntry, 'ops'>> {
  return p.entries.map(({ ops: _ops, ...e }) => {
    delete (e as { network?: unknown }).network; // a network entry's steps (state-networks.ts)
    return e;
  });
}

const value = (v: unknown): string => (v === null || v === undefined ? '(none)' : typeof v === 'string' ? v : JSON.stringify(v));

/** One line per entry, the way `terraform plan` marks them: '+', '~', '-', '-/+'. */
export function planLines(p: Plan): string[] {
  return p.entries.map((e) => {
    const what =
      e.type === 'link'
        ? `link ${e.name}${e.kind ? ` (${e.kind})` : ''}`
        : e.type === 'address'
          ? `address ${e.name} dev ${e.dev}`
          : `${e.type} ${e.name}`;
    const fields = Object.entries(e.changes ?? {}).map(([k, [from, to]]) =>
      e.action === 'create' && from === null ? `${k}=${value(to)}` : `${k}: ${value(from)} -> ${value(to)}`,
    );
    return `${SYMBOL[e.action].padStart(3)} ${what}${fields.length ? `  ${fields.join(', ')}` : ''}`;
  });
}

/** 'Plan: 2 to add, 1 to change, 1 to destroy.' (a replacement counts as one to add and one to destroy). */
export function planSummary(p: Plan): string {
  let add = 0;
  let change = 0;
  let destroy = 0;
  for (const e of p.entries) {
    if (e.action === 'create') add++;
    else if (e.action === 'update') change++;
    else if (e.action === 'delete') destroy++;
    else {
      add++;
      destroy++;
    }
  }
  return `Plan: ${add} to add, ${change} to change, ${destroy} to destroy.`;
}
