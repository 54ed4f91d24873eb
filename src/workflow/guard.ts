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
import { checkIfName } from '../rtnl/validate';
import { networkBridges, type NetworkBridge } from './network';

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
  const nets = typeof opts.networks === 'function' ? await opts.networks() : await networkBridges(opts.networks);
  const owner = nets.find((n) => n.bridge === bridge && n.forward !== null && MANAGED_FORWARD.has(n.forward));
  if (!owner) return null;
  if (opts.force) return owner;
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
