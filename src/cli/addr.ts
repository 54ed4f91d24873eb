/** `hostwire addr`: show, add and del addresses, in ip's syntax, printing what `ip addr show` prints. */
import type { Handle } from '../rtnl/handle';
import { choice, pos, value } from './args';
import type { CliContext } from './context';
import { verb, type Noun } from './verb';

/** rtnetlink scopes by ip's names (also for routes). */
export const SCOPES: Record<number, string> = { 0: 'global', 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere' };

/** Like `ip addr show`: per address, its link, family, prefix and scope. */
async function showAddresses(ctx: CliContext, h: Handle, dev?: string, family?: 4 | 6): Promise<number> {
  const [addrs, links] = await Promise.all([h.listAddresses({ dev, family }), h.listLinks()]);
  const names = new Map(links.map((l) => [l.index, l.name]));
  const rows = addrs.map((a) => ({ ...a, dev: names.get(a.index) ?? String(a.index), scope: SCOPES[a.scope] ?? String(a.scope) }));
  if (ctx.json) ctx.out(JSON.stringify(rows));
  else
    ctx.out(
      rows
        .map(
          (a) =>
            `${a.index}: ${a.dev} ${a.family === 4 ? 'inet' : 'inet6'} ${a.address}/${a.prefixlen}${a.peer && a.peer !== a.address ? ` peer ${a.peer}` : ''}${a.broadcast ? ` brd ${a.broadcast}` : ''} scope ${a.scope}${a.label && a.label !== a.dev ? ` ${a.label}` : ''}`,
        )
        .join('\n'),
    );
  return 0;
}

/** -4 or -6, as ip takes them. */
const family = (f: '-4' | '-6' | undefined): 4 | 6 | undefined => (f === '-4' ? 4 : f === '-6' ? 6 : undefined);

/** hostwire addr show [DEV] [-4|-6]. Equivalent to: ip addr show [dev DEV] [-4|-6] */
const show = verb('addr show', {
  aliases: ['list', 'ls'],
  batch: true,
  args: { dev: pos('DEV', { keyword: 'dev', optional: true }), family: choice('-4', '-6') },
  run: (ctx, a, h) => showAddresses(ctx, h(), a.dev, family(a.family)),
});

/** hostwire addr add CIDR dev DEV [broadcast B|+] [label L] [peer P]. Equivalent to: ip addr add CIDR dev DEV [broadcast B|+] [label L] [peer P] */
const add = verb('addr add', {
  batch: true,
  args: {
    cidr: pos('CIDR'),
    dev: value('dev', 'DEV', { required: true }),
    broadcast: value(['broadcast', 'brd'], 'B|+'),
    label: value('label', 'L'),
    peer: value('peer', 'P'),
    family: { ...choice('-4', '-6'), hidden: true },
  },
  run: async (_ctx, a, h) => {
    await h().addAddress(a.dev, { cidr: a.cidr, broadcast: a.broadcast, label: a.label, peer: a.peer });
    return 0;
  },
});

/**
 * hostwire addr del CIDR dev DEV. Equivalent to: ip addr del CIDR dev DEV (broadcast, label and
 * peer are accepted, as ip accepts them, and not needed: CIDR and DEV name the address).
 */
const del = verb('addr del', {
  aliases: ['delete'],
  batch: true,
  args: {
    cidr: pos('CIDR'),
    dev: value('dev', 'DEV', { required: true }),
    broadcast: value(['broadcast', 'brd'], 'B|+', { hidden: true }),
    label: value('label', 'L', { hidden: true }),
    peer: value('peer', 'P', { hidden: true }),
    family: { ...choice('-4', '-6'), hidden: true },
  },
  run: async (_ctx, a, h) => {
    await h().deleteAddress(a.dev, a.cidr);
    return 0;
  },
});

export const noun: Noun = { verbs: [show, add, del], default: show };
