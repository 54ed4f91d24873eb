/**
 * The tutorial's warning, enforced: the host's uplink must not be added to a bridge that belongs
 * to a libvirt NAT or routed network (virbr0 and friends). libvirt runs dnsmasq and firewall rules
 * on those bridges; enslaving the uplink there puts the LAN behind libvirt's DHCP and NAT.
 * Refused with 'ENATBRIDGE' unless forced. The uplink is a physical NIC, or any device the
 * namespace's default route leaves by (a bond, a VLAN, a veth to the LAN): those are uplinks as
 * much as eth0 is. The check is cheap for other ports: one route dump, and libvirt is asked only
 * about an uplink.
 */
import { ValidationError } from '../errors';
import type { Connection } from '../libvirt';
import type { Handle } from '../rtnl/handle';
import type { Link } from '../rtnl/link';
import type { BatchOp } from '../rtnl/batch';
import { checkIfName } from '../rtnl/validate';
import type { NetworkBridge } from './network';

/** A physical NIC: no IFLA_INFO_KIND, and not the loopback device. */
export function isPhysicalLink(l: Link): boolean {
  return l.kind === null && !l.flags.includes('LOOPBACK');
}

/** The links the main table's default routes (IPv4 and IPv6) leave by. Equivalent to: ip route show default */
export async function defaultRouteLinks(h: Handle): Promise<Set<number>> {
  const routes = await h.listRoutes();
  return new Set(routes.flatMap((r) => (r.dst === 'default' && r.oif !== undefined ? [r.oif] : [])));
}

/**
 * The guard's question: is `l` an uplink? With `isPhysical` given (tests), that alone decides;
 * otherwise a physical NIC is, and so is the link a default route leaves by (`routes` computes
 * those once, only when a port is not physical).
 */
async function isUplink(l: Link, isPhysical: ((l: Link) => boolean) | undefined, routes: () => Promise<Set<number>>): Promise<boolean> {
  if (isPhysical) return isPhysical(l);
  return isPhysicalLink(l) || (await routes()).has(l.index);
}

/** A memo of defaultRouteLinks(h): one dump however many ports ask. */
function routesOnce(h: Handle): () => Promise<Set<number>> {
  let p: Promise<Set<number>> | undefined;
  return () => (p ??= defaultRouteLinks(h));
}

export interface GuardOptions {
  /** Add the port even to a NAT/routed network's bridge. */
  force?: boolean;
  /** Where libvirt's networks come from: a connection, or a function (tests). Only used for physical ports. */
  networks: Connection | (() => Promise<NetworkBridge[]>);
  /**
   * Decides alone what is guarded (by default: a physical NIC, or the link a default route leaves
   * by); tests inject one, as no physical NIC can be made in a namespace.
   */
  isPhysical?: (l: Link) => boolean;
}

/** The forward modes whose bridge libvirt manages itself (dnsmasq, NAT or routing rules). */
export const MANAGED_FORWARD: ReadonlySet<string> = new Set(['nat', 'route']);

/**
 * Throws 'ENATBRIDGE' when `port` is an uplink (a physical NIC, or where the default route
 * leaves) and `bridge` belongs to a libvirt NAT or routed network, unless forced. Returns the
 * network that was overridden with force, if any.
 */
export async function checkBridgePort(h: Handle, port: string, bridge: string, opts: GuardOptions): Promise<NetworkBridge | null> {
  checkIfName(port, 'dev');
  checkIfName(bridge, 'master');
  const link = await h.getLink(port);
  if (!(await isUplink(link, opts.isPhysical, routesOnce(h)))) return null;
  return refuseManaged(port, bridge, await guardNetworks(opts), opts.force);
}

/** The libvirt networks the guard compares against. */
export function guardNetworks(opts: Pick<GuardOptions, 'networks'>): Promise<NetworkBridge[]> {
  if (typeof opts.networks === 'function') return opts.networks();
  // Loaded here: ./network brings libvirt and the XML parser, which a port that is not
  // physical never needs (the CLI's `link set` loads this module).
  const { networkBridges } = require('./network') as typeof import('./network');
  return networkBridges(opts.networks);
}

/**
 * The rule itself, for a port already known to be an uplink: throws 'ENATBRIDGE' when `bridge`
 * belongs to a NAT or routed network in `nets`, unless forced; returns the network overridden.
 */
export function refuseManaged(port: string, bridge: string, nets: NetworkBridge[], force = false): NetworkBridge | null {
  const owner = nets.find((n) => n.bridge === bridge && n.forward !== null && MANAGED_FORWARD.has(n.forward));
  if (!owner || force) return owner ?? null;
  throw new ValidationError(
    'ENATBRIDGE',
    `${bridge} belongs to libvirt network ${owner.network} (forward mode ${owner.forward}); adding the uplink ${port} to it would put the LAN behind libvirt's NAT/DHCP. Use a bridge of its own (bridge uplink, net define-bridge), or --force`,
    'master',
  );
}

/**
 * Adds a port to a bridge after the guard above.
 * Equivalent to: ip link set DEV master BR (with the tutorial's virbr0 warning enforced)
 */
export async function addBridgePort(h: Handle, port: string, bridge: string, opts: GuardOptions): Promise<void> {
  await checkBridgePort(h, port, bridge, opts);
  await h.setMaster(port, bridge);
}

/**
 * The guard for a batch of operations: one error (or undefined) per operation. One link dump
 * (and at most one route dump) for the whole batch; libvirt is asked once, and only when some
 * port being attached is an uplink. `forced[i]` overrides the guard for operation i.
 */
export async function checkBatchPorts(h: Handle, ops: BatchOp[], forced: boolean[], opts: GuardOptions): Promise<Array<Error | undefined>> {
  const out: Array<Error | undefined> = ops.map(() => undefined);
  const attach = ops.flatMap((o, i) => (o.op === 'setLink' && o.change.master !== undefined && o.change.master !== null ? [i] : []));
  if (!attach.length) return out;
  const links = await h.listLinks();
  const routes = routesOnce(h);
  const find = (dev: string | number) => links.find((l) => l.name === dev || l.index === dev);
  const suspects: number[] = [];
  for (const i of attach) {
    const l = find((ops[i] as Extract<BatchOp, { op: 'setLink' }>).dev);
    if (l !== undefined && (await isUplink(l, opts.isPhysical, routes))) suspects.push(i);
  }
  if (!suspects.length) return out;
  const nets = await guardNetworks(opts);
  for (const i of suspects) {
    const o = ops[i] as Extract<BatchOp, { op: 'setLink' }>;
    const port = find(o.dev) as Link;
    const bridge = typeof o.change.master === 'number' ? find(o.change.master)?.name : o.change.master;
    if (bridge === undefined) continue; // an unknown master: the kernel's ENODEV says so
    try {
      refuseManaged(port.name, bridge as string, nets, forced[i]);
    } catch (e) {
      out[i] = e as Error;
    }
  }
  return out;
}
