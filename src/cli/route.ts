/** `hostwire route`: show, add and del routes, in ip's syntax, printing what `ip route show` prints. */
import type { Handle } from '../rtnl/handle';
import { choice, integer, pos, value } from './args';
import { SCOPES } from './addr';
import type { CliContext } from './context';
import { verb, type Noun } from './verb';

const PROTOCOLS: Record<number, string> = { 2: 'kernel', 3: 'boot', 4: 'static', 16: 'dhcp', 186: 'bgp' };

/** Like `ip route show`: DST [via GW] dev DEV proto P scope S [src S] [metric N]. */
async function showRoutes(ctx: CliContext, h: Handle, filter: { dev?: string; table?: number; family?: 4 | 6 }): Promise<number> {
  const [routes, links] = await Promise.all([h.listRoutes(filter), h.listLinks()]);
  const names = new Map(links.map((l) => [l.index, l.name]));
  const rows = routes.map((r) => ({
    ...r,
    dev: r.oif === undefined ? undefined : (names.get(r.oif) ?? String(r.oif)),
    protocol: PROTOCOLS[r.protocol] ?? String(r.protocol),
    scope: SCOPES[r.scope] ?? String(r.scope),
  }));
  if (ctx.json) ctx.out(JSON.stringify(rows));
  else
    ctx.out(
      rows
        .map((r) =>
          [
            r.dst,
            r.gateway && `via ${r.gateway}`,
            r.dev && `dev ${r.dev}`,
            `proto ${r.protocol}`,
            r.scope !== 'global' && `scope ${r.scope}`,
            r.prefsrc && `src ${r.prefsrc}`,
            r.priority !== undefined && `metric ${r.priority}`,
          ]
            .filter(Boolean)
            .join(' '),
        )
        .join('\n'),
    );
  return 0;
}

/** hostwire route show [dev DEV] [table T] [-4|-6]. Equivalent to: ip route show [dev DEV] [table T] [-4|-6] */
const show = verb('route show', {
  aliases: ['list', 'ls'],
  batch: true,
  args: { dev: value('dev', 'DEV'), table: value('table', 'T', integer), family: choice('-4', '-6') },
  run: (ctx, a, h) =>
    showRoutes(ctx, h(), { dev: a.dev, table: a.table, family: a.family === '-4' ? 4 : a.family === '-6' ? 6 : undefined }),
});

/** What route add and del take: the route, as ip names it. */
const route = {
  dst: pos('DST|default'),
  via: value('via', 'GW'),
  dev: value('dev', 'DEV'),
  metric: value('metric', 'N', integer),
  src: value('src', 'S'),
  table: value('table', 'T', integer),
  family: { ...choice('-4', '-6'), hidden: true },
};

/** The route spec of `route add|del`, with DEV resolved to its index. */
async function routeSpec(h: Handle, a: { dst: string; via?: string; dev?: string; metric?: number; src?: string; table?: number }) {
  return {
    dst: a.dst,
    gateway: a.via,
    oif: a.dev === undefined ? undefined : await h.indexOf(a.dev),
    priority: a.metric,
    prefsrc: a.src,
    table: a.table,
  };
}

/** hostwire route add DST|default [via GW] [dev DEV] [metric N] [src S] [table T]. Equivalent to: ip route add ... */
const add = verb('route add', {
  batch: true,
  args: route,
  run: async (_ctx, a, h) => {
    await h().addRoute(await routeSpec(h(), a));
    return 0;
  },
});

/** hostwire route del DST|default [via GW] [dev DEV] [metric N] [src S] [table T]. Equivalent to: ip route del ... */
const del = verb('route del', {
  aliases: ['delete'],
  batch: true,
  args: route,
  run: async (_ctx, a, h) => {
    await h().deleteRoute(await routeSpec(h(), a));
    return 0;
  },
});

export const noun: Noun = { verbs: [show, add, del], default: show };
