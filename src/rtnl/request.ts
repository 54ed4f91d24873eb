/**
 * The request builders: one pure function per operation, used by every path (Handle verbs,
 * runBatch, the CLI). Each validates all of its input at once, throwing ValidationError before
 * anything exists to send, and returns a Request that encodes the message once, when it is
 * sent. What a request cannot know by itself (the index of a master given by name, an fd of a
 * named namespace) it lists in `needs` and `netns`, and asks its EncodeContext for.
 */
import { ValidationError } from '../errors';
import {
  IFLA_ADDRESS,
  IFLA_EXT_MASK,
  IFLA_GROUP,
  IFLA_IFNAME,
  IFLA_INFO_DATA,
  IFLA_INFO_KIND,
  IFLA_LINK,
  IFLA_LINKINFO,
  IFLA_MASTER,
  IFLA_MTU,
  IFLA_NET_NS_FD,
  IFLA_IFALIAS,
  IFF_UP,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_EXCL,
  RTEXT_FILTER_SKIP_STATS,
  RTM_DELLINK,
  RTM_GETLINK,
  RTM_NEWLINK,
  RTM_SETLINK,
} from './constants';
import { parseMacBytes } from './attrs';
import { getKind, type EncodeContext } from './kinds';
import { checkAlias, checkBool, checkDev, checkIfName, checkMac, checkMtu, checkNetnsName, checkUint } from './validate';
import { MessageWriter, shapeAnchors, stringAttrSize } from './wire';

export type { EncodeContext };

export interface Request {
  /** The command it amounts to, with the caller's names ('link set vnet0 master br0'), for errors. */
  readonly op: string;
  readonly dump: boolean;
  /** Link names that must be turned into indexes before encode (IFLA_MASTER takes an index). */
  readonly needs: readonly string[];
  /** Namespace names whose fds encode asks for (IFLA_NET_NS_FD). */
  readonly netns: readonly string[];
  /** The whole message, sequence number 0 (the socket writes it). */
  encode(ctx: EncodeContext): Buffer;
}

/** A context for requests that need nothing (no master by name, no namespace). */
export const NO_CONTEXT: EncodeContext = {
  known: () => undefined,
  index: (name) => {
    throw new ValidationError('EINVALIDNAME', `'${name}' was not resolved`, 'dev');
  },
  netnsFd: (name) => {
    throw new ValidationError('EINVALIDNETNS', `namespace '${name}' was not opened`, 'netns');
  },
};

/**
 * The mark of links hostwire made (IFLA_IFALIAS): `apply` puts it on what it creates and `apply
 * --prune` removes only links that carry it; the CLI's creations carry it too (runBatch's `mark`),
 * so what a batch killed half-way left is found by `hostwire link show owned` and removed by
 * `hostwire link prune`. Any alias starting with it counts. A tap is marked by the tun worker
 * before it becomes persistent, so a kill never leaves an unmarked tap; a link made over
 * rtnetlink (bridge, veth, vxlan ...) gets its mark one round trip after it exists, since the
 * kernel ignores IFLA_IFALIAS in RTM_NEWLINK, so a kill in that window can leave it unmarked.
 */
export const OWNER_MARK = 'hostwire';

/** Whether an alias is hostwire's mark. */
export const isMarked = (alias: string | undefined): boolean => alias !== undefined && alias.startsWith(OWNER_MARK);

/** What every new link may carry in its create message (kind-specific options aside). */
export interface LinkCommon {
  /** IFLA_MTU. */
  mtu?: number;
  /** IFLA_ADDRESS, in the create message so udev's MAC policy never rewrites it. */
  address?: string;
  /** A master (bridge) to be a port of from the start (IFLA_MASTER). */
  master?: string | number;
  /** The lower device (IFLA_LINK): macvlan's and macvtap's `link DEV`. */
  link?: string | number;
  /**
   * IFLA_IFALIAS. The kernel ignores it in a create message (rtnl_create_link does not read it):
   * the Handle verbs and runBatch set it with an RTM_SETLINK right after the link is made.
   */
  alias?: string;
  /** IFLA_GROUP. */
  group?: number;
  /** Up from the start (IFF_UP). */
  up?: boolean;
}

/** What `ip link set` changes. Several changes in one call go out as one request. */
export interface LinkChange {
  up?: boolean;
  mtu?: number;
  address?: string;
  name?: string;
  /** A master (bridge) by name or index; null detaches (nomaster). */
  master?: string | number | null;
  /** Move to the named namespace. */
  netns?: string;
  /** IFLA_IFALIAS; '' clears it. */
  alias?: string;
  /** IFLA_GROUP. */
  group?: number;
}

const checkGroup = (v: unknown) => checkUint(v, 0xffffffff, 'group');

/** The device's reference in a message: by index when known, else IFLA_IFNAME. */
function devIndex(dev: string | number, ctx: EncodeContext): number {
  return typeof dev === 'number' ? dev : (ctx.known(dev) ?? 0);
}

function masterIndex(master: string | number, ctx: EncodeContext): number {
  return typeof master === 'number' ? master : (ctx.known(master) ?? ctx.index(master));
}

const named = (x: string | number | null | undefined): string[] => (typeof x === 'string' ? [x] : []);

/**
 * A new link of any registered kind that can be made over rtnetlink, with its common fields
 * and kind options in one RTM_NEWLINK (NLM_F_CREATE | NLM_F_EXCL).
 * Equivalent to: ip link add NAME [mtu N] [address MAC] [master BR] [up] type KIND [OPTIONS]
 */
export function linkCreate(name: string, kind: string, opts: object = {}): Request {
  checkIfName(name);
  if (typeof kind !== 'string') throw new ValidationError('EINVALIDKIND', 'kind: a link kind is required', 'kind');
  const k = getKind(kind);
  if (!k) throw new ValidationError('EINVALIDKIND', `kind: '${kind}' is not a known link kind`, 'kind');
  if (!k.check || !k.encodeData)
    throw new ValidationError(
      'EINVALIDKIND',
      `kind: '${kind}' links are not made over rtnetlink${kind === 'tun' ? ' (use createTap)' : ''}`,
      'kind',
    );
  if (opts === null || typeof opts !== 'object') throw new ValidationError('EINVALIDOPTION', 'options: not an object', 'options');
  const options = opts as LinkCommon;
  const mtu = options.mtu === undefined ? undefined : checkMtu(options.mtu);
  const address = options.address === undefined ? undefined : checkMac(options.address);
  const master = options.master === undefined ? undefined : checkDev(options.master, 'master');
  const lower = options.link === undefined ? undefined : checkDev(options.link, 'link');
  const alias = options.alias === undefined ? undefined : checkAlias(options.alias);
  const group = options.group === undefined ? undefined : checkGroup(options.group);
  const up = options.up === undefined ? undefined : checkBool(options.up, 'up');
  const data = k.check(opts);
  const encodeData = k.encodeData;
  let op = `link add ${name}`;
  if (kind === 'veth') op += ` type veth peer ${(data as { peer: string }).peer}`;
  else op += ` type ${kind}`;
  return {
    op,
    dump: false,
    needs: [...named(master), ...named(lower), ...(k.needs?.(data) ?? [])],
    netns: k.netns?.(data) ?? [],
    encode(ctx) {
      const w = new MessageWriter(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 160);
      w.ifinfomsg(0, up ? IFF_UP : 0, up === undefined ? 0 : IFF_UP);
      w.string(IFLA_IFNAME, name);
      if (mtu !== undefined) w.u32(IFLA_MTU, mtu);
      if (address !== undefined) w.attr(IFLA_ADDRESS, parseMacBytes(address));
      if (master !== undefined) w.u32(IFLA_MASTER, masterIndex(master, ctx));
      if (lower !== undefined) w.u32(IFLA_LINK, masterIndex(lower, ctx));
      if (alias !== undefined) w.string(IFLA_IFALIAS, alias);
      if (group !== undefined) w.u32(IFLA_GROUP, group);
      w.nest(IFLA_LINKINFO, () => {
        w.string(IFLA_INFO_KIND, kind);
        w.nest(IFLA_INFO_DATA, () => encodeData(w, data, ctx));
      });
      return w.finish();
    },
  };
}

/** Checks a LinkChange field by field; returns the checked copy. */
export function checkLinkChange(change: LinkChange): LinkChange {
  if (change === null || typeof change !== 'object') throw new ValidationError('EINVALIDOPTION', 'change: not an object', 'change');
  const c: LinkChange = {};
  if (change.up !== undefined) c.up = checkBool(change.up, 'up');
  if (change.mtu !== undefined) c.mtu = checkMtu(change.mtu);
  if (change.address !== undefined) c.address = checkMac(change.address);
  if (change.name !== undefined) c.name = checkIfName(change.name, 'name');
  if (change.master === null) c.master = null;
  else if (change.master !== undefined) c.master = checkDev(change.master, 'master');
  if (change.netns !== undefined) c.netns = checkNetnsName(change.netns);
  if (change.alias !== undefined) c.alias = checkAlias(change.alias);
  if (change.group !== undefined) c.group = checkGroup(change.group);
  return c;
}

/** The ip command a change amounts to, with the names the caller gave (for errors). */
export function describeChange(dev: string | number, c: LinkChange): string {
  const w: string[] = [`link set ${dev}`];
  if (c.up !== undefined) w.push(c.up ? 'up' : 'down');
  if (c.mtu !== undefined) w.push(`mtu ${c.mtu}`);
  if (c.address !== undefined) w.push(`address ${c.address}`);
  if (c.name !== undefined) w.push(`name ${c.name}`);
  if (c.master === null) w.push('nomaster');
  else if (c.master !== undefined) w.push(`master ${c.master}`);
  if (c.netns !== undefined) w.push(`netns ${c.netns}`);
  if (c.alias !== undefined) w.push(`alias ${c.alias}`);
  if (c.group !== undefined) w.push(`group ${c.group}`);
  return w.join(' ');
}

/**
 * An RTM_SETLINK (see linkSet). A class, not a literal with closures: a batch builds thousands,
 * and each is then a few fields on one shared shape (no closure, no accessor pair per request).
 */
export class LinkSetRequest implements Request {
  readonly dump = false;
  readonly needs: readonly string[];
  readonly netns: readonly string[];
  private label: string | undefined;

  /** `change` is checked (checkLinkChange) by linkSet. */
  constructor(
    readonly dev: string | number,
    readonly change: LinkChange,
    label?: string,
  ) {
    const c = change;
    let needs: readonly string[] = NONE;
    if (typeof c.master === 'string') needs = c.name !== undefined && typeof dev === 'string' ? [c.master, dev] : [c.master];
    else if (c.name !== undefined && typeof dev === 'string') needs = [dev];
    this.needs = needs;
    this.netns = c.netns !== undefined ? [c.netns] : NONE;
    this.label = label;
  }

  /** Named only when an error needs it: a batch of thousands builds no strings it never shows. */
  get op(): string {
    return (this.label ??= describeChange(this.dev, this.change));
  }

  encode(ctx: EncodeContext): Buffer {
    const { dev, change: c } = this;
    let index = devIndex(dev, ctx);
    if (!index && c.name !== undefined) index = ctx.index(dev as string);
    // Sized exactly (a batch makes thousands): no regrowth, no slack, no copy.
    const name = c.name ?? (index ? undefined : (dev as string));
    const size =
      32 +
      8 * (+(c.mtu !== undefined) + +(c.master !== undefined) + +(c.netns !== undefined) + +(c.group !== undefined)) +
      (name === undefined ? 0 : stringAttrSize(name)) +
      (c.address === undefined ? 0 : 12) +
      (c.alias === undefined ? 0 : stringAttrSize(c.alias));
    const w = new MessageWriter(RTM_SETLINK, 0, size);
    w.ifinfomsg(index, c.up ? IFF_UP : 0, c.up === undefined ? 0 : IFF_UP);
    if (c.name !== undefined) w.string(IFLA_IFNAME, c.name);
    else if (!index) w.string(IFLA_IFNAME, dev as string);
    if (c.mtu !== undefined) w.u32(IFLA_MTU, c.mtu);
    if (c.address !== undefined) w.attr(IFLA_ADDRESS, parseMacBytes(c.address));
    if (c.master === null) w.u32(IFLA_MASTER, 0);
    else if (c.master !== undefined) w.u32(IFLA_MASTER, masterIndex(c.master, ctx));
    if (c.netns !== undefined) w.u32(IFLA_NET_NS_FD, ctx.netnsFd(c.netns));
    if (c.alias !== undefined) w.string(IFLA_IFALIAS, c.alias);
    if (c.group !== undefined) w.u32(IFLA_GROUP, c.group);
    return w.finish();
  }
}

/** No names or namespaces needed: one shared empty list. */
const NONE: readonly string[] = Object.freeze([]);

/**
 * Changes a link; all the changes go out in one RTM_SETLINK. A rename is addressed by index
 * (IFLA_IFNAME then carries the new name), so a renamed device needs its index: `needs` lists it.
 * The request's `change` is the checked copy.
 * Equivalent to: ip link set DEV [up|down] [mtu N] [address MAC] [name NEW] [master BR|nomaster] [netns NS] [alias A] [group G]
 */
export function linkSet(dev: string | number, change: LinkChange, op?: string): LinkSetRequest {
  checkDev(dev);
  return new LinkSetRequest(dev, checkLinkChange(change), op);
}

// The shapes of a batch's commonest requests and their checked changes (see wire.ts shapeAnchors):
// up, master, nomaster, both, and the group delete's set-group.
shapeAnchors.push(
  linkSet(1, { up: true }),
  linkSet(1, { master: 'br0' }),
  linkSet(1, { master: null }),
  linkSet(1, { up: true, master: 'br0' }),
  linkSet(1, { group: 1 }), // Handle.deleteLinks: the group delete's set-group
);

/**
 * Changes a link's kind options in place (the kind's changelink): one RTM_NEWLINK without
 * NLM_F_CREATE, carrying IFLA_LINKINFO with the kind and the options `check` accepts.
 * Equivalent to: ip link set DEV type KIND [OPTIONS]
 */
export function linkSetType(dev: string | number, kind: string, opts: object): Request {
  checkDev(dev);
  const k = typeof kind === 'string' ? getKind(kind) : undefined;
  if (!k?.check || !k.encodeData)
    throw new ValidationError('EINVALIDKIND', `kind: '${String(kind)}' has no options that change in place`, 'kind');
  if (opts === null || typeof opts !== 'object') throw new ValidationError('EINVALIDOPTION', 'options: not an object', 'options');
  const data = k.check(opts);
  const encodeData = k.encodeData;
  return {
    op: `link set ${dev} type ${kind}`,
    dump: false,
    needs: [],
    netns: k.netns?.(data) ?? [],
    encode(ctx) {
      const w = new MessageWriter(RTM_NEWLINK, 0, 96);
      const index = devIndex(dev, ctx);
      w.ifinfomsg(index);
      if (!index) w.string(IFLA_IFNAME, dev as string);
      w.nest(IFLA_LINKINFO, () => {
        w.string(IFLA_INFO_KIND, kind);
        w.nest(IFLA_INFO_DATA, () => encodeData(w, data, ctx));
      });
      return w.finish();
    },
  };
}

/**
 * Deletes a link (a veth's peer goes with it).
 * Equivalent to: ip link del DEV
 */
export function linkDelete(dev: string | number): Request {
  checkDev(dev);
  return {
    op: `link del ${dev}`,
    dump: false,
    needs: [],
    netns: [],
    encode(ctx) {
      const w = new MessageWriter(RTM_DELLINK, 0, 48);
      const index = devIndex(dev, ctx);
      w.ifinfomsg(index);
      if (!index) w.string(IFLA_IFNAME, dev as string);
      return w.finish();
    },
  };
}

/**
 * Deletes every link of a netdev group with one batched unregister.
 * Equivalent to: ip link del group G
 */
export function linkDeleteGroup(group: number): Request {
  checkGroup(group);
  if (group === 0) throw new ValidationError('EINVALIDOPTION', 'group: 0 is the default group of every device', 'group');
  return {
    op: `link del group ${group}`,
    dump: false,
    needs: [],
    netns: [],
    encode: () => new MessageWriter(RTM_DELLINK, 0, 48).ifinfomsg(0).u32(IFLA_GROUP, group).finish(),
  };
}

/**
 * One link, by name or index, without dumping the others.
 * Equivalent to: ip link show DEV
 */
export function linkGet(dev: string | number): Request {
  checkDev(dev);
  return {
    op: `link show ${dev}`,
    dump: false,
    needs: [],
    netns: [],
    encode(ctx) {
      const w = new MessageWriter(RTM_GETLINK, 0, 56);
      const index = devIndex(dev, ctx);
      w.ifinfomsg(index);
      if (!index) w.string(IFLA_IFNAME, dev as string);
      w.u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
      return w.finish();
    },
  };
}

/** What a link dump is filtered by, in the kernel (strict-checked dump). */
export interface LinkDumpFilter {
  /** Only ports of this master. */
  master?: string | number;
  /** Only links of this kind (IFLA_INFO_KIND). */
  kind?: string;
}

/**
 * Every link, or those of a master or kind (filtered by the kernel).
 * Equivalent to: ip link show [master DEV] [type KIND]
 */
export function linkDump(filter: LinkDumpFilter = {}): Request {
  let op = 'link show';
  const master = filter.master === undefined ? undefined : checkDev(filter.master, 'master');
  if (master !== undefined) op += ` master ${master}`;
  if (filter.kind !== undefined) {
    if (typeof filter.kind !== 'string' || !/^[a-z0-9_]{1,32}$/.test(filter.kind))
      throw new ValidationError('EINVALIDKIND', `'${String(filter.kind)}' is not a link kind`, 'kind');
    op += ` type ${filter.kind}`;
  }
  const kind = filter.kind;
  return {
    op,
    dump: true,
    needs: named(master),
    netns: [],
    encode(ctx) {
      const w = new MessageWriter(RTM_GETLINK, NLM_F_DUMP, 64);
      w.ifinfomsg(0);
      w.u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
      if (master !== undefined) w.u32(IFLA_MASTER, masterIndex(master, ctx));
      if (kind !== undefined) w.nest(IFLA_LINKINFO, () => w.string(IFLA_INFO_KIND, kind));
      return w.finish();
    },
  };
}
