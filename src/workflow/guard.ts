/**
 * The tutorial's warning, enforced: a physical NIC must not be added to a bridge that belongs to
 * a libvirt NAT or routed network (virbr0 and friends). libvirt runs dnsmasq and firewall rules
 * on those bridges; enslaving the host's uplink there puts the LAN behind libvirt's DHCP and NAT.
 * Refused with 'ENATBRIDGE' unless forced. The check is cheap for ports that are not physical:
 * libvirt is asked only when the port is a physical NIC.
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

export interface GuardOptions {
  /** Add the port even to a NAT/routed network's bridge. */
  force?: boolean;
  /** Where libvirt's networks come from: a connection, or a function (tests). Only used for physical ports. */
  networks: Connection | (() => Promise<NetworkBridge[]>);
  /** Decides what is physical (default isPhysicalLink); tests inject one, as no physical NIC can be made in a namespace. */
  isPhysical?: (l: Link) => boolean;
}

/** The forward modes whose bridge libvirt manages itself (dnsmasq, NAT or routing rules). */
export const MANAGED_FORWARD: ReadonlySet<string> = new Set(['nat', 'route']);

/**
 * Throws 'ENATBRIDGE' when `port` is a physical NIC and `bridge` belongs to a libvirt NAT or
 * routed network, unless forced. Returns the network that was overridden with force, if any.
 */
export async function checkBridgePort(h: Handle, port: string, bridge: string, opts: GuardOptions): Promise<NetworkBridge | null> {
  checkIfName(port, 'dev');
  checkIfName(bridge, 'master');
  const link = await h.getLink(port);
  if (!(opts.isPhysical ?? isPhysicalLink)(link)) return null;
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
 * The rule itself, for a port already known to be physical: throws 'ENATBRIDGE' when `bridge`
 * belongs to a NAT or routed network in `nets`, unless forced; returns the network overridden.
 */
export function refuseManaged(port: string, bridge: string, nets: NetworkBridge[], force = false): NetworkBridge | null {
  const owner = nets.find((n) => n.bridge === bridge && n.forward !== null && MANAGED_FORWARD.has(n.forward));
  if (!owner || force) return owner ?? null;
  throw new ValidationError(
    'ENATBRIDGE',
    `${bridge} belongs to libvirt network ${owner.network} (forward mode ${owner.forward}); adding the physical interface ${port} to it would put the LAN behind libvirt's NAT/DHCP. Use a bridge of its own (net define-bridge), or --force`,
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
 * for the whole batch; libvirt is asked once, and only when some port being attached is
 * physical. `forced[i]` overrides the guard for operation i.
 */
export async function checkBatchPorts(h: Handle, ops: BatchOp[], forced: boolean[], opts: GuardOptions): Promise<Array<Error | undefined>> {
  const out: Array<Error | undefined> = ops.map(() => undefined);
  const attach = ops.flatMap((o, i) => (o.op === 'setLink' && o.change.master !== undefined && o.change.master !== null ? [i] : []));
  if (!attach.length) return out;
  const links = await h.listLinks();
  const isPhysical = opts.isPhysical ?? isPhysicalLink;
  const find = (dev: string | number) => links.find((l) => l.name === dev || l.index === dev);
  const suspects = attach.filter((i) => {
    const l = find((ops[i] as Extract<BatchOp, { op: 'setLink' }>).dev);
    return l !== undefined && isPhysical(l);
  });
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
