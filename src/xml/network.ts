/**
 * The typed model of libvirt network XML (https://libvirt.org/formatnetwork.html): name, uuid,
 * forward mode, bridge name/stp/delay, mac, ip with netmask/prefix, dhcp ranges and hosts.
 * Parsed and built with the one configured parser (parser.ts). Everything the model does not
 * type (dns, portgroups, attributes it does not know ...) stays in `raw` and is written back by
 * buildNetwork(). Pure: no I/O.
 */
import { ATTR, buildXml, parseXml, type XmlNode } from './parser';
import {
  asNode,
  checkIntAt,
  checkIpAt,
  checkMacAt,
  checkObjectName,
  checkPlain,
  checkUuidAt,
  clone,
  getAttr,
  getText,
  schemaError,
  setAttr,
  setText,
} from './model';

/** <forward mode=...>: a network without <forward> is isolated; <forward/> without mode is NAT. */
export const FORWARD_MODES = ['nat', 'route', 'open', 'bridge', 'private', 'vepa', 'passthrough', 'hostdev'] as const;
export type ForwardMode = (typeof FORWARD_MODES)[number];

export interface DhcpRange {
  start: string;
  end: string;
  /** The parsed <range>, for what the model does not type. */
  raw?: XmlNode;
}

export interface DhcpHost {
  mac?: string;
  name?: string;
  ip?: string;
  raw?: XmlNode;
}

export interface NetworkIp {
  /** 'ipv4' (the default) or 'ipv6'. */
  family?: 'ipv4' | 'ipv6';
  address?: string;
  netmask?: string;
  prefix?: number;
  /** Present when the <ip> has a <dhcp> element. */
  dhcp?: { ranges: DhcpRange[]; hosts: DhcpHost[] };
  raw?: XmlNode;
}

export interface NetworkModel {
  name: string;
  uuid?: string;
  /** Absent: an isolated network. */
  forward?: { mode: ForwardMode };
  bridge?: { name?: string; stp?: boolean; delay?: number };
  mac?: string;
  ips: NetworkIp[];
  /** The parsed <network> element: what the model does not type survives a round trip. */
  raw: XmlNode;
}

const P = 'network';

/**
 * Parses network XML into the model; a document that does not fit is a ValidationError
 * 'EXMLSCHEMA' whose `field` is the wrong path (malformed XML: 'EXML').
 * Equivalent to: reading virsh net-dumpxml NAME.
 */
export function parseNetwork(xml: string): NetworkModel {
  const doc = parseXml(xml);
  const roots = Object.keys(doc).filter((k) => !k.startsWith('?') && !k.startsWith('#'));
  if (roots.length !== 1 || roots[0] !== 'network') throw schemaError(P, `the root element must be <network>, not <${roots.join('>, <')}>`);
  const raw = asNode(doc.network, P) ?? {};
  const model: NetworkModel = { name: getText(raw.name, `${P}.name`) ?? '', ips: [], raw };
  const uuid = getText(raw.uuid, `${P}.uuid`);
  if (uuid !== undefined) model.uuid = uuid;
  const fwd = asNode(raw.forward, `${P}.forward`);
  if (fwd) model.forward = { mode: (getAttr(fwd, 'mode') ?? 'nat') as ForwardMode };
  const br = asNode(raw.bridge, `${P}.bridge`);
  if (br) {
    model.bridge = {};
    const name = getAttr(br, 'name');
    if (name !== undefined) model.bridge.name = name;
    const stp = getAttr(br, 'stp');
    if (stp !== undefined) {
      if (stp !== 'on' && stp !== 'off') throw schemaError(`${P}.bridge.@stp`, `${JSON.stringify(stp)} is not 'on' or 'off'`);
      model.bridge.stp = stp === 'on';
    }
    const delay = getAttr(br, 'delay');
    if (delay !== undefined) model.bridge.delay = checkIntAt(delay, `${P}.bridge.@delay`, 0, 0x7fffffff);
  }
  const mac = asNode(raw.mac, `${P}.mac`);
  if (mac) model.mac = getAttr(mac, 'address') ?? '';
  const ips = Array.isArray(raw.ip) ? raw.ip : raw.ip === undefined ? [] : [raw.ip];
  model.ips = ips.map((v, i) => parseIp(asNode(v, `${P}.ip[${i}]`) ?? {}, `${P}.ip[${i}]`));
  checkNetwork(model);
  return model;
}

function parseIp(node: XmlNode, path: string): NetworkIp {
  const ip: NetworkIp = { raw: node };
  const family = getAttr(node, 'family');
  if (family !== undefined) {
    if (family !== 'ipv4' && family !== 'ipv6') throw schemaError(`${path}.@family`, `${JSON.stringify(family)} is not 'ipv4' or 'ipv6'`);
    ip.family = family;
  }
  for (const k of ['address', 'netmask'] as const) {
    const v = getAttr(node, k);
    if (v !== undefined) ip[k] = v;
  }
  const prefix = getAttr(node, 'prefix');
  if (prefix !== undefined) ip.prefix = checkIntAt(prefix, `${path}.@prefix`, 0, 128);
  const dhcp = asNode(node.dhcp, `${path}.dhcp`);
  if (dhcp) {
    const ranges = Array.isArray(dhcp.range) ? dhcp.range : dhcp.range === undefined ? [] : [dhcp.range];
    const hosts = Array.isArray(dhcp.host) ? dhcp.host : dhcp.host === undefined ? [] : [dhcp.host];
    ip.dhcp = {
      ranges: ranges.map((r, i) => {
        const n = asNode(r, `${path}.dhcp.range[${i}]`) ?? {};
        return { start: getAttr(n, 'start') ?? '', end: getAttr(n, 'end') ?? '', raw: n };
      }),
      hosts: hosts.map((h, i) => {
        const n = asNode(h, `${path}.dhcp.host[${i}]`) ?? {};
        const host: DhcpHost = { raw: n };
        for (const k of ['mac', 'name', 'ip'] as const) {
          const v = getAttr(n, k);
          if (v !== undefined) host[k] = v;
        }
        return host;
      }),
    };
  }
  return ip;
}

/** Checks a model against the schema subset it types; throws 'EXMLSCHEMA' naming the path. */
export function checkNetwork(m: NetworkModel): NetworkModel {
  checkObjectName(m.name, `${P}.name`);
  if (m.uuid !== undefined) checkUuidAt(m.uuid, `${P}.uuid`);
  if (m.forward !== undefined && !(FORWARD_MODES as readonly string[]).includes(m.forward.mode))
    throw schemaError(`${P}.forward.@mode`, `${JSON.stringify(m.forward.mode)} is not one of ${FORWARD_MODES.join(', ')}`);
  if (m.bridge?.name !== undefined) checkPlain(m.bridge.name, `${P}.bridge.@name`);
  // libvirt: "bridge delay/stp/zone options only allowed in route, nat, and isolated mode".
  const fmode = m.forward?.mode;
  if (fmode !== undefined && fmode !== 'nat' && fmode !== 'route') {
    if (m.bridge?.stp !== undefined)
      throw schemaError(`${P}.bridge.@stp`, `stp is only allowed in route, nat and isolated networks, not in mode ${fmode}`);
    if (m.bridge?.delay !== undefined)
      throw schemaError(`${P}.bridge.@delay`, `delay is only allowed in route, nat and isolated networks, not in mode ${fmode}`);
  }
  if (m.bridge?.delay !== undefined) checkIntAt(m.bridge.delay, `${P}.bridge.@delay`, 0, 0x7fffffff);
  if (m.mac !== undefined) checkMacAt(m.mac, `${P}.mac.@address`);
  m.ips.forEach((ip, i) => {
    const path = `${P}.ip[${i}]`;
    const fam = ip.family === 'ipv6' ? 6 : ip.family === 'ipv4' ? 4 : undefined;
    if (ip.address !== undefined) checkIpAt(ip.address, `${path}.@address`, fam);
    if (ip.netmask !== undefined) checkIpAt(ip.netmask, `${path}.@netmask`, 4);
    if (ip.prefix !== undefined) checkIntAt(ip.prefix, `${path}.@prefix`, 0, ip.family === 'ipv6' ? 128 : 32);
    if (ip.netmask !== undefined && ip.prefix !== undefined)
      throw schemaError(`${path}.@prefix`, 'netmask and prefix are mutually exclusive');
    ip.dhcp?.ranges.forEach((r, j) => {
      checkIpAt(r.start, `${path}.dhcp.range[${j}].@start`, fam);
      checkIpAt(r.end, `${path}.dhcp.range[${j}].@end`, fam);
    });
    ip.dhcp?.hosts.forEach((h, j) => {
      if (h.mac !== undefined) checkMacAt(h.mac, `${path}.dhcp.host[${j}].@mac`);
      if (h.name !== undefined) checkPlain(h.name, `${path}.dhcp.host[${j}].@name`);
      if (h.ip !== undefined) checkIpAt(h.ip, `${path}.dhcp.host[${j}].@ip`);
    });
  });
  return m;
}

/**
 * The network XML of a model: typed fields written over the parsed element they came from, in
 * libvirt's own order (name, uuid, forward, bridge, mac, ip), every value escaped.
 * Equivalent to: the XML virsh net-define takes.
 */
export function buildNetwork(m: NetworkModel): string {
  checkNetwork(m);
  const src = clone(m.raw ?? {});
  const out: XmlNode = {};
  // Attributes of <network> first, then the typed elements in order, then everything else.
  for (const k of Object.keys(src)) if (k.startsWith(ATTR)) out[k] = src[k];
  if (src.name !== undefined) out.name = src.name;
  setText(out, 'name', m.name);
  if (m.uuid !== undefined) out.uuid = m.uuid;
  if (m.forward) {
    const f = asNode(src.forward, `${P}.forward`) ?? {};
    // libvirt writes NAT as mode='nat'; keep an absent mode absent when it still means NAT.
    setAttr(
      f,
      'mode',
      m.forward.mode === 'nat' && getAttr(f, 'mode') === undefined && src.forward !== undefined ? undefined : m.forward.mode,
    );
    out.forward = f;
  }
  if (m.bridge) {
    const b = asNode(src.bridge, `${P}.bridge`) ?? {};
    setAttr(b, 'name', m.bridge.name);
    setAttr(b, 'stp', m.bridge.stp === undefined ? undefined : m.bridge.stp ? 'on' : 'off');
    setAttr(b, 'delay', m.bridge.delay === undefined ? undefined : String(m.bridge.delay));
    out.bridge = b;
  }
  if (m.mac !== undefined) {
    const n = asNode(src.mac, `${P}.mac`) ?? {};
    setAttr(n, 'address', m.mac);
    out.mac = n;
  }
  if (m.ips.length) out.ip = m.ips.map(buildIp);
  const typed = new Set(['name', 'uuid', 'forward', 'bridge', 'mac', 'ip']);
  for (const k of Object.keys(src)) if (!k.startsWith(ATTR) && !typed.has(k)) out[k] = src[k];
  return buildXml({ network: out });
}

function buildIp(ip: NetworkIp): XmlNode {
  const n = clone(ip.raw ?? {});
  setAttr(n, 'family', ip.family);
  setAttr(n, 'address', ip.address);
  setAttr(n, 'netmask', ip.netmask);
  setAttr(n, 'prefix', ip.prefix === undefined ? undefined : String(ip.prefix));
  if (ip.dhcp) {
    const d = asNode(n.dhcp, 'dhcp') ?? {};
    delete d.range;
    delete d.host;
    const rest = { ...d };
    const out: XmlNode = {};
    if (ip.dhcp.ranges.length)
      out.range = ip.dhcp.ranges.map((r) => {
        const x = clone(r.raw ?? {});
        setAttr(x, 'start', r.start);
        setAttr(x, 'end', r.end);
        return x;
      });
    if (ip.dhcp.hosts.length)
      out.host = ip.dhcp.hosts.map((h) => {
        const x = clone(h.raw ?? {});
        setAttr(x, 'mac', h.mac);
        setAttr(x, 'name', h.name);
        setAttr(x, 'ip', h.ip);
        return x;
      });
    n.dhcp = Object.assign(out, rest);
  } else {
    delete n.dhcp;
  }
  return n;
}

/**
 * The tutorial's bridged network: `<network><name>NAME</name><forward mode='bridge'/>
 * <bridge name='BR'/></network>`, as a model.
 */
export function bridgedNetwork(name: string, bridge: string): NetworkModel {
  return checkNetwork({ name, forward: { mode: 'bridge' }, bridge: { name: bridge }, ips: [], raw: {} });
}
