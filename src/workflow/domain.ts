/**
 * Domain steps of the bridged-networking workflow: NICs hot-plugged and unplugged by MAC, and
 * the domain's NICs joined with what the kernel says about their taps right now.
 */
import { randomBytes } from 'crypto';
import { ValidationError } from '../errors';
import { Connection, VIR_DOMAIN_AFFECT_CONFIG, VIR_DOMAIN_AFFECT_LIVE, VIR_DOMAIN_XML_INACTIVE, type Domain } from '../libvirt';
import type { Handle } from '../rtnl/handle';
import type { NetlinkError } from '../rtnl/errors';
import { checkIfName, checkMac } from '../rtnl/validate';
import { checkName } from '../libvirt/validate';
import { buildXml } from '../xml/parser';
import { buildInterface, interfaceNode, parseDomain, type InterfaceModel } from '../xml/domain';
import { withHandle } from './network';

export interface AttachOptions {
  /** A libvirt network (`<interface type='network'>`)... */
  network?: string;
  /** ...or a host bridge (`<interface type='bridge'>`): exactly one of the two. */
  bridge?: string;
  /** The NIC's MAC; a random 52:54:00:xx:xx:xx (QEMU's prefix) when absent. */
  mac?: string;
  /** The NIC model ('virtio', 'e1000e' ...). */
  model?: string;
  /** Hot-plug into the running domain. */
  live?: boolean;
  /** Add to the persistent definition. */
  config?: boolean;
}

/** A random locally-administered-looking MAC under QEMU's 52:54:00 prefix, as libvirt picks them. */
export function randomMac(): string {
  const b = randomBytes(3);
  return ['52', '54', '00', ...Array.from(b, (x) => x.toString(16).padStart(2, '0'))].join(':');
}

const affect = (o: { live?: boolean; config?: boolean }): number =>
  (o.live ? VIR_DOMAIN_AFFECT_LIVE : 0) | (o.config ? VIR_DOMAIN_AFFECT_CONFIG : 0);

async function withDomain<T>(c: Connection, name: string, fn: (d: Domain) => Promise<T>): Promise<T> {
  const d = await c.domainLookupByName(name);
  try {
    return await fn(d);
  } finally {
    d.free();
  }
}

/** The interface spec of attachInterface(), checked (no libvirt call). */
export function interfaceSpec(o: AttachOptions): InterfaceModel {
  if ((o.network === undefined) === (o.bridge === undefined))
    throw new ValidationError('EINVALIDARG', 'give exactly one of network and bridge', o.network === undefined ? 'network' : 'bridge');
  const iface: InterfaceModel =
    o.network !== undefined
      ? { type: 'network', source: { network: checkName(o.network, 'network') } }
      : { type: 'bridge', source: { bridge: checkIfName(o.bridge, 'bridge') } };
  iface.mac = o.mac !== undefined ? checkMac(o.mac, 'mac') : randomMac();
  if (o.model !== undefined) {
    if (!/^[A-Za-z0-9_.-]{1,32}$/.test(o.model))
      throw new ValidationError('EINVALIDARG', `model ${JSON.stringify(o.model)} is not a NIC model name`, 'model');
    iface.model = o.model;
  }
  return iface;
}

/**
 * Adds a NIC on a network or bridge to a domain, live and/or in its definition (neither: the
 * domain's current state, as virsh). Resolves the NIC's MAC.
 * Equivalent to: virsh attach-interface DOM network NET|bridge BR [--mac MAC] [--model M] [--live] [--config]
 */
export async function attachInterface(c: Connection, domain: string, o: AttachOptions): Promise<{ mac: string; xml: string }> {
  const iface = interfaceSpec(o);
  const xml = buildInterface(iface);
  await withDomain(c, domain, (d) => d.attachDevice(xml, affect(o)));
  return { mac: iface.mac!, xml };
}

export interface DetachOptions {
  mac: string;
  live?: boolean;
  config?: boolean;
  /** For a live detach: how long to wait for the guest side to finish the unplug (default 10 s; 0: do not wait). */
  waitMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Removes the NIC with this MAC, matched by MAC only: a NIC plugged with type 'network' shows as
 * type 'bridge' in the live XML, so the device sent to libvirt is the one read back from the
 * domain's own XML (the inactive XML for --config alone). 'ENOIFACE' when no NIC has the MAC.
 * A live detach waits until the NIC has left the live XML (QEMU finishes unplugs later).
 * Equivalent to: virsh detach-interface DOM --mac MAC [--live] [--config]
 */
export async function detachInterface(c: Connection, domain: string, o: DetachOptions): Promise<{ removed: boolean }> {
  const mac = checkMac(o.mac, 'mac');
  return withDomain(c, domain, async (d) => {
    const flags = affect(o);
    const fromConfig = !!o.config && !o.live;
    const model = parseDomain(await d.getXMLDesc(fromConfig ? VIR_DOMAIN_XML_INACTIVE : 0));
    const found = model.interfaces.find((i) => i.mac === mac);
    if (!found) throw new ValidationError('ENOIFACE', `domain ${domain} has no interface with MAC ${mac}`, 'mac');
    await d.detachDevice(buildXml({ interface: interfaceNode(found) }), flags);
    const live = o.live || (!o.config && (await d.isActive()));
    if (!live || o.waitMs === 0) return { removed: !live };
    const deadline = Date.now() + (o.waitMs ?? 10_000);
    for (;;) {
      if (!parseDomain(await d.getXMLDesc()).interfaces.some((i) => i.mac === mac)) return { removed: true };
      if (Date.now() >= deadline) return { removed: false };
      await sleep(50);
    }
  });
}

/** One row of interfaceList(): libvirt's view of a NIC, joined with the kernel's view of its tap. */
export interface InterfaceRow {
  /** The tap (vnetN) while the domain runs, else null. */
  target: string | null;
  type: string;
  /** Network or bridge named in the domain XML. */
  source: string | null;
  model: string | null;
  mac: string | null;
  /** The bridge the tap is enslaved to right now (kernel), null when none or no tap. */
  master: string | null;
  /** The tap's operational state ('UP', 'DOWN' ...), null when the tap is not in the namespace. */
  state: string | null;
}

/**
 * The domain's NICs joined with the kernel: for each, its tap, MAC, and the bridge the tap is a
 * port of right now (rtnetlink, in `netns` where the daemon's taps live).
 * Equivalent to: virsh domiflist DOM + ip link show vnetN (its master)
 */
export async function interfaceList(
  c: Connection,
  domain: string,
  opts: { netns?: string; handle?: Handle } = {},
): Promise<InterfaceRow[]> {
  const ifs = await withDomain(c, domain, async (d) => parseDomain(await d.getXMLDesc()).interfaces);
  return withHandle(opts, async (h) => {
    const rows: InterfaceRow[] = [];
    for (const i of ifs) {
      const row: InterfaceRow = {
        target: i.target ?? null,
        type: i.type,
        source: i.source?.network ?? i.source?.bridge ?? null,
        model: i.model ?? null,
        mac: i.mac ?? null,
        master: null,
        state: null,
      };
      if (i.target) {
        try {
          const tap = await h.getLink(i.target);
          row.state = tap.operstate;
          if (tap.master !== null) row.master = (await h.getLink(tap.master)).name;
        } catch (e) {
          if ((e as NetlinkError).code !== 'ENODEV') throw e;
        }
      }
      rows.push(row);
    }
    return rows;
  });
}
