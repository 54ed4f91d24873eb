/**
 * The one configured XML parser for all libvirt XML (domains, networks, devices).
 *
 * - attributes are kept, under `@_name` keys (`<source network='x'/>` -> `{ '@_network': 'x' }`);
 * - text with attributes is under `#text` (`<memory unit='MiB'>64</memory>` ->
 *   `{ '#text': '64', '@_unit': 'MiB' }`);
 * - values are left as strings: '64' stays '64', 'yes' stays 'yes';
 * - the paths in ALWAYS_ARRAY are arrays even with one element, so `domain.devices.interface`
 *   can always be iterated;
 * - elements this module has never heard of survive a parse/build round trip (the order of
 *   siblings with different names is not kept, which libvirt does not rely on for the elements
 *   listed here).
 *
 * Pure: no I/O. The builder escapes every text and attribute value, so a name can never inject
 * markup: build XML from objects, never by interpolating strings.
 */
import type { X2jOptions, XmlBuilderOptions, XMLBuilder, XMLParser } from 'fast-xml-parser';
import { ValidationError } from '../errors';

/** Element paths (dot-separated from the root) that always parse to arrays. */
export const ALWAYS_ARRAY: ReadonlySet<string> = new Set([
  // domain
  'domain.devices.interface',
  'domain.devices.disk',
  'domain.devices.controller',
  'domain.devices.hostdev',
  'domain.devices.serial',
  'domain.devices.console',
  'domain.devices.channel',
  'domain.devices.input',
  'domain.devices.graphics',
  'domain.devices.video',
  'domain.devices.filesystem',
  'domain.devices.redirdev',
  'domain.devices.rng',
  'domain.devices.tpm',
  'domain.devices.watchdog',
  'domain.devices.interface.ip',
  'domain.devices.interface.route',
  'domain.os.boot',
  'domain.cpu.feature',
  'domain.seclabel',
  'domain.qemu:commandline.qemu:arg',
  'domain.qemu:commandline.qemu:env',
  // network
  'network.ip',
  'network.ip.dhcp.range',
  'network.ip.dhcp.host',
  'network.route',
  'network.portgroup',
  'network.forward.interface',
  'network.forward.pf',
  'network.forward.address',
  'network.dns.host',
  'network.dns.host.hostname',
  'network.dns.forwarder',
  'network.dns.srv',
  'network.dns.txt',
]);

/** Attribute keys start with this prefix. */
export const ATTR = '@_';
/** Key of an element's text when it also has attributes or children. */
export const TEXT = '#text';

const common = {
  ignoreAttributes: false,
  attributeNamePrefix: ATTR,
  textNodeName: TEXT,
  commentPropName: '#comment',
  processEntities: true,
  suppressEmptyNode: true,
} as const;

const parserOptions: Partial<X2jOptions> = {
  ...common,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  allowBooleanAttributes: false,
  isArray: (_name: string, jpath: string) => ALWAYS_ARRAY.has(jpath),
};

const builderOptions: Partial<XmlBuilderOptions> = {
  ...common,
  format: true,
  indentBy: '  ',
};

/**
 * The parser and builder, made on first use: fast-xml-parser (a dozen modules) is loaded only by
 * a command that reads or writes XML, not by every libvirt verb (`net list` needs none).
 */
let engine:
  { parser: XMLParser; builder: XMLBuilder; validate: (typeof import('fast-xml-parser'))['XMLValidator']['validate'] } | undefined;
function fxp(): NonNullable<typeof engine> {
  if (engine) return engine;
  const m = require('fast-xml-parser') as typeof import('fast-xml-parser');
  return (engine = {
    parser: new m.XMLParser(parserOptions),
    builder: new m.XMLBuilder(builderOptions),
    validate: m.XMLValidator.validate,
  });
}

/** A parsed XML element: attributes (`@_x`), text (`#text`), children by name. */
export type XmlNode = { [key: string]: XmlValue };
export type XmlValue = string | XmlNode | XmlValue[];

/** Parses libvirt XML. Throws ValidationError('EXML') on malformed input. */
export function parseXml(xml: string): XmlNode {
  if (typeof xml !== 'string' || xml.trim() === '') throw new ValidationError('EXML', 'XML is empty', 'xml');
  const ok = fxp().validate(xml, { allowBooleanAttributes: false });
  if (ok !== true) throw new ValidationError('EXML', `malformed XML: ${ok.err.msg} (line ${ok.err.line})`, 'xml');
  return fxp().parser.parse(xml) as XmlNode;
}

/** Builds XML text from a parsed (or hand-made) object; every value is escaped. */
export function buildXml(doc: XmlNode): string {
  return (fxp().builder.build(doc) as string).trimEnd() + '\n';
}

/** Escapes text for use inside XML text or an attribute value. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** The value at a path of element names, or undefined. */
export function child(node: XmlValue | undefined, ...path: string[]): XmlValue | undefined {
  let cur: XmlValue | undefined = node;
  for (const k of path) {
    if (cur === undefined || typeof cur === 'string' || Array.isArray(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

/** An attribute of an element, or undefined. */
export function attr(node: XmlValue | undefined, name: string): string | undefined {
  if (node === undefined || typeof node === 'string' || Array.isArray(node)) return undefined;
  const v = node[ATTR + name];
  return typeof v === 'string' ? v : undefined;
}

/** An element's text, whether it parsed to a string or to an object with `#text`. */
export function text(node: XmlValue | undefined): string | undefined {
  if (typeof node === 'string') return node;
  if (node === undefined || Array.isArray(node)) return undefined;
  const t = node[TEXT];
  return typeof t === 'string' ? t : undefined;
}

/** Always an array: [] for undefined, [v] for a single element. */
export function list(v: XmlValue | undefined): XmlValue[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}
