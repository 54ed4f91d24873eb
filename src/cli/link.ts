/**
 * `hostwire link`: show, add, set and del, in ip's syntax, printing what `ip -br link` prints
 * (or JSON). Changes go through the batch engine, as the same lines in a batch file do.
 */
import { HostwireError } from '../errors';
import type { BatchOp } from '../rtnl/batch';
import type { Handle, LinkChange, LinkFilter } from '../rtnl/handle';
import type { Link } from '../rtnl/link';
import { flag, choice, number, pos, refuse, tail, value } from './args';
import type { CliContext } from './context';
import { natBridge } from './guards';
import { verb, type Noun } from './verb';
import { creatableKinds, getKind } from '../rtnl/kinds';

/** A link as --json prints it. */
function linkJson(l: Link, names: Map<number, string>) {
  return {
    index: l.index,
    name: l.name,
    kind: l.kind,
    master: l.master === null ? null : (names.get(l.master) ?? l.master),
    mtu: l.mtu,
    address: l.address,
    state: l.operstate,
    flags: l.flags,
    ...(l.info ? { info: l.info } : {}),
    ...(l.slaveKind ? { slave_kind: l.slaveKind, slave_info: l.slaveInfo } : {}),
  };
}

/** Like `ip -br link`: name, state, address, <FLAGS>. */
function linkBrief(l: Link, names: Map<number, string>): string {
  const peer = l.link && l.kind === 'veth' && l.linkNetnsId === undefined ? names.get(l.link) : undefined;
  const name = peer ? `${l.name}@${peer}` : l.link && l.kind === 'veth' ? `${l.name}@if${l.link}` : l.name;
  return `${name.padEnd(16)} ${l.operstate.padEnd(14)} ${(l.address ?? '').padEnd(17)} <${l.flags.join(',')}> `;
}

/** Index -> name for the links shown, and (when filtered) for the masters and peers they name. */
async function nameMap(h: Handle, links: Link[], filtered: boolean): Promise<Map<number, string>> {
  const names = new Map<number, string>();
  for (const l of links) names.set(l.index, l.name);
  if (filtered) {
    const wanted = new Set<number>();
    for (const l of links) {
      if (l.master !== null && !names.has(l.master)) wanted.add(l.master);
      if (l.link && !names.has(l.link) && l.linkNetnsId === undefined) wanted.add(l.link);
    }
    await Promise.all(
      [...wanted].map((ix) =>
        h.getLink(ix).then(
          (x) => names.set(ix, x.name),
          () => undefined,
        ),
      ),
    );
  }
  return names;
}

/** The links `filter` selects, as `ip -br link show` prints them (also `tap show`). */
export async function showLinks(ctx: CliContext, h: Handle, filter: LinkFilter): Promise<number> {
  const links = await h.listLinks(filter);
  if (filter.name !== undefined && !links.length) throw new HostwireError('ENODEV', `Device "${filter.name}" does not exist.`);
  const names = await nameMap(h, links, Object.keys(filter).length > 0);
  ctx.out(ctx.json ? JSON.stringify(links.map((l) => linkJson(l, names))) : links.map((l) => linkBrief(l, names)).join('\n'));
  return 0;
}

/**
 * hostwire link show [DEV] [type KIND] [master BR] [up] [owned]. `owned`: only links that carry
 * hostwire's mark (made by its CLI or its apply).
 * Equivalent to: ip -br link show [DEV] [type KIND] [master BR] [up] (owned: | grep the alias 'hostwire')
 */
const show = verb('link show', {
  aliases: ['list', 'ls'],
  batch: true,
  args: {
    dev: pos('DEV', { keyword: 'dev', optional: true }),
    type: value('type', 'KIND'),
    master: value('master', 'BR'),
    up: flag('up'),
    owned: flag('owned'),
  },
  run: (ctx, a, h) => {
    const filter: LinkFilter = {};
    if (a.owned) filter.owned = true;
    if (a.dev !== undefined) filter.name = a.dev;
    if (a.type !== undefined) filter.kind = a.type;
    if (a.master !== undefined) filter.master = a.master;
    if (a.up) filter.up = true;
    return showLinks(ctx, h(), filter);
  },
});

/**
 * hostwire link add [link DEV] NAME [mtu N] [address MAC] [master BR] [up] type KIND [ARGS]: any
 * kind the registry can make (bridge, veth, vxlan, macvlan, macvtap, ifb ...), the words after
 * `type KIND` read by the kind itself as ip reads them.
 * Equivalent to: ip link add [link DEV] NAME [mtu N] [address MAC] [master BR] [up] type KIND [ARGS]
 *   (ip link add vx0 type vxlan id 100 local A remote B dstport 4789 dev DEV;
 *    ip link add mvt0 link DEV type macvtap mode bridge; ip link add v0 type veth peer name p0)
 */
const add = verb('link add', {
  batch: true,
  args: {
    name: pos('NAME', { keyword: ['name', 'dev'] }),
    link: value('link', 'DEV'),
    mtu: value('mtu', 'N', number),
    address: value('address', 'MAC'),
    master: value('master', 'BR'),
    up: flag('up'),
    type: tail('type', 'KIND [ARGS]', { required: true }),
  },
  change: (a): BatchOp => {
    const [kind, ...words] = a.type as string[];
    if (kind === 'tun' || kind === 'tap') refuse('tun and tap devices are made with tap add (ip tuntap add)');
    const k = getKind(kind);
    if (!k?.fromIp) refuse(`type ${kind}: not a kind hostwire can make (one of ${creatableKinds().join(', ')})`);
    const common: Record<string, unknown> = {};
    if (a.link !== undefined) common.link = a.link;
    if (a.mtu !== undefined) common.mtu = a.mtu;
    if (a.address !== undefined) common.address = a.address;
    if (a.master !== undefined) common.master = a.master;
    if (a.up) common.up = true;
    const options = { ...(k.fromIp(words) as Record<string, unknown>), ...common };
    if (kind === 'bridge') return { op: 'createBridge', name: a.name, options };
    if (kind === 'veth') {
      const { peer, ...rest } = options as { peer?: string };
      if (peer === undefined) refuse('type veth needs peer PEER');
      return { op: 'createVeth', name: a.name, peer: peer as string, options: rest };
    }
    return { op: 'createLink', name: a.name, kind, options };
  },
});

/**
 * hostwire link set DEV [master BR [--force] | nomaster] [up|down] [mtu N] [address MAC] [name NEW] [netns NS2].
 * The uplink (a physical NIC, or where the default route leaves) is not put on a libvirt NAT/routed
 * bridge without --force (guards.ts natBridge).
 * Equivalent to: ip link set DEV master BR | nomaster | up | down | mtu N | address MAC | name NEW | netns NS2
 */
const set = verb('link set', {
  batch: true,
  guard: natBridge,
  args: {
    dev: pos('DEV', { keyword: 'dev' }),
    master: value('master', 'BR'),
    nomaster: flag('nomaster'),
    state: choice('up', 'down'),
    mtu: value('mtu', 'N', number),
    address: value('address', 'MAC'),
    name: value('name', 'NEW'),
    netns: value('netns', 'NS2'),
  },
  check: (a) => {
    if (a.master !== undefined && a.nomaster) refuse('master and nomaster together');
    if ([a.master, a.state, a.mtu, a.address, a.name, a.netns].every((x) => x === undefined) && !a.nomaster) refuse('nothing to change');
  },
  change: (a) => {
    const change: LinkChange = {};
    if (a.state !== undefined) change.up = a.state === 'up';
    if (a.nomaster) change.master = null;
    if (a.master !== undefined) change.master = a.master;
    if (a.mtu !== undefined) change.mtu = a.mtu;
    if (a.address !== undefined) change.address = a.address;
    if (a.name !== undefined) change.name = a.name;
    if (a.netns !== undefined) change.netns = a.netns;
    return { op: 'setLink', dev: a.dev, change };
  },
});

/** hostwire link del DEV. Equivalent to: ip link del DEV */
const del = verb('link del', {
  aliases: ['delete'],
  batch: true,
  args: { dev: pos('DEV', { keyword: 'dev' }) },
  change: (a) => ({ op: 'delete', dev: a.dev }),
});

/**
 * hostwire link prune: deletes every link that carries hostwire's mark (made by its CLI or its
 * apply), in one batched unregister: what a batch killed half-way left. Prints how many went.
 * Equivalent to: for each link whose alias is 'hostwire': ip link del DEV
 */
const prune = verb('link prune', {
  args: {},
  run: async (ctx, _a, h) => {
    const owned = await h().listLinks({ owned: true });
    const errs = owned.length ? await h().deleteLinks(owned.map((l) => l.index)) : [];
    const failed = errs.filter((e): e is Error => e !== null);
    const deleted = owned.filter((_, i) => !errs[i]).map((l) => l.name);
    ctx.out(
      ctx.json
        ? JSON.stringify({ deleted, failed: failed.map((e) => ({ code: (e as { code?: string }).code, message: e.message })) })
        : deleted.join('\n'),
    );
    if (failed.length) throw failed[0];
    return 0;
  },
});

export const noun: Noun = { verbs: [show, add, set, del, prune], default: show };
