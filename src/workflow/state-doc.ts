/**
 * The state document: what a network namespace's links, addresses and routes (and, optionally,
 * libvirt networks) should be, as `hostwire show-state` prints it and `hostwire apply` takes it.
 * JSON or YAML. Its structure is the shipped JSON Schema (state.schema.json), which checkState()
 * itself validates against, so the schema editors see and the checks apply cannot drift; the
 * checks a schema cannot express follow (names, MACs, CIDRs, each kind's options by its registry
 * entry, duplicates, veth peers naming each other). Every refusal is a StateError naming the
 * path in the document ('links[3].mtu'). Pure: no I/O.
 */
import { ValidationError } from '../errors';
import { buildOp } from '../rtnl/batch';
import { getKind } from '../rtnl/kinds';
import { bytesToIp, ipToBytes, parseCidr } from '../rtnl/addr';
import { checkIfName, checkMac } from '../rtnl/validate';
import * as SCHEMA from './state.schema.json';

/** The schema the document follows (draft-07), as shipped in state.schema.json. */
export const STATE_SCHEMA: Readonly<Record<string, unknown>> = SCHEMA;

/** The kind of devices without IFLA_INFO_KIND (NICs): never made or removed. */
export const PHYSICAL = 'physical';
/** The kind of the loopback device (lo): never made or removed. */
export const LOOPBACK = 'loopback';

/** Kinds that are never made or removed, only their master, up and addresses applied. */
export const isHardware = (kind: string): boolean => kind === PHYSICAL || kind === LOOPBACK;

export interface LinkState {
  name: string;
  /** IFLA_INFO_KIND ('bridge', 'veth', 'tun' ...), or 'physical' / 'loopback'. */
  kind: string;
  /** The kind's options, as its registry entry takes them (BridgeOptions, TapOptions, VethOptions ...). */
  options?: Record<string, unknown>;
  /** The master by name; null: none. Absent: left as it is. */
  master?: string | null;
  mtu?: number;
  /** MAC. */
  address?: string;
  up?: boolean;
  /** The whole set of configured addresses, 'A/N'. Absent: left as they are. */
  addresses?: string[];
}

export interface RouteState {
  /** 'default' or 'A/N'. */
  dst: string;
  gateway?: string;
  dev?: string;
  metric?: number;
  /** Preferred source (RTA_PREFSRC). */
  src?: string;
  /** rtm_protocol to add it with (default RTPROT_HOSTWIRE, the mark). */
  protocol?: number;
}

export interface NetworkState {
  name: string;
  /** The persistent definition. */
  xml: string;
  active?: boolean;
  autostart?: boolean;
}

export interface StateDocument {
  $schema?: string;
  version?: 1;
  links: LinkState[];
  /** Main-table routes. Absent: routes are left as they are (except, with prune, hostwire's own). */
  routes?: RouteState[];
  networks?: NetworkState[];
}

/** A document refused: `path` names where ('links[3].mtu'); `code` says what, as for any ValidationError. */
export class StateError extends ValidationError {
  readonly path: string;
  constructor(code: string, path: string, message: string) {
    super(code, `${path || 'document'}: ${message}`, path.split(/[.[]/).pop()?.replace(']', '') || undefined);
    this.path = path;
  }
}

// ---- the schema, interpreted (the keywords state.schema.json uses) ----

type Schema = boolean | { [k: string]: unknown };

const typeOf = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v === 'number' ? 'number' : typeof v;
const isType = (v: unknown, t: string): boolean => typeOf(v) === t || (t === 'number' && typeOf(v) === 'integer');
const at = (path: string, key: string | number): string => (typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key);
const show = (v: unknown): string => (typeof v === 'string' ? `'${v.length > 40 ? v.slice(0, 40) + '...' : v}'` : JSON.stringify(v));

const patterns = new Map<string, RegExp>();
const pattern = (p: string): RegExp => {
  let re = patterns.get(p);
  if (!re) patterns.set(p, (re = new RegExp(p, 'u')));
  return re;
};

/** The first way `v` does not fit `schema`, as [path, message], or null. */
function firstError(schema: Schema, v: unknown, path: string): [string, string] | null {
  if (schema === true) return null;
  if (schema === false) return [path, 'is not allowed here'];
  const s = schema;
  if (typeof s.$ref === 'string') {
    const name = s.$ref.replace('#/definitions/', '');
    return firstError((STATE_SCHEMA.definitions as Record<string, Schema>)[name], v, path);
  }
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
    if (!types.some((t) => isType(v, t)))
      return [path, `${show(v)} is not ${types.map((t) => (t === 'integer' ? 'an integer' : `a ${t}`)).join(' or ')}`];
  }
  if (s.const !== undefined && v !== s.const) return [path, `must be ${show(s.const)}`];
  if (typeof v === 'string') {
    if (typeof s.minLength === 'number' && v.length < s.minLength) return [path, 'must not be empty'];
    if (typeof s.maxLength === 'number' && v.length > s.maxLength) return [path, `${show(v)} is longer than ${s.maxLength}`];
    if (typeof s.pattern === 'string' && !pattern(s.pattern).test(v)) return [path, `${show(v)} is not ${describe(s)}`];
  }
  if (typeof v === 'number') {
    if (typeof s.minimum === 'number' && v < s.minimum) return [path, `${v} is below ${s.minimum}`];
    if (typeof s.maximum === 'number' && v > s.maximum) return [path, `${v} is above ${s.maximum}`];
  }
  if (Array.isArray(v) && s.items !== undefined) {
    for (let i = 0; i < v.length; i++) {
      const e = firstError(s.items as Schema, v[i], at(path, i));
      if (e) return e;
    }
  }
  if (typeOf(v) === 'object') {
    const o = v as Record<string, unknown>;
    for (const k of (s.required as string[] | undefined) ?? []) if (!(k in o)) return [at(path, k), 'is required'];
    const props = (s.properties as Record<string, Schema> | undefined) ?? {};
    for (const [k, val] of Object.entries(o)) {
      if (k in props) {
        const e = firstError(props[k], val, at(path, k));
        if (e) return e;
      } else if (s.additionalProperties === false) {
        return [at(path, k), `is not a field here (${Object.keys(props).join(', ')})`];
      }
    }
  }
  for (const sub of (s.allOf as Schema[] | undefined) ?? []) {
    const e = firstError(sub, v, path);
    if (e) return e;
  }
  if (s.if !== undefined && firstError(s.if as Schema, v, path) === null && s.then !== undefined) {
    const e = firstError(s.then as Schema, v, path);
    if (e) return e;
  }
  return null;
}

function describe(s: Record<string, unknown>): string {
  const d = typeof s.description === 'string' ? s.description : '';
  return d ? `${d.replace(/\.$/, '').replace(/^(an?|the) /i, (m) => m.toLowerCase())}` : `of the form ${String(s.pattern)}`;
}

/** Checks `doc` against state.schema.json; throws StateError 'ESTATESCHEMA' naming the first path that does not fit. */
export function checkSchema(doc: unknown): void {
  const e = firstError(STATE_SCHEMA as Schema, doc, '');
  if (e) throw new StateError('ESTATESCHEMA', e[0], e[1]);
}

// ---- the checks a schema cannot express ----

/** Runs a check from src/rtnl (throwing ValidationError); rethrows as a StateError at `path`. */
function within<T>(path: string, fn: () => T, field?: (f: string | undefined) => string): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ValidationError) {
      const where = field ? field(e.field) : path;
      throw new StateError(e.code, where, e.message.replace(/^[\w.]+: /, ''));
    }
    throw e;
  }
}

/** 'A/N' in its canonical text (IPv6 compressed, bare addresses /32 or /128). */
export function normalCidr(cidr: string): string {
  const c = parseCidr(cidr);
  return `${bytesToIp(ipToBytes(c.address))}/${c.prefixlen}`;
}

/** A route's destination in canonical text: 'default' or 'A/N'. */
export function normalDst(dst: string): string {
  return dst === 'default' ? dst : normalCidr(dst);
}

/** A route's family: from its destination, else its gateway (a default route). */
export function routeFamily(r: RouteState): 4 | 6 {
  if (r.dst !== 'default') return parseCidr(r.dst).family;
  return r.gateway !== undefined ? parseCidr(r.gateway).family : 4;
}

/** The metric the kernel gives a route that names none: 0 for IPv4, 1024 for IPv6. */
export const defaultMetric = (family: 4 | 6): number => (family === 6 ? 1024 : 0);

/** What identifies a main-table route: family, destination and metric. */
export function routeKey(r: RouteState): string {
  const family = routeFamily(r);
  return `${family} ${normalDst(r.dst)} ${r.metric ?? defaultMetric(family)}`;
}

/**
 * Checks a document (parsed JSON or YAML) and returns it typed. Refusals are StateErrors naming
 * the path: 'ESTATESCHEMA' (structure), 'EINVALIDNAME', 'EINVALIDMAC', 'EINVALIDADDR',
 * 'EINVALIDOPTION' ... (a field, with the code the same check has everywhere in hostwire),
 * 'EDUPLICATE', 'EREADONLY' (a physical device's mtu, MAC or options), 'EPEER' (veth ends that
 * do not name each other), 'EINVALIDMASTER' (a link its own master).
 */
export function checkState(doc: unknown): StateDocument {
  checkSchema(doc);
  const d = doc as StateDocument;
  const byName = new Map<string, number>();
  d.links.forEach((l, i) => {
    const p = `links[${i}]`;
    within(`${p}.name`, () => checkIfName(l.name));
    if (byName.has(l.name)) throw new StateError('EDUPLICATE', `${p}.name`, `${l.name} is also links[${byName.get(l.name)}]`);
    byName.set(l.name, i);
    if (l.address !== undefined) within(`${p}.address`, () => checkMac(l.address));
    if (typeof l.master === 'string') {
      within(`${p}.master`, () => checkIfName(l.master));
      if (l.master === l.name) throw new StateError('EINVALIDMASTER', `${p}.master`, `${l.name} cannot be its own master`);
    }
    const seen = new Map<string, number>();
    (l.addresses ?? []).forEach((a, j) => {
      const n = within(`${p}.addresses[${j}]`, () => normalCidr(a));
      if (seen.has(n)) throw new StateError('EDUPLICATE', `${p}.addresses[${j}]`, `${a} is also addresses[${seen.get(n)}]`);
      seen.set(n, j);
    });
    if (isHardware(l.kind)) {
      for (const f of ['options', 'mtu', 'address'] as const)
        if (l[f] !== undefined)
          throw new StateError('EREADONLY', `${p}.${f}`, `${l.name} is a ${l.kind} device: only its master, up and addresses are applied`);
      return;
    }
    // The kind's options, checked by the one builder that would make the link (its registry entry's check).
    if (getKind(l.kind) && l.options !== undefined) {
      const options = l.options;
      within(
        `${p}.options`,
        () => buildOp({ op: 'createLink', name: l.name, kind: l.kind, options }),
        (f) => (f && f in options ? `${p}.options.${f}` : `${p}.options`),
      );
    }
  });
  // A veth's two ends, both listed, name each other.
  d.links.forEach((l, i) => {
    const peer = l.options ? getKind(l.kind)?.peer?.(l.options) : undefined;
    if (peer === undefined || !byName.has(peer)) return;
    const other = d.links[byName.get(peer) as number];
    const back = other.options ? getKind(other.kind)?.peer?.(other.options) : undefined;
    if (other.kind !== l.kind || back !== l.name)
      throw new StateError(
        'EPEER',
        `links[${i}].options.peer`,
        `${l.name}'s peer ${peer} is listed, but not as a ${l.kind} whose peer is ${l.name}`,
      );
  });
  const routes = new Map<string, number>();
  (d.routes ?? []).forEach((r, i) => {
    const p = `routes[${i}]`;
    if (r.dst !== 'default') within(`${p}.dst`, () => parseCidr(r.dst, 'dst'));
    if (r.gateway !== undefined) {
      const g = within(`${p}.gateway`, () => parseCidr(r.gateway as string, 'gateway'));
      if (r.dst !== 'default' && g.family !== parseCidr(r.dst).family)
        throw new StateError('EINVALIDADDR', `${p}.gateway`, `${r.gateway} and ${r.dst} are of different families`);
    } else if (r.dst === 'default' && r.dev === undefined) {
      throw new StateError('EINVALIDADDR', `${p}.gateway`, 'a default route needs a gateway or a dev');
    }
    if (r.src !== undefined) within(`${p}.src`, () => parseCidr(r.src as string, 'src'));
    if (r.dev !== undefined) within(`${p}.dev`, () => checkIfName(r.dev));
    const key = routeKey(r);
    if (routes.has(key)) throw new StateError('EDUPLICATE', p, `the same destination and metric as routes[${routes.get(key)}]`);
    routes.set(key, i);
  });
  const networks = new Map<string, number>();
  (d.networks ?? []).forEach((n, i) => {
    if (networks.has(n.name))
      throw new StateError('EDUPLICATE', `networks[${i}].name`, `${n.name} is also networks[${networks.get(n.name)}]`);
    networks.set(n.name, i);
  });
  return d;
}

// ---- text ----

export type StateFormat = 'json' | 'yaml';

/**
 * A document from text: JSON when it starts with '{', else YAML (a superset of JSON). A syntax
 * error is a StateError 'ESTATESYNTAX' with the line when the parser gives one.
 */
export function parseState(text: string, format?: StateFormat): unknown {
  const fmt = format ?? (/^\s*\{/.test(text) ? 'json' : 'yaml');
  if (fmt === 'json') {
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new StateError('ESTATESYNTAX', '', `not JSON: ${(e as Error).message}`);
    }
  }
  const YAML = require('yaml') as typeof import('yaml');
  try {
    return YAML.parse(text, { prettyErrors: true });
  } catch (e) {
    throw new StateError('ESTATESYNTAX', '', `not YAML: ${(e as Error).message.split('\n')[0]}`);
  }
}

/** The document as text: JSON (2-space indented) or YAML. */
export function formatState(doc: StateDocument, format: StateFormat = 'json'): string {
  if (format === 'json') return JSON.stringify(doc, null, 2);
  const YAML = require('yaml') as typeof import('yaml');
  return YAML.stringify(doc, { lineWidth: 0 });
}
