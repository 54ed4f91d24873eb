/**
 * Network steps of the bridged-networking workflow: define the tutorial's bridged network on a
 * bridge that exists, and the net-edit cycle on the typed model. Every check runs before
 * anything is changed; what fails after a change is undone.
 */
import { ValidationError } from '../errors';
import { Connection, LibvirtError, VIR_NETWORK_XML_INACTIVE, type Network } from '../libvirt';
import { Handle } from '../rtnl/handle';
import type { NetlinkError } from '../rtnl/errors';
import { checkIfName } from '../rtnl/validate';
import { bridgedNetwork, buildNetwork, checkNetwork, parseNetwork, type NetworkModel } from '../xml/network';

export interface DefineBridgeOptions {
  /** The bridge device; it must exist (libvirt does not create bridges for forward mode bridge). */
  bridge: string;
  /** Start the network once defined. */
  start?: boolean;
  /** Mark it autostarted. */
  autostart?: boolean;
  /** The namespace where the bridge (and the daemon's taps) live, like `ip -n NS`. */
  netns?: string;
  /** A handle to check the bridge with (else one is opened on `netns` and closed). */
  handle?: Handle;
}

export interface DefineBridgeResult {
  name: string;
  uuid: string;
  bridge: string;
  started: boolean;
  autostart: boolean;
}

/** Runs fn with the given handle, or with one opened on netns and closed afterwards. */
export async function withHandle<T>(opts: { handle?: Handle; netns?: string }, fn: (h: Handle) => Promise<T>): Promise<T> {
  if (opts.handle) return fn(opts.handle);
  const h = new Handle({ netns: opts.netns });
  try {
    return await fn(h);
  } finally {
    h.close();
  }
}

/** The bridge must exist and be a bridge: 'ENOBRIDGE' / 'ENOTBRIDGE' otherwise. */
export async function checkBridgeExists(h: Handle, bridge: string): Promise<void> {
  checkIfName(bridge, 'bridge');
  const where = h.netns ? ` in namespace ${h.netns}` : '';
  let link;
  try {
    link = await h.getLink(bridge);
  } catch (e) {
    if ((e as NetlinkError).code === 'ENODEV')
      throw new ValidationError(
        'ENOBRIDGE',
        `bridge ${bridge} does not exist${where}: create it first (hostwire bridge add ${bridge})`,
        'bridge',
      );
    throw e;
  }
  if (link.kind !== 'bridge')
    throw new ValidationError('ENOTBRIDGE', `${bridge} is a ${link.kind ?? 'physical'} device${where}, not a bridge`, 'bridge');
}

async function lookupNetwork(c: Connection, name: string): Promise<Network | null> {
  try {
    return await c.networkLookupByName(name);
  } catch (e) {
    if (e instanceof LibvirtError && e.code === 'VIR_ERR_NO_NETWORK') return null;
    throw e;
  }
}

/**
 * Defines the tutorial's bridged network (`<forward mode='bridge'/><bridge name='BR'/>`) on an
 * existing bridge, optionally starting and autostarting it. Refuses a name already taken
 * ('ENETEXISTS') and a missing bridge ('ENOBRIDGE') before defining anything; if starting or
 * autostarting fails, the new definition is removed again.
 * Equivalent to: virsh net-define FILE && virsh net-start NAME && virsh net-autostart NAME
 */
export async function defineBridgedNetwork(c: Connection, name: string, opts: DefineBridgeOptions): Promise<DefineBridgeResult> {
  const xml = buildNetwork(bridgedNetwork(name, opts.bridge));
  await withHandle(opts, (h) => checkBridgeExists(h, opts.bridge));
  const existing = await lookupNetwork(c, name);
  if (existing) {
    existing.free();
    throw new ValidationError('ENETEXISTS', `network ${name} already exists`, 'name');
  }
  const n = await c.networkDefineXML(xml);
  try {
    if (opts.start) await n.create();
    if (opts.autostart) await n.setAutostart(true);
    return { name: n.name, uuid: n.uuid, bridge: opts.bridge, started: !!opts.start, autostart: !!opts.autostart };
  } catch (e) {
    if (opts.start && (await n.isActive().catch(() => false))) await n.destroy().catch(() => undefined);
    await n.undefine().catch(() => undefined);
    throw e;
  } finally {
    n.free();
  }
}

export interface EditResult {
  name: string;
  /** False when the edit changed nothing: nothing was redefined. */
  changed: boolean;
  /** The definition now in effect. */
  xml: string;
}

/** The persistent definition of a network (what net-edit edits). */
export async function networkDefinition(c: Connection, name: string): Promise<string> {
  const n = await c.networkLookupByName(name);
  try {
    return await inactiveXml(n);
  } finally {
    n.free();
  }
}

/** VIR_NETWORK_XML_INACTIVE, or the plain XML from drivers that refuse the flag (the test driver). */
async function inactiveXml(n: Network): Promise<string> {
  try {
    return await n.getXMLDesc(VIR_NETWORK_XML_INACTIVE);
  } catch (e) {
    if (e instanceof LibvirtError && e.code === 'VIR_ERR_INVALID_ARG') return n.getXMLDesc(0);
    throw e;
  }
}

/**
 * Checks an edited definition against the one it replaces: it must parse, fit the schema and
 * keep the network's name and UUID ('EEDITIDENTITY': renaming would define a second network).
 * Returns the XML to define, or null when nothing changed.
 */
export function checkEdit(before: NetworkModel, after: NetworkModel): string | null {
  checkNetwork(after);
  if (after.name !== before.name)
    throw new ValidationError(
      'EEDITIDENTITY',
      `the edit renames network ${before.name} to ${after.name}; net edit keeps the name`,
      'network.name',
    );
  if (before.uuid !== undefined && after.uuid !== undefined && after.uuid.toLowerCase() !== before.uuid.toLowerCase())
    throw new ValidationError('EEDITIDENTITY', `the edit changes the UUID of network ${before.name}`, 'network.uuid');
  const old = buildNetwork(before);
  const next = buildNetwork(after);
  return next === old ? null : next;
}

/**
 * Edits a network's persistent definition through its typed model: `edit` changes the model
 * (in place or by returning a new one). Nothing is redefined when nothing changed; when the
 * result is invalid or libvirt refuses it, the old definition stays as it was. A running network
 * keeps running on its old configuration until restarted, as with virsh.
 * Equivalent to: virsh net-edit NAME
 */
export async function editNetwork(
  c: Connection,
  name: string,
  edit: (m: NetworkModel) => NetworkModel | void | Promise<NetworkModel | void>,
): Promise<EditResult> {
  const xml = await networkDefinition(c, name);
  const before = parseNetwork(xml);
  const draft = parseNetwork(xml);
  const after = (await edit(draft)) ?? draft;
  return redefine(c, before, after, xml);
}

/**
 * Redefines a network from edited XML text (the CLI's $EDITOR round). Same guarantees as
 * editNetwork(); text identical to the original changes nothing.
 * Equivalent to: the save step of virsh net-edit NAME
 */
export async function editNetworkXml(c: Connection, name: string, original: string, edited: string): Promise<EditResult> {
  if (edited === original) return { name, changed: false, xml: original };
  return redefine(c, parseNetwork(original), parseNetwork(edited), original);
}

async function redefine(c: Connection, before: NetworkModel, after: NetworkModel, xml: string): Promise<EditResult> {
  const next = checkEdit(before, after);
  if (next === null) return { name: before.name, changed: false, xml };
  const n = await c.networkDefineXML(next);
  n.free();
  return { name: before.name, changed: true, xml: await networkDefinition(c, before.name) };
}

/** A libvirt network and its bridge, as the guard needs them. */
export interface NetworkBridge {
  network: string;
  bridge: string;
  /** 'nat', 'route', 'open', 'bridge' ...; null for an isolated network. */
  forward: string | null;
  active: boolean;
}

/** Every network with a bridge, with its forward mode (from the live XML when active). */
export async function networkBridges(c: Connection): Promise<NetworkBridge[]> {
  const out: NetworkBridge[] = [];
  for (const info of await c.listAllNetworks()) {
    const n = await c.networkLookupByName(info.name);
    try {
      const m = parseNetwork(info.active ? await n.getXMLDesc(0) : await inactiveXml(n));
      const bridge = m.bridge?.name ?? info.bridge;
      if (bridge) out.push({ network: m.name, bridge, forward: m.forward?.mode ?? null, active: info.active });
    } finally {
      n.free();
    }
  }
  return out;
}
