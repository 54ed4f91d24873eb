/**
 * What one link kind provides: how to check and encode a new link's IFLA_INFO_DATA, and how to
 * decode IFLA_INFO_DATA (and, for masters, the ports' IFLA_INFO_SLAVE_DATA). The registry in
 * index.ts joins them; request.ts builds `ip link add NAME type KIND ...` from them.
 */
import type { AttrTable } from '../attrs';
import type { Link } from '../link';
import type { MessageWriter } from '../wire';

/** What a request needs from its sender when it is encoded. */
export interface EncodeContext {
  /** The index of a link name the sender already knows (a batch's names), else undefined. */
  known(name: string): number | undefined;
  /** The index of a name that must be sent as an index (IFLA_MASTER); listed in `needs`. */
  index(name: string): number;
  /** An open fd of /run/netns/NAME (IFLA_NET_NS_FD); listed in `netns`, closed after the send. */
  netnsFd(name: string): number;
}

export interface LinkKind {
  /** IFLA_INFO_KIND as the kernel spells it: 'bridge', 'veth', 'tun'. */
  readonly kind: string;
  /** IFLA_INFO_DATA attributes. */
  readonly data?: AttrTable;
  /** IFLA_INFO_SLAVE_DATA attributes, for ports of a master of this kind. */
  readonly slaveData?: AttrTable;
  /** Decodes IFLA_INFO_DATA when a table is not enough (veth's nested peer). */
  decodeData?(buf: Buffer): Record<string, unknown>;
  /**
   * Checks the kind's options of a new link and returns them normalized; throws ValidationError.
   * A kind without it cannot be created over rtnetlink (tun: see createTap).
   */
  check?(options: object): object;
  /** Namespaces (by name) whose fds encodeData will ask the context for. */
  netns?(options: object): string[];
  /** Link names whose indexes encodeData will ask the context for (vxlan's `dev`). */
  needs?(options: object): string[];
  /**
   * The kind's options from ip's words after `type KIND` (`id 100 remote 10.0.0.2 dstport
   * 4789`), for the CLI and batch files; throws ValidationError on a word it does not know.
   */
  fromIp?(words: readonly string[]): object;
  /** Writes the content of IFLA_INFO_DATA for checked options. */
  encodeData?(w: MessageWriter, options: object, ctx: EncodeContext): void;

  // ---- what a state document (src/workflow/state*.ts) needs: a kind slots in with these alone ----

  /**
   * The options of an existing link of this kind as a state document states them: the keys
   * `check` (or, for tun, createTap) takes, read back from the decoded link. Keys it cannot read
   * back are left out, and a document's value for them is then used only to create the link.
   * `nameOf` turns an index of this namespace into a name (a veth's peer).
   */
  readOptions?(link: Link, nameOf: (index: number) => string | undefined): Record<string, unknown>;
  /**
   * Options that an existing link can be changed to in place (ip link set DEV type KIND ...);
   * a difference in any other read-back option means the link has to be made again.
   */
  readonly mutable?: readonly string[];
  /**
   * What a new link of this kind has without being told: a create leaves options equal to these
   * out (a kernel without CONFIG_BRIDGE_VLAN_FILTERING refuses even vlan_filtering 0).
   */
  readonly defaults?: Readonly<Record<string, unknown>>;
  /**
   * A master whose MAC follows its ports' lowest unless one is set (a bridge): a state document
   * leaves such a MAC out, since it is not the link's own.
   */
  readonly addressFromPorts?: boolean;
  /** The other link that making this one also makes (a veth's peer), from its options. */
  peer?(options: Record<string, unknown>): string | undefined;
}
