/**
 * libvirt networks in a state document: read (name, persistent definition, active, autostart),
 * planned and applied after the links (a bridged network needs its bridge): defined when
 * missing, redefined when the definition differs, started or stopped, autostart set. Networks
 * are never removed (prune is about links and routes). Loaded only for a document that has
 * networks, so kernel-only applies never load libvirt or the XML parser.
 *
 * Definitions are compared as the XML model builds them (src/xml/network.ts); what the document
 * leaves out and libvirt fills in (uuid, mac, a bridge name it picked) is taken from the current
 * definition, so a definition written by hand is not redefined on every apply.
 */
import { LibvirtError, VIR_NETWORK_XML_INACTIVE, type Connection, type Network } from '../libvirt';
import { buildNetwork, checkNetwork, parseNetwork, type NetworkModel } from '../xml/network';
import { StateError, type NetworkState } from './state-doc';
import type { PlanEntry } from './state-plan';

/** What to do to one network. */
export interface NetworkSteps {
  /** The definition to define (a new network, or a changed one). */
  define?: string;
  /** The definition in place now, for the rollback of a redefinition. */
  previous?: string;
  /** Start (true) or stop (false). */
  active?: boolean;
  autostart?: boolean;
  /** The network is new (a rollback undefines it). */
  isNew: boolean;
}

export type NetworkEntry = PlanEntry & { network: NetworkSteps };

async function inactiveXml(n: Network): Promise<string> {
  try {
    return await n.getXMLDesc(VIR_NETWORK_XML_INACTIVE);
  } catch (e) {
    if (e instanceof LibvirtError && e.code === 'VIR_ERR_INVALID_ARG') return n.getXMLDesc(0);
    throw e;
  }
}

/**
 * Every network of the connection, as a document states it.
 * Equivalent to: virsh net-list --all; virsh net-dumpxml --inactive NAME (each)
 */
export async function readNetworks(c: Connection): Promise<NetworkState[]> {
  const out: NetworkState[] = [];
  for (const info of await c.listAllNetworks()) {
    const n = await c.networkLookupByName(info.name);
    try {
      out.push({ name: info.name, xml: await inactiveXml(n), active: info.active, autostart: info.autostart });
    } finally {
      n.free();
    }
  }
  return out;
}

/** The desired model, with what it leaves out that libvirt filled in taken from the current one. */
function merged(want: NetworkModel, have: NetworkModel | undefined): NetworkModel {
  if (!have) return want;
  const m: NetworkModel = { ...want };
  if (m.uuid === undefined && have.uuid !== undefined) m.uuid = have.uuid;
  if (m.mac === undefined && have.mac !== undefined) m.mac = have.mac;
  if (have.bridge?.name !== undefined && (m.bridge === undefined || m.bridge.name === undefined))
    m.bridge = { ...have.bridge, ...m.bridge, name: have.bridge.name };
  return m;
}

/**
 * What makes the networks what the document says (pure). A definition that does not parse or
 * fit is a StateError at its path (networks[i].xml), with the XML model's code.
 */
export function planNetworks(desired: NetworkState[], current: NetworkState[]): NetworkEntry[] {
  const have = new Map(current.map((n) => [n.name, n]));
  const entries: NetworkEntry[] = [];
  desired.forEach((d, i) => {
    const p = `networks[${i}]`;
    let want: NetworkModel;
    try {
      want = checkNetwork(parseNetwork(d.xml));
    } catch (e) {
      const err = e as { code?: string; message: string };
      throw new StateError(err.code ?? 'EXML', `${p}.xml`, err.message);
    }
    if (want.name !== d.name) throw new StateError('EDOCUMENT', `${p}.xml`, `the definition names ${want.name}, not ${d.name}`);
    const c = have.get(d.name);
    const haveModel = c ? parseNetwork(c.xml) : undefined;
    const xml = buildNetwork(merged(want, haveModel));
    const steps: NetworkSteps = { isNew: !c };
    const changes: Record<string, [unknown, unknown]> = {};
    if (!c || buildNetwork(haveModel as NetworkModel) !== xml) {
      steps.define = xml;
      if (c) steps.previous = c.xml;
      changes.definition = [c ? 'defined' : null, c ? 'changed' : 'defined'];
    }
    if (d.active !== undefined && d.active !== (c?.active ?? false)) {
      steps.active = d.active;
      changes.active = [c?.active ?? null, d.active];
    }
    if (d.autostart !== undefined && d.autostart !== (c?.autostart ?? false)) {
      steps.autostart = d.autostart;
      changes.autostart = [c?.autostart ?? null, d.autostart];
    }
    if (Object.keys(changes).length)
      entries.push({ action: c ? 'update' : 'create', type: 'network', name: d.name, changes, ops: [], network: steps });
  });
  return entries;
}

/**
 * Runs the network entries in order; on a failure, undoes what they did (newest first) and
 * rethrows, with `entry` and `undoErrors` on the error.
 */
export async function applyNetworks(c: Connection, entries: NetworkEntry[]): Promise<void> {
  const undo: Array<() => Promise<unknown>> = [];
  for (const e of entries) {
    try {
      const s = e.network;
      let n: Network | undefined;
      try {
        if (s.define !== undefined) {
          n = await c.networkDefineXML(s.define);
          const previous = s.previous;
          undo.push(async () => {
            const x = await c.networkLookupByName(e.name);
            try {
              if (previous !== undefined) (await c.networkDefineXML(previous)).free();
              else {
                if (await x.isActive()) await x.destroy();
                await x.undefine();
              }
            } finally {
              x.free();
            }
          });
        } else n = await c.networkLookupByName(e.name);
        const net = n;
        if (s.active === true) {
          await net.create();
          undo.push(() => c.networkLookupByName(e.name).then((x) => x.destroy().finally(() => x.free())));
        } else if (s.active === false) {
          await net.destroy();
          undo.push(() => c.networkLookupByName(e.name).then((x) => x.create().finally(() => x.free())));
        }
        if (s.autostart !== undefined) {
          await net.setAutostart(s.autostart);
          const back = !s.autostart;
          undo.push(() => c.networkLookupByName(e.name).then((x) => x.setAutostart(back).finally(() => x.free())));
        }
      } finally {
        n?.free();
      }
    } catch (err) {
      const undoErrors: Error[] = [];
      for (const u of undo.reverse()) await u().catch((ue: Error) => undoErrors.push(ue));
      Object.assign(err as object, { entry: e, undoErrors });
      throw err;
    }
  }
}
