/** The registry of link kinds: IFLA_INFO_KIND -> its codecs. */
import { decodeTable } from '../attrs';
import { bridge } from './bridge';
import type { LinkKind } from './kind';
import { tun } from './tun';
import { veth } from './veth';
import { vxlan } from './vxlan';
import { macvlan, macvtap } from './macvlan';
import { ifb } from './ifb';

export type { EncodeContext, LinkKind } from './kind';

const registry = new Map<string, LinkKind>();

export function registerKind(k: LinkKind): void {
  registry.set(k.kind, k);
}

export function getKind(kind: string): LinkKind | undefined {
  return registry.get(kind);
}

for (const k of [bridge, veth, tun, vxlan, macvlan, macvtap, ifb]) registerKind(k);

/** IFLA_INFO_DATA decoded by its kind's codec; undefined for kinds without one. */
export function decodeInfoData(kind: string, buf: Buffer): Record<string, unknown> | undefined {
  const k = registry.get(kind);
  if (!k) return undefined;
  if (k.decodeData) return k.decodeData(buf);
  return k.data ? decodeTable(k.data, buf) : undefined;
}

/** IFLA_INFO_SLAVE_DATA decoded by the master kind's port table ('bridge' -> IFLA_BRPORT_*). */
export function decodeSlaveData(slaveKind: string, buf: Buffer): Record<string, unknown> | undefined {
  const k = registry.get(slaveKind);
  return k?.slaveData ? decodeTable(k.slaveData, buf) : undefined;
}

/** The kinds that can be made over rtnetlink, by name. */
export function creatableKinds(): string[] {
  return [...registry.values()].filter((k) => k.check && k.encodeData).map((k) => k.kind);
}
