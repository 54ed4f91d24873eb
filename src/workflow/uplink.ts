/**
 * Bridging an uplink, the step of the tutorial that cuts hosts off when done by hand: the
 * interface's addresses and routes (default route included) move to a new bridge, and the
 * interface becomes the bridge's port. One operation: every check runs first, and when a step
 * fails the steps already done are undone in reverse, leaving the interface as it was.
 */
import { HostwireError, ValidationError } from '../errors';
import { IFA_F_PERMANENT, type Address } from '../rtnl/addr';
import type { NetlinkError } from '../rtnl/errors';
import type { Handle } from '../rtnl/handle';
import { RTPROT_KERNEL, type Route, type RouteSpec } from '../rtnl/route';
import { checkIfName } from '../rtnl/validate';

export interface UplinkOptions {
  /** STP on the new bridge (default off: a port forwards at once, as the tutorial's br0). */
  stp?: boolean;
  /** Called before each step with its name; a throw there fails the move at that step (tests). */
  beforeStep?: (step: string) => void | Promise<void>;
}

export interface UplinkResult {
  bridge: string;
  dev: string;
  /** 'A/N' moved. */
  addresses: string[];
  /** Routes moved ('default via G', 'D/N via G' ...). */
  routes: string[];
}

/** The addresses that move: every IPv4 address, and configured (permanent) global IPv6 ones. */
export function movableAddresses(addrs: Address[]): Address[] {
  return addrs.filter((a) => a.family === 4 || (a.scope === 0 && (a.flags & IFA_F_PERMANENT) !== 0));
}

/** The routes that move: main-table unicast routes out of DEV not made by the kernel for an address. */
export function movableRoutes(routes: Route[]): Route[] {
  return routes.filter((r) => r.protocol !== RTPROT_KERNEL && r.type === 1 && !r.dst.startsWith('fe80:') && !r.dst.startsWith('ff00:'));
}

const routeText = (r: Route): string =>
  `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''}${r.priority !== undefined ? ` metric ${r.priority}` : ''}`;

function spec(r: Route, oif: number): RouteSpec {
  const s: RouteSpec = { dst: r.dst, oif, table: r.table, protocol: r.protocol, scope: r.scope, type: r.type };
  if (r.gateway !== undefined) s.gateway = r.gateway;
  if (r.priority !== undefined) s.priority = r.priority;
  if (r.prefsrc !== undefined) s.prefsrc = r.prefsrc;
  return s;
}

const cidr = (a: Address): string => `${a.address}/${a.prefixlen}`;
// The host already owns these addresses: moved without IPv6 DAD, so they answer at once.
const addrSpec = (a: Address) => ({
  cidr: cidr(a),
  nodad: true,
  ...(a.broadcast ? { broadcast: a.broadcast } : {}),
  ...(a.peer ? { peer: a.peer } : {}),
});

/**
 * Moves DEV's addresses and routes to a new bridge BR (made with DEV's MAC and MTU, so peers'
 * ARP caches stay right) and enslaves DEV to it. Checks first: 'ENODEV' (no DEV), 'EEXIST' (BR
 * exists), 'EALREADYPORT' (DEV already has a master), 'ENOTPORT' (DEV is a bridge). On a failure
 * later on, everything done is undone and the error is rethrown.
 * Equivalent to: ip link add BR type bridge; ip addr flush dev DEV; ip link set DEV master BR;
 * ip addr add ... dev BR; ip route add default via ... dev BR (as one operation)
 */
export async function bridgeUplink(h: Handle, dev: string, bridge: string, opts: UplinkOptions = {}): Promise<UplinkResult> {
  checkIfName(dev, 'dev');
  checkIfName(bridge, 'bridge');
  const link = await h.getLink(dev);
  if (link.master !== null)
    throw new ValidationError('EALREADYPORT', `${dev} is already a port of another device (index ${link.master})`, 'dev');
  if (link.kind === 'bridge') throw new ValidationError('ENOTPORT', `${dev} is a bridge; it cannot be a bridge's uplink port`, 'dev');
  try {
    await h.getLink(bridge);
    throw new ValidationError('EEXIST', `${bridge} already exists: bridge uplink makes a new bridge`, 'bridge');
  } catch (e) {
    if ((e as NetlinkError).code !== 'ENODEV') throw e;
  }
  const addrs = movableAddresses(await h.listAddresses({ dev: link.index }));
  // Routes with a gateway need their subnet first: link routes come first, removal goes in reverse.
  const routes = movableRoutes(await h.listRoutes({ dev: link.index })).sort((a, b) => Number(!!a.gateway) - Number(!!b.gateway));

  const undo: { what: string; fn: () => Promise<void> }[] = [];
  const step = async (name: string, fn: () => Promise<void>, undoFn?: () => Promise<void>): Promise<void> => {
    await opts.beforeStep?.(name);
    await fn();
    if (undoFn) undo.push({ what: name, fn: undoFn });
  };
  try {
    await step(
      'create bridge',
      () => h.createBridge(bridge, { stp: opts.stp ?? false, ...(link.address ? { address: link.address } : {}), mtu: link.mtu }),
      () => h.deleteLink(bridge),
    );
    await step('bridge up', () => h.setUp(bridge));
    const br = await h.getLink(bridge);
    // Off DEV: routes, then addresses (undone together: addresses back first, then routes).
    await step(
      'remove routes from dev',
      async () => {
        for (const r of [...routes].reverse()) await h.deleteRoute(spec(r, link.index)).catch(ignoreGone);
      },
      async () => {
        for (const r of routes) await h.addRoute(spec(r, link.index)).catch(ignoreExists);
      },
    );
    await step(
      'remove addresses from dev',
      async () => {
        for (const a of addrs) await h.deleteAddress(link.index, cidr(a)).catch(ignoreGone);
      },
      async () => {
        for (const a of addrs) await h.addAddress(link.index, addrSpec(a)).catch(ignoreExists);
      },
    );
    await step(
      'enslave dev',
      () => h.setLink(link.index, { master: br.index, up: true }),
      () => h.setNoMaster(link.index),
    );
    await step(
      'addresses on bridge',
      async () => {
        for (const a of addrs) await h.addAddress(br.index, addrSpec(a));
      },
      async () => {
        for (const a of addrs) await h.deleteAddress(br.index, cidr(a)).catch(ignoreGone);
      },
    );
    await step('routes on bridge', async () => {
      for (const r of routes) await h.addRoute(spec(r, br.index)).catch(ignoreExists);
    });
  } catch (e) {
    const failures: string[] = [];
    for (const u of undo.reverse()) {
      try {
        await u.fn();
      } catch (ue) {
        failures.push(`${u.what}: ${(ue as Error).message}`);
      }
    }
    if (failures.length) {
      const err = new HostwireError(
        'EROLLBACK',
        `bridge uplink failed (${(e as Error).message}) and could not be fully undone: ${failures.join('; ')}`,
      );
      (err as HostwireError & { cause?: unknown }).cause = e;
      throw err;
    }
    throw e;
  }
  return { bridge, dev, addresses: addrs.map(cidr), routes: routes.map(routeText) };
}

function ignoreGone(e: unknown): void {
  const c = (e as NetlinkError).code;
  if (c !== 'ESRCH' && c !== 'EADDRNOTAVAIL' && c !== 'ENOENT') throw e;
}

function ignoreExists(e: unknown): void {
  if ((e as NetlinkError).code !== 'EEXIST') throw e;
}
