/**
 * The parts of libvirt domain XML (https://libvirt.org/formatdomain.html) the bridged workflow
 * touches: name, uuid and devices.interface[] (type, source network/bridge, mac, model, target
 * dev). Everything else (memory, os, disks, qemu:commandline ...) stays in `raw` and is written
 * back unchanged by buildDomain(). Pure: no I/O.
 */
import { ATTR, buildXml, parseXml, type XmlNode, type XmlValue } from './parser';
import { asNode, checkMacAt, checkObjectName, checkPlain, checkUuidAt, clone, getAttr, getText, schemaError, setAttr } from './model';

export interface InterfaceModel {
  /** <interface type=...>: 'network', 'bridge', 'direct', 'ethernet' ... */
  type: string;
  /** <source network=...> or <source bridge=...>. */
  source?: { network?: string; bridge?: string };
  mac?: string;
  /** <model type=...>: 'virtio', 'e1000e' ... */
  model?: string;
  /** <target dev=...>: the host tap (vnetN) while the domain runs. */
  target?: string;
  /** The parsed <interface>, for what the model does not type. */
  raw?: XmlNode;
}

export interface DomainModel {
  name: string;
  uuid?: string;
  interfaces: InterfaceModel[];
  /** The parsed <domain> element. */
  raw: XmlNode;
}

const P = 'domain';

const arr = (v: XmlValue | undefined): XmlValue[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Parses one <interface> element (of a domain, or alone, as attachDevice takes it). */
export function parseInterfaceNode(node: XmlNode, path: string): InterfaceModel {
  const type = getAttr(node, 'type');
  if (type === undefined) throw schemaError(`${path}.@type`, 'an interface needs a type');
  const iface: InterfaceModel = { type, raw: node };
  const src = asNode(node.source, `${path}.source`);
  if (src) {
    iface.source = {};
    const network = getAttr(src, 'network');
    const bridge = getAttr(src, 'bridge');
    if (network !== undefined) iface.source.network = network;
    if (bridge !== undefined) iface.source.bridge = bridge;
  }
  const mac = getAttr(asNode(node.mac, `${path}.mac`), 'address');
  if (mac !== undefined) iface.mac = mac.toLowerCase();
  const model = getAttr(asNode(node.model, `${path}.model`), 'type');
  if (model !== undefined) iface.model = model;
  const target = getAttr(asNode(node.target, `${path}.target`), 'dev');
  if (target !== undefined) iface.target = target;
  checkInterface(iface, path);
  return iface;
}

/** Parses domain XML into the model; 'EXMLSCHEMA' names the wrong path. Equivalent to: reading virsh dumpxml NAME. */
export function parseDomain(xml: string): DomainModel {
  const doc = parseXml(xml);
  const roots = Object.keys(doc).filter((k) => !k.startsWith('?') && !k.startsWith('#'));
  if (roots.length !== 1 || roots[0] !== 'domain') throw schemaError(P, `the root element must be <domain>, not <${roots.join('>, <')}>`);
  const raw = asNode(doc.domain, P) ?? {};
  const model: DomainModel = { name: getText(raw.name, `${P}.name`) ?? '', interfaces: [], raw };
  const uuid = getText(raw.uuid, `${P}.uuid`);
  if (uuid !== undefined) model.uuid = uuid;
  const devices = asNode(raw.devices, `${P}.devices`);
  model.interfaces = arr(devices?.interface).map((v, i) =>
    parseInterfaceNode(asNode(v, `${P}.devices.interface[${i}]`) ?? {}, `${P}.devices.interface[${i}]`),
  );
  checkDomain(model);
  return model;
}

function checkInterface(i: InterfaceModel, path: string): void {
  checkPlain(i.type, `${path}.@type`);
  if (i.source?.network !== undefined) checkObjectName(i.source.network, `${path}.source.@network`);
  if (i.source?.bridge !== undefined) checkPlain(i.source.bridge, `${path}.source.@bridge`);
  if (i.mac !== undefined) checkMacAt(i.mac, `${path}.mac.@address`);
  if (i.model !== undefined) checkPlain(i.model, `${path}.model.@type`);
  if (i.target !== undefined) checkPlain(i.target, `${path}.target.@dev`);
}

/** Checks a domain model; throws 'EXMLSCHEMA' naming the path. */
export function checkDomain(m: DomainModel): DomainModel {
  checkObjectName(m.name, `${P}.name`);
  if (m.uuid !== undefined) checkUuidAt(m.uuid, `${P}.uuid`);
  m.interfaces.forEach((i, n) => checkInterface(i, `${P}.devices.interface[${n}]`));
  return m;
}

/** The <interface> element of a model (typed fields over the parsed node), unescaped object form. */
export function interfaceNode(i: InterfaceModel): XmlNode {
  const n = clone(i.raw ?? {});
  setAttr(n, 'type', i.type);
  if (i.source) {
    const s = asNode(n.source, 'source') ?? {};
    setAttr(s, 'network', i.source.network);
    setAttr(s, 'bridge', i.source.bridge);
    n.source = s;
  }
  const sub = (key: string, a: string, v: string | undefined): void => {
    if (v === undefined) return;
    const x = asNode(n[key], key) ?? {};
    setAttr(x, a, v);
    n[key] = x;
  };
  sub('mac', 'address', i.mac);
  sub('model', 'type', i.model);
  sub('target', 'dev', i.target);
  return n;
}

/** One interface device as XML, for attachDevice/detachDevice. Every value is escaped. */
export function buildInterface(i: InterfaceModel): string {
  checkInterface(i, 'interface');
  return buildXml({ interface: interfaceNode(i) });
}

/** The domain XML of a model, every value escaped. Equivalent to: the XML virsh define takes. */
export function buildDomain(m: DomainModel): string {
  checkDomain(m);
  const src = clone(m.raw ?? {});
  const out: XmlNode = {};
  for (const k of Object.keys(src)) if (k.startsWith(ATTR)) out[k] = src[k];
  out.name = m.name;
  if (m.uuid !== undefined) out.uuid = m.uuid;
  for (const k of Object.keys(src)) if (!k.startsWith(ATTR) && k !== 'name' && k !== 'uuid') out[k] = src[k];
  const devices = asNode(out.devices, `${P}.devices`) ?? {};
  if (m.interfaces.length) devices.interface = m.interfaces.map(interfaceNode);
  else delete devices.interface;
  if (Object.keys(devices).length) out.devices = devices;
  return buildXml({ domain: out });
}
