/** `hostwire neigh`: show, add, replace and del neighbour (ARP/NDP) entries, in ip's syntax and output. */
import type { Handle } from '../rtnl/handle';
import type { Neighbour } from '../rtnl/neigh';
import { choice, pos, value } from './args';
import type { CliContext } from './context';
import { verb, type Noun } from './verb';

/** One entry as `ip neigh show` prints it: ADDR dev DEV lladdr MAC [router] STATE. */
export function neighLine(n: Neighbour, names: Map<number, string>): string {
  const parts = [n.dst ?? '', `dev ${names.get(n.index) ?? n.index}`];
  if (n.lladdr) parts.push(`lladdr ${n.lladdr}`);
  if (n.flags.includes('router')) parts.push('router');
  if (n.flags.includes('proxy')) parts.push('proxy');
  parts.push(n.state.join(',') || 'NONE');
  return parts.join(' ');
}

async function showNeighbours(ctx: CliContext, h: Handle, dev?: string, family?: 4 | 6): Promise<number> {
  const [entries, links] = await Promise.all([h.listNeighbours({ dev, family }), h.listLinks()]);
  const names = new Map(links.map((l) => [l.index, l.name]));
  if (ctx.json)
    ctx.out(
      JSON.stringify(
        entries.map((n) => ({ dst: n.dst, dev: names.get(n.index) ?? n.index, lladdr: n.lladdr, state: n.state, flags: n.flags })),
      ),
    );
  else ctx.out(entries.map((n) => neighLine(n, names)).join('\n'));
  return 0;
}

const family = (f: '-4' | '-6' | undefined): 4 | 6 | undefined => (f === '-4' ? 4 : f === '-6' ? 6 : undefined);

/** hostwire neigh show [dev DEV] [-4|-6]. Equivalent to: ip [-4|-6] neigh show [dev DEV] */
const show = verb('neigh show', {
  aliases: ['list', 'ls'],
  batch: true,
  args: { dev: pos('DEV', { keyword: 'dev', optional: true }), family: choice('-4', '-6') },
  run: (ctx, a, h) => showNeighbours(ctx, h(), a.dev, family(a.family)),
});

const change = (v: 'add' | 'replace' | 'del') =>
  verb(`neigh ${v}`, {
    aliases: v === 'del' ? ['delete'] : v === 'replace' ? ['change'] : [],
    batch: true,
    args: {
      dst: pos('ADDR', { keyword: 'to' }),
      lladdr: value('lladdr', 'MAC'),
      dev: value('dev', 'DEV', { required: true }),
      nud: value('nud', 'STATE'),
    },
    change: (a) => ({ op: 'neigh', verb: v, dev: a.dev, spec: { dst: a.dst, lladdr: a.lladdr, state: a.nud } }),
  });

/** hostwire neigh add ADDR lladdr MAC dev DEV [nud STATE]. Equivalent to: ip neigh add ADDR lladdr MAC dev DEV [nud STATE] */
const add = change('add');
/** hostwire neigh replace ADDR lladdr MAC dev DEV [nud STATE]. Equivalent to: ip neigh replace ADDR lladdr MAC dev DEV [nud STATE] */
const replace = change('replace');
/** hostwire neigh del ADDR dev DEV. Equivalent to: ip neigh del ADDR dev DEV */
const del = change('del');

export const noun: Noun = { verbs: [show, add, replace, del], default: show };
