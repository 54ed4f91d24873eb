/**
 * The network interfaces of a domain, read from its XML, and the XML of an interface device
 * for attachDevice/detachDevice, built with the escaping builder (never by string pasting).
 */
import { ValidationError } from '../errors';
import { attr, buildXml, child, list, parseXml, type XmlNode } from '../xml/parser';

/** One <interface> of a domain, as `virsh domiflist` shows it. */
export interface DomainInterface {
  /** <interface type=...>: 'network', 'bridge', 'direct', 'ethernet' ... */
  type: string;
  /** <mac address=...>, lower case. */
  mac: string | null;
  /** <target dev=...>: the host-side device (vnetN), present while the domain runs. */
  target: string | null;
  /** <source network=...>, <source bridge=...> or <source dev=...>, whichever is present. */
  source: string | null;
  /** <source network=...>. */
  network: string | null;
  /** <source bridge=...>. */
  bridge: string | null;
  /** <model type=...>. */
  model: string | null;
  /** <alias name=...> (net0 ...), present while the domain runs. */
  alias: string | null;
}

/** Reads every <interface> under <devices> of a domain's XML. Equivalent to: virsh domiflist (from XML). */
export function interfacesFromXml(xml: string): DomainInterface[] {
  return interfacesOf(parseXml(xml));
}

/** interfacesFromXml() on a document already parsed (by parseXml). */
export function interfacesOf(doc: XmlNode): DomainInterface[] {
  return list(child(doc, 'domain', 'devices', 'interface')).map((i) => {
    const source = child(i, 'source');
    const network = attr(source, 'network') ?? null;
    const bridge = attr(source, 'bridge') ?? null;
    const mac = attr(child(i, 'mac'), 'address');
    return {
      type: attr(i, 'type') ?? '',
      mac: mac ? mac.toLowerCase() : null,
      target: attr(child(i, 'target'), 'dev') ?? null,
      source: network ?? bridge ?? attr(source, 'dev') ?? null,
      network,
      bridge,
      model: attr(child(i, 'model'), 'type') ?? null,
      alias: attr(child(i, 'alias'), 'name') ?? null,
    };
  });
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/** What interfaceXml() builds. */
export interface InterfaceSpec {
  type: 'network' | 'bridge';
  /** The network name (type 'network') or bridge device (type 'bridge'). */
  source: string;
  mac?: string;
  model?: string;
}

/**
 * The <interface> device XML for attachDevice/detachDevice. Every value is escaped.
 * Equivalent to: the XML virsh attach-interface DOMAIN network|bridge SOURCE --mac MAC --model MODEL builds.
 */
export function interfaceXml(spec: InterfaceSpec): string {
  if (spec.type !== 'network' && spec.type !== 'bridge')
    throw new ValidationError('EINVALIDARG', `interface type must be 'network' or 'bridge'`, 'type');
  if (typeof spec.source !== 'string' || spec.source === '')
    throw new ValidationError('EINVALIDARG', 'interface source is missing', 'source');
  if (spec.mac !== undefined && !MAC.test(spec.mac))
    throw new ValidationError('EINVALIDMAC', `not a MAC address: ${JSON.stringify(spec.mac)}`, 'mac');
  const iface: XmlNode = { '@_type': spec.type, source: { [spec.type === 'network' ? '@_network' : '@_bridge']: spec.source } };
  if (spec.mac) iface.mac = { '@_address': spec.mac.toLowerCase() };
  if (spec.model) iface.model = { '@_type': spec.model };
  return buildXml({ interface: iface });
}
