/** What one link kind provides: its IFLA_INFO_DATA (and port IFLA_INFO_SLAVE_DATA) codecs. */
import type { AttrTable } from '../attrs';

export interface LinkKind {
  /** IFLA_INFO_KIND as the kernel spells it: 'bridge', 'veth', 'tun'. */
  readonly kind: string;
  /** IFLA_INFO_DATA attributes. */
  readonly data?: AttrTable;
  /** IFLA_INFO_SLAVE_DATA attributes, for ports of a master of this kind. */
  readonly slaveData?: AttrTable;
  /** Decodes IFLA_INFO_DATA when a table is not enough (veth's nested peer). */
  decodeData?(buf: Buffer): Record<string, unknown>;
}
