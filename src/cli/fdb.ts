/**
 * `hostwire fdb`: show, add, append, replace and del bridge FDB entries, in `bridge fdb`'s syntax
 * and output, including the all-zeros flood entries with `dst` on a VXLAN device (a unicast
 * flood list: no multicast needed in the underlay).
 */
import type { Handle } from '../rtnl/handle';
import type { Neighbour } from '../rtnl/neigh';
import { flag, integer, pos, value } from './args';
import type { CliContext } from './context';
import { verb, type Noun } from './verb';

const STATES: Record<string, string> = { PERMANENT: 'permanent', NOARP: 'static', STALE: 'stale', REACHABLE: '' };

/** One entry as `bridge fdb show` prints it: MAC [dev DEV] [vlan V] [dst IP] [port P] [vni N] [master BR] [self ...] [permanent|static]. */
export function fdbLine(n: Neighbour, names: Map<number, string>, showDev = true): string {
  // Filtered by device, `bridge fdb show dev DEV` leaves the device out of each line.
  const parts = [n.lladdr ?? '', ...(showDev ? [`dev ${names.get(n.index) ?? n.index}`] : [])];
  if (n.vlan !== undefined) parts.push(`vlan ${n.vlan}`);
  if (n.dst) parts.push(`dst ${n.dst}`);
  if (n.port !== undefined) parts.push(`port ${n.port}`);
  if (n.vni !== undefined) parts.push(`vni ${n.vni}`);
  if (n.via !== undefined) parts.push(`via ${names.get(n.via) ?? n.via}`);
  if (n.master !== undefined) parts.push(`master ${names.get(n.master) ?? n.master}`);
  for (const f of ['self', 'router', 'extern_learn', 'offload', 'sticky']) if (n.flags.includes(f)) parts.push(f);
  const state = n.state.map((s) => STATES[s] ?? s.toLowerCase()).filter(Boolean);
  parts.push(...state);
  return parts.join(' ');
}

/** An entry as `bridge -j fdb show` prints it. */
function fdbJson(n: Neighbour, names: Map<number, string>) {
  return {
    mac: n.lladdr,
    ifname: names.get(n.index) ?? n.index,
    ...(n.vlan !== undefined ? { vlan: n.vlan } : {}),
    ...(n.dst ? { dst: n.dst } : {}),
    ...(n.port !== undefined ? { port: n.port } : {}),
    ...(n.vni !== undefined ? { vni: n.vni } : {}),
    ...(n.master !== undefined ? { master: names.get(n.master) ?? n.master } : {}),
    flags: n.flags,
    state: n.state.map((s) => STATES[s] ?? s.toLowerCase()).join(','),
  };
}

async function showFdb(ctx: CliContext, h: Handle, dev?: string, br?: string): Promise<number> {
  const [entries, links] = await Promise.all([h.listFdb({ dev, master: br }), h.listLinks()]);
  const names = new Map(links.map((l) => [l.index, l.name]));
  ctx.out(
    ctx.json ? JSON.stringify(entries.map((n) => fdbJson(n, names))) : entries.map((n) => fdbLine(n, names, dev === undefined)).join('\n'),
  );
  return 0;
}

/** hostwire fdb show [dev DEV] [br BR]. Equivalent to: bridge fdb show [dev DEV] [br BR] */
const show = verb('fdb show', {
  aliases: ['list', 'ls'],
  batch: true,
  args: { dev: pos('DEV', { keyword: 'dev', optional: true }), br: value(['br', 'master'], 'BR') },
  run: (ctx, a, h) => showFdb(ctx, h(), a.dev, a.br),
});

const change = (v: 'add' | 'append' | 'replace' | 'del') =>
  verb(`fdb ${v}`, {
    aliases: v === 'del' ? ['delete'] : [],
    batch: true,
    args: {
      mac: pos('MAC'),
      dev: value('dev', 'DEV', { required: true }),
      dst: value('dst', 'IP'),
      vni: value('vni', 'N', integer),
      port: value('port', 'P', integer),
      vlan: value('vlan', 'V', integer),
      self: flag('self'),
      master: flag('master'),
      permanent: flag('permanent', 'local'),
      static: flag('static'),
    },
    change: (a) => ({
      op: 'fdb',
      verb: v,
      dev: a.dev,
      spec: {
        lladdr: a.mac,
        dst: a.dst,
        vni: a.vni,
        port: a.port,
        vlan: a.vlan,
        self: a.self || undefined,
        master: a.master || undefined,
        state: a.permanent ? 'PERMANENT' : a.static ? 'NOARP' : undefined,
      },
    }),
  });

/** hostwire fdb add MAC dev DEV [dst IP] [vni N] [port P] [vlan V] [self] [master]. Equivalent to: bridge fdb add MAC dev DEV ... */
const add = change('add');
/** hostwire fdb append MAC dev DEV dst IP: another remote for the MAC (a flood list). Equivalent to: bridge fdb append MAC dev DEV dst IP */
const append = change('append');
/** hostwire fdb replace MAC dev DEV ... Equivalent to: bridge fdb replace MAC dev DEV ... */
const replace = change('replace');
/** hostwire fdb del MAC dev DEV [dst IP] [vlan V] [self] [master]. Equivalent to: bridge fdb del MAC dev DEV ... */
const del = change('del');

export const noun: Noun = { verbs: [show, add, append, replace, del], default: show };
