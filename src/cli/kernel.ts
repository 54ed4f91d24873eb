/**
 * Kernel verbs of the CLI: link, bridge, tap, netns, batch. Each line parses to a BatchOp (a
 * change) or a query; single commands and `batch` files run through the same engine.
 */
import * as fs from 'fs';
import { HostwireError } from '../errors';
import { Handle } from '../rtnl/handle';
import { runBatch, type BatchOp } from '../rtnl/batch';
import type { Link } from '../rtnl/link';
import type { LinkFilter, LinkChange } from '../rtnl/handle';
import { addNetns, deleteNetns, listNetns } from '../netns';
import type { CliContext, Command } from './context';

const usage = (msg: string) => new HostwireError('EUSAGE', msg);

/** A parsed line: a change for the batch engine, or a query/namespace verb run on its own. */
export type Parsed = { op: BatchOp } | { run: (ctx: CliContext, h: () => Handle) => Promise<number> };

function onOff(v: string | undefined, flag: string): boolean {
  if (v === 'on' || v === '1' || v === 'yes') return true;
  if (v === 'off' || v === '0' || v === 'no') return false;
  throw usage(`${flag} takes on or off`);
}

function num(v: string | undefined, what: string): number {
  if (v === undefined || !/^\d+(\.\d+)?$/.test(v)) throw usage(`${what} needs a number, got '${v ?? ''}'`);
  return Number(v);
}

/** `--opt value` and `opt value` pairs after the positional words. */
function options(words: string[], known: Record<string, boolean>): Map<string, string | true> {
  const out = new Map<string, string | true>();
  for (let i = 0; i < words.length; i++) {
    const key = words[i].replace(/^--?/, '');
    if (!(key in known)) throw usage(`unknown option '${words[i]}'`);
    if (known[key]) {
      if (i + 1 >= words.length) throw usage(`${words[i]} needs a value`);
      out.set(key, words[++i]);
    } else out.set(key, true);
  }
  return out;
}

function parseLink(args: string[]): Parsed {
  const [sub, ...rest] = args;
  switch (sub) {
    case undefined:
    case 'show':
    case 'list':
    case 'ls': {
      const filter: LinkFilter = {};
      for (let i = 0; i < rest.length; i++) {
        const w = rest[i];
        if (w === 'type') filter.kind = rest[++i];
        else if (w === 'master') filter.master = rest[++i];
        else if (w === 'up') filter.up = true;
        else if (w === 'dev') filter.name = rest[++i];
        else if (filter.name === undefined && !w.startsWith('-')) filter.name = w;
        else throw usage(`link show: unexpected '${w}'`);
        if (rest[i] === undefined) throw usage(`link show: ${w} needs a value`);
      }
      return { run: (ctx, h) => showLinks(ctx, h(), filter) };
    }
    case 'add': {
      const name = rest[0];
      if (!name) throw usage('link add NAME type veth peer PEER [peer-netns NS] | link add NAME type bridge');
      const o = new Map<string, string>();
      for (let i = 1; i < rest.length; i += 2) {
        let k = rest[i];
        if (k === 'peer' && rest[i + 1] === 'name') i++;
        if (k === 'name' || k === 'dev') k = 'name';
        if (rest[i + 1] === undefined) throw usage(`link add: ${k} needs a value`);
        o.set(k, rest[i + 1]);
      }
      if (o.get('type') === 'bridge') return { op: { op: 'createBridge', name, options: {} } };
      if (o.get('type') !== 'veth' || !o.get('peer')) throw usage('link add NAME type veth peer PEER [peer-netns NS]');
      return {
        op: { op: 'createVeth', name, peer: o.get('peer') as string, options: { peerNetns: o.get('peer-netns') ?? o.get('netns') } },
      };
    }
    case 'set': {
      let [dev, ...words] = rest;
      if (dev === 'dev') [dev, ...words] = words;
      if (!dev || !words.length) throw usage('link set DEV master BR | nomaster | up | down | mtu N | address MAC | name NEW | netns NS');
      const change: LinkChange = {};
      for (let i = 0; i < words.length; i++) {
        const w = words[i];
        const val = () => {
          if (words[i + 1] === undefined) throw usage(`link set: ${w} needs a value`);
          return words[++i];
        };
        if (w === 'up' || w === 'down') change.up = w === 'up';
        else if (w === 'nomaster') change.master = null;
        else if (w === 'master') change.master = val();
        else if (w === 'mtu') change.mtu = num(val(), 'mtu');
        else if (w === 'address') change.address = val();
        else if (w === 'name') change.name = val();
        else if (w === 'netns') change.netns = val();
        else throw usage(`link set: unknown '${w}'`);
      }
      return { op: { op: 'setLink', dev, change } };
    }
    case 'del':
    case 'delete': {
      let dev = rest[0];
      if (dev === 'dev') dev = rest[1];
      if (!dev) throw usage('link del DEV');
      return { op: { op: 'delete', dev } };
    }
    default:
      throw usage(`link: unknown '${sub}' (show, add, set, del)`);
  }
}

function parseBridge(args: string[]): Parsed {
  const [sub, name, ...rest] = args;
  if (sub === 'show' || sub === undefined) return { run: (ctx, h) => showBridges(ctx, h(), name) };
  if (sub === 'del' || sub === 'delete') {
    if (!name) throw usage('bridge del NAME');
    return { op: { op: 'delete', dev: name } };
  }
  if (sub !== 'add' || !name)
    throw usage(
      'bridge add NAME [--stp on|off] [--vlan-filtering on|off] [--mtu N] [--address MAC] [--forward-delay S] [--mcast-snooping on|off]',
    );
  const o = options(rest, { stp: true, 'vlan-filtering': true, mtu: true, address: true, 'forward-delay': true, 'mcast-snooping': true });
  const s = (k: string) => o.get(k) as string | undefined;
  return {
    op: {
      op: 'createBridge',
      name,
      options: {
        stp: o.has('stp') ? onOff(s('stp'), '--stp') : undefined,
        vlanFiltering: o.has('vlan-filtering') ? onOff(s('vlan-filtering'), '--vlan-filtering') : undefined,
        mcastSnooping: o.has('mcast-snooping') ? onOff(s('mcast-snooping'), '--mcast-snooping') : undefined,
        mtu: o.has('mtu') ? num(s('mtu'), '--mtu') : undefined,
        address: s('address'),
        forwardDelay: o.has('forward-delay') ? Math.round(num(s('forward-delay'), '--forward-delay') * 100) : undefined,
      },
    },
  };
}

function parseTap(args: string[]): Parsed {
  const [sub, name, ...rest] = args;
  if (sub === 'del' || sub === 'delete') {
    if (!name) throw usage('tap del NAME');
    return { op: { op: 'delete', dev: name } };
  }
  if (sub === 'show' || sub === 'list') return { run: (ctx, h) => showLinks(ctx, h(), { kind: 'tun' }) };
  if (sub !== 'add' || !name)
    throw usage('tap add NAME [--tun] [--owner UID] [--group GID] [--multi-queue] [--vnet-hdr] [--address MAC] [--mtu N]');
  const o = options(rest, {
    tun: false,
    owner: true,
    group: true,
    'multi-queue': false,
    'vnet-hdr': false,
    address: true,
    mtu: true,
    pi: false,
  });
  const s = (k: string) => o.get(k) as string | undefined;
  return {
    op: {
      op: 'createTap',
      name,
      options: {
        tun: o.has('tun'),
        owner: o.has('owner') ? num(s('owner'), '--owner') : undefined,
        group: o.has('group') ? num(s('group'), '--group') : undefined,
        multiQueue: o.has('multi-queue'),
        vnetHdr: o.has('vnet-hdr'),
        pi: o.has('pi'),
        address: s('address'),
        mtu: o.has('mtu') ? num(s('mtu'), '--mtu') : undefined,
      },
    },
  };
}

function parseNetns(args: string[]): Parsed {
  const [sub, name] = args;
  if (sub === 'list' || sub === 'ls' || sub === undefined)
    return {
      run: async (ctx) => {
        const names = listNetns();
        ctx.out(ctx.json ? JSON.stringify(names.map((n) => ({ name: n }))) : names.join('\n'));
        return 0;
      },
    };
  if ((sub === 'add' || sub === 'del' || sub === 'delete') && name)
    return {
      run: async () => {
        if (sub === 'add') addNetns(name);
        else deleteNetns(name);
        return 0;
      },
    };
  throw usage('netns add NAME | netns del NAME | netns list');
}

const SCOPES: Record<number, string> = { 0: 'global', 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere' };
const PROTOCOLS: Record<number, string> = { 2: 'kernel', 3: 'boot', 4: 'static', 16: 'dhcp', 186: 'bgp' };

/** `KEY VALUE` pairs after the positional words, for addr and route (ip's own syntax). */
function pairs(words: string[], keys: string[], what: string): { pos: string[]; kv: Map<string, string> } {
  const pos: string[] = [];
  const kv = new Map<string, string>();
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (!keys.includes(w)) {
      if (w.startsWith('-') || pos.length) throw usage(`${what}: unexpected '${w}'`);
      pos.push(w);
      continue;
    }
    if (words[i + 1] === undefined) throw usage(`${what}: ${w} needs a value`);
    kv.set(w, words[++i]);
  }
  return { pos, kv };
}

function parseAddr(args: string[]): Parsed {
  const [sub, ...rest] = args;
  const family = (w: string[]) => (w.includes('-4') ? 4 : w.includes('-6') ? 6 : undefined);
  const plain = rest.filter((w) => w !== '-4' && w !== '-6');
  if (sub === undefined || sub === 'show' || sub === 'list' || sub === 'ls') {
    const { pos, kv } = pairs(plain, ['dev'], 'addr show');
    const dev = kv.get('dev') ?? pos[0];
    return { run: (ctx, h) => showAddresses(ctx, h(), dev, family(rest)) };
  }
  if (sub === 'add' || sub === 'del' || sub === 'delete') {
    const { pos, kv } = pairs(plain, ['dev', 'broadcast', 'brd', 'label', 'peer'], `addr ${sub}`);
    const dev = kv.get('dev');
    if (pos.length !== 1 || !dev) throw usage(`addr ${sub} CIDR dev DEV${sub === 'add' ? ' [broadcast B|+] [label L] [peer P]' : ''}`);
    const spec = { cidr: pos[0], broadcast: kv.get('broadcast') ?? kv.get('brd'), label: kv.get('label'), peer: kv.get('peer') };
    return {
      run: async (_ctx, h) => {
        if (sub === 'add') await h().addAddress(dev, spec);
        else await h().deleteAddress(dev, spec.cidr);
        return 0;
      },
    };
  }
  throw usage('addr show [dev DEV] [-4|-6] | addr add CIDR dev DEV [broadcast B|+] [label L] [peer P] | addr del CIDR dev DEV');
}

function parseRoute(args: string[]): Parsed {
  const [sub, ...rest] = args;
  const plain = rest.filter((w) => w !== '-4' && w !== '-6');
  const num = (v: string | undefined, what: string) =>
    v === undefined
      ? undefined
      : /^\d+$/.test(v)
        ? Number(v)
        : (() => {
            throw usage(`route: ${what} takes a number`);
          })();
  if (sub === undefined || sub === 'show' || sub === 'list' || sub === 'ls') {
    const { kv } = pairs(plain, ['dev', 'table'], 'route show');
    const family = rest.includes('-4') ? 4 : rest.includes('-6') ? 6 : undefined;
    return { run: (ctx, h) => showRoutes(ctx, h(), { dev: kv.get('dev'), table: num(kv.get('table'), 'table'), family }) };
  }
  if (sub === 'add' || sub === 'del' || sub === 'delete') {
    const { pos, kv } = pairs(plain, ['via', 'dev', 'metric', 'src', 'table'], `route ${sub}`);
    if (pos.length !== 1) throw usage(`route ${sub} DST|default [via GW] [dev DEV] [metric N] [src S] [table T]`);
    const dev = kv.get('dev');
    return {
      run: async (_ctx, hf) => {
        const h = hf();
        const spec = {
          dst: pos[0],
          gateway: kv.get('via'),
          oif: dev === undefined ? undefined : await h.indexOf(dev),
          priority: num(kv.get('metric'), 'metric'),
          prefsrc: kv.get('src'),
          table: num(kv.get('table'), 'table'),
        };
        if (sub === 'add') await h.addRoute(spec);
        else await h.deleteRoute(spec);
        return 0;
      },
    };
  }
  throw usage('route show [dev DEV] [table T] [-4|-6] | route add|del DST|default [via GW] [dev DEV] [metric N] [src S] [table T]');
}

const parsers: Record<string, (args: string[]) => Parsed> = {
  link: parseLink,
  bridge: parseBridge,
  tap: parseTap,
  netns: parseNetns,
  addr: parseAddr,
  route: parseRoute,
};

export function parseWords(words: string[]): Parsed {
  const [verb, ...args] = words;
  const p = parsers[verb];
  if (!p) throw usage(`unknown verb '${verb}'`);
  return p(args);
}

// ---- output ----

/** A link as --json prints it. */
export function linkJson(l: Link, names: Map<number, string>) {
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
export function linkBrief(l: Link, names: Map<number, string>): string {
  const peer = l.link && l.kind === 'veth' && l.linkNetnsId === undefined ? names.get(l.link) : undefined;
  const name = peer ? `${l.name}@${peer}` : l.link && l.kind === 'veth' ? `${l.name}@if${l.link}` : l.name;
  return `${name.padEnd(16)} ${l.operstate.padEnd(14)} ${(l.address ?? '').padEnd(17)} <${l.flags.join(',')}> `;
}

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

async function showLinks(ctx: CliContext, h: Handle, filter: LinkFilter): Promise<number> {
  const links = await h.listLinks(filter);
  if (filter.name !== undefined && !links.length) throw new HostwireError('ENODEV', `Device "${filter.name}" does not exist.`);
  const names = await nameMap(h, links, Object.keys(filter).length > 0);
  ctx.out(ctx.json ? JSON.stringify(links.map((l) => linkJson(l, names))) : links.map((l) => linkBrief(l, names)).join('\n'));
  return 0;
}

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

/** Like `brctl show`: each bridge, its STP state and its ports. */
async function showBridges(ctx: CliContext, h: Handle, name?: string): Promise<number> {
  const bridges = await h.listLinks({ kind: 'bridge', name });
  if (name !== undefined && !bridges.length) throw new HostwireError('ENODEV', `bridge ${name} does not exist`);
  const rows = await Promise.all(
    bridges.map(async (b) => ({ bridge: b, ports: (await h.listLinks({ master: b.index })).map((p) => p.name) })),
  );
  if (ctx.json) {
    ctx.out(
      JSON.stringify(
        rows.map(({ bridge: b, ports }) => ({
          name: b.name,
          index: b.index,
          stp: b.info?.stp_state === 1,
          state: b.operstate,
          address: b.address,
          ports,
        })),
      ),
    );
    return 0;
  }
  const lines = ['bridge name\tbridge id\t\tSTP enabled\tinterfaces'];
  for (const { bridge: b, ports } of rows) {
    const id =
      typeof b.info?.bridge_id === 'string' ? `${(b.info.bridge_id as string).slice(0, 4)}.${(b.info.bridge_id as string).slice(4)}` : '';
    lines.push(`${b.name}\t\t${id}\t${b.info?.stp_state === 1 ? 'yes' : 'no'}\t\t${ports[0] ?? ''}`);
    for (const p of ports.slice(1)) lines.push(`\t\t\t\t\t\t\t${p}`);
  }
  ctx.out(lines.join('\n'));
  return 0;
}

// ---- running ----

function lazyHandle(ctx: CliContext) {
  let h: Handle | undefined;
  return {
    get: () => (h ??= new Handle({ netns: ctx.netns })),
    close: () => h?.close(),
  };
}

async function runOne(ctx: CliContext, words: string[]): Promise<number> {
  const parsed = parseWords(words);
  const h = lazyHandle(ctx);
  try {
    if ('run' in parsed) return await parsed.run(ctx, h.get);
    const { results } = await runBatch(h.get(), [parsed.op], { onError: 'stop' });
    const r = results[0];
    if (!r.ok) throw r.error;
    return 0;
  } finally {
    h.close();
  }
}

/** Splits a batch line into words; '...' and "..." quote, # starts a comment. */
export function splitLine(line: string): string[] {
  const words: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(#.*$)|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) {
    if (m[3] !== undefined) break;
    words.push(m[1] ?? m[2] ?? m[4]);
  }
  return words;
}

/**
 * A check run on each group of consecutive changes before they are sent: one error (the
 * operation is not run) or undefined per operation. `forced` says the line carried --force.
 */
export type Preflight = (ctx: CliContext, h: Handle, ops: BatchOp[], forced: boolean[]) => Promise<Array<Error | undefined>>;

/**
 * Runs a batch file: one verb per line, without `hostwire`, like `ip -batch`. Consecutive
 * changes are pipelined; queries and namespace verbs run in order between them. A failing
 * line is reported with its number and the rest still run; the exit code is 1 if any failed.
 */
export const batchVerb =
  (preflight?: Preflight): Command =>
  (ctx, args) =>
    batch(ctx, args, preflight);

async function batch(ctx: CliContext, args: string[], preflight?: Preflight): Promise<number> {
  const file = args[0];
  if (!file) throw usage('batch FILE|-');
  let text: string;
  try {
    text = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new HostwireError((e as NodeJS.ErrnoException).code ?? 'EIO', `batch: cannot read ${file}: ${(e as Error).message}`);
  }
  const h = lazyHandle(ctx);
  let failures = 0;
  const fail = (line: number, e: unknown) => {
    failures++;
    const err = e as { code?: string; message?: string };
    const code = err.code ?? 'EINTERNAL';
    if (ctx.json)
      process.stderr.write(JSON.stringify({ line, ...(e instanceof HostwireError ? e.toJSON() : { code, message: err.message }) }) + '\n');
    else process.stderr.write(`hostwire: batch line ${line}: ${code}: ${err.message}\n`);
  };
  let ops: BatchOp[] = [];
  let lines: number[] = [];
  let forced: boolean[] = [];
  const flush = async () => {
    if (!ops.length) return;
    const refused = preflight ? await preflight(ctx, h.get(), ops, forced) : [];
    refused.forEach((e, i) => e && fail(lines[i], e));
    const run = ops.filter((_, i) => !refused[i]);
    const runLines = lines.filter((_, i) => !refused[i]);
    const { results } = await runBatch(h.get(), run);
    results.forEach((r, i) => r.ok || fail(runLines[i], r.error));
    ops = [];
    lines = [];
    forced = [];
  };
  try {
    const all = text.split('\n');
    for (let n = 0; n < all.length; n++) {
      const line = splitLine(all[n]);
      const words = line.filter((w) => w !== '--force');
      if (!words.length) continue;
      let parsed: Parsed;
      try {
        if (words[0] === 'batch') throw usage('batch files cannot nest');
        parsed = parseWords(words);
        if (words.length !== line.length && !(preflight && 'op' in parsed && parsed.op.op === 'setLink' && parsed.op.change.master))
          throw usage('--force only applies to link set DEV master BR');
      } catch (e) {
        fail(n + 1, e);
        continue;
      }
      if ('op' in parsed) {
        ops.push(parsed.op);
        lines.push(n + 1);
        forced.push(words.length !== line.length);
        continue;
      }
      await flush();
      try {
        await parsed.run(ctx, h.get);
      } catch (e) {
        fail(n + 1, e);
      }
    }
    await flush();
  } finally {
    h.close();
  }
  return failures ? 1 : 0;
}

const verb =
  (name: string): Command =>
  (ctx, args) =>
    runOne(ctx, [name, ...args]);

export const kernelVerbs: Record<string, Command> = {
  link: verb('link'),
  bridge: verb('bridge'),
  tap: verb('tap'),
  netns: verb('netns'),
  addr: verb('addr'),
  route: verb('route'),
  batch: batchVerb(),
};
