/**
 * Checks done before anything reaches the addon: names, UUIDs, flags, XML. Each failure is a
 * ValidationError with a stable code ('EINVALIDNAME', 'EINVALIDUUID', 'EINVALIDFLAGS', 'EXML').
 */
import { ValidationError } from '../errors';
import { parseXml, type XmlNode } from '../xml/parser';

/** A domain or network name: 1-255 characters, no '/', no control characters. */
export function checkName(name: unknown, what = 'name'): string {
  if (typeof name !== 'string' || name.length === 0) throw new ValidationError('EINVALIDNAME', `${what} must be a non-empty string`, what);
  if (name.length > 255) throw new ValidationError('EINVALIDNAME', `${what} is longer than 255 characters`, what);
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f/]/.test(name))
    throw new ValidationError('EINVALIDNAME', `${what} ${JSON.stringify(name)} contains '/' or a control character`, what);
  return name;
}

/** A UUID as libvirt takes it: 32 hex digits, dashes optional between the usual groups. */
export function checkUuid(uuid: unknown): string {
  if (typeof uuid !== 'string' || !/^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(uuid)) {
    throw new ValidationError('EINVALIDUUID', `not a UUID: ${JSON.stringify(uuid)}`, 'uuid');
  }
  return uuid;
}

/** Flags: an unsigned 32-bit integer with no bits outside `allowed`. */
export function checkFlags(flags: unknown, allowed: number, what = 'flags'): number {
  if (typeof flags !== 'number' || !Number.isInteger(flags) || flags < 0 || flags > 0xffffffff) {
    throw new ValidationError('EINVALIDFLAGS', `${what} must be an unsigned 32-bit integer`, what);
  }
  if ((flags & ~allowed) >>> 0 !== 0) {
    throw new ValidationError('EINVALIDFLAGS', `${what} 0x${flags.toString(16)} has bits outside 0x${allowed.toString(16)}`, what);
  }
  return flags;
}

/** An unsigned integer in [min, max]. */
export function checkUint(n: unknown, what: string, min = 0, max = 0xffffffff): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new ValidationError('EINVALIDARG', `${what} must be an integer in [${min}, ${max}]`, what);
  }
  return n;
}

/**
 * XML that must be present, well-formed and rooted at one of `roots` (any root when empty).
 * Returns the parsed document.
 */
export function checkXml(xml: unknown, roots: readonly string[] = []): XmlNode {
  if (typeof xml !== 'string' || xml.trim() === '') throw new ValidationError('EXML', 'XML is missing', 'xml');
  const doc = parseXml(xml);
  const elements = Object.keys(doc).filter((k) => !k.startsWith('?') && !k.startsWith('#'));
  if (elements.length !== 1) throw new ValidationError('EXML', 'XML must have exactly one root element', 'xml');
  if (roots.length > 0 && !roots.includes(elements[0])) {
    throw new ValidationError('EXML', `XML root is <${elements[0]}>, expected <${roots.join('> or <')}>`, 'xml');
  }
  return doc;
}
