/**
 * Shared pieces of the typed XML models (network.ts, domain.ts): schema errors that name the
 * path that is wrong, and the merge of typed fields back into the parsed node they came from,
 * so elements and attributes the models do not know survive a parse -> build round trip.
 * Pure: no I/O.
 */
import { isIP } from 'net';
import { ValidationError } from '../errors';
import { ATTR, type XmlNode, type XmlValue } from './parser';

/** A document that parses but does not fit the schema; `field` is the path ('network.ip[0].@address'). */
export function schemaError(path: string, message: string): ValidationError {
  return new ValidationError('EXMLSCHEMA', `${path}: ${message}`, path);
}

/** The element as an object ('' from `<x/>` becomes {}); a string or array where an element is expected is a schema error. */
export function asNode(v: XmlValue | undefined, path: string): XmlNode | undefined {
  if (v === undefined) return undefined;
  if (v === '') return {};
  if (typeof v === 'string') return { '#text': v };
  if (Array.isArray(v)) throw schemaError(path, 'appears more than once');
  return v;
}

/** A deep copy of a parsed node (plain JSON values only). */
export function clone<T extends XmlValue>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** Sets (or, for undefined, removes) attribute `name` of `node`. */
export function setAttr(node: XmlNode, name: string, value: string | undefined): void {
  if (value === undefined) delete node[ATTR + name];
  else node[ATTR + name] = value;
}

/** An attribute's value, refusing non-strings. */
export function getAttr(node: XmlNode | undefined, name: string): string | undefined {
  const v = node?.[ATTR + name];
  return typeof v === 'string' ? v : undefined;
}

/** An element's text, from `<x>t</x>` or `<x a='1'>t</x>`. */
export function getText(v: XmlValue | undefined, path: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) throw schemaError(path, 'appears more than once');
  const t = v['#text'];
  return typeof t === 'string' ? t : '';
}

/** Sets an element's text, keeping any attributes it had. */
export function setText(parent: XmlNode, key: string, value: string | undefined): void {
  if (value === undefined) {
    delete parent[key];
    return;
  }
  const old = parent[key];
  if (old !== undefined && typeof old === 'object' && !Array.isArray(old)) parent[key] = { ...old, '#text': value };
  else parent[key] = value;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;

/** A name libvirt accepts for a network or domain: non-empty, no '/', no control characters. */
export function checkObjectName(name: unknown, path: string): string {
  if (typeof name !== 'string' || name.trim() === '') throw schemaError(path, 'a name is required');
  if (name.length > 255) throw schemaError(path, 'longer than 255 characters');
  if (/[/\n\r\t]/.test(name) || CONTROL.test(name)) throw schemaError(path, `${JSON.stringify(name)} contains '/' or a control character`);
  return name;
}

/** Text that may not hold control characters (they cannot be represented in XML 1.0). */
export function checkPlain(v: unknown, path: string): string {
  if (typeof v !== 'string' || v === '') throw schemaError(path, 'a value is required');
  if (CONTROL.test(v)) throw schemaError(path, `${JSON.stringify(v)} contains a control character`);
  return v;
}

export const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
export const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

export function checkUuidAt(v: unknown, path: string): string {
  if (typeof v !== 'string' || !UUID_RE.test(v)) throw schemaError(path, `${JSON.stringify(v)} is not a UUID`);
  return v;
}

export function checkMacAt(v: unknown, path: string): string {
  if (typeof v !== 'string' || !MAC_RE.test(v)) throw schemaError(path, `${JSON.stringify(v)} is not a MAC address`);
  return v.toLowerCase();
}

export function checkIpAt(v: unknown, path: string, family?: 4 | 6): string {
  const f = typeof v === 'string' ? isIP(v) : 0;
  if (f === 0 || (family !== undefined && f !== family))
    throw schemaError(path, `${JSON.stringify(v)} is not an IPv${family ?? '4/6'} address`);
  return v as string;
}

/** A decimal integer in [min, max], as a number. */
export function checkIntAt(v: unknown, path: string, min: number, max: number): number {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max)
    throw schemaError(path, `${JSON.stringify(v)} is not an integer in [${min}, ${max}]`);
  return n;
}
