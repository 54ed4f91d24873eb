/**
 * The libvirt verbs of the `hostwire` command: `net`, `domain` and `event`, printing what virsh
 * prints (same table layout), or JSON under --json. The connection URI is --uri, else
 * $LIBVIRT_DEFAULT_URI, else qemu:///system.
 */
import { readFile } from 'fs/promises';
import { HostwireError } from '../errors';
import {
  Connection,
  VIR_CONNECT_LIST_DOMAINS_ACTIVE,
  VIR_CONNECT_LIST_NETWORKS_ACTIVE,
  VIR_DOMAIN_XML_INACTIVE,
  VIR_NETWORK_XML_INACTIVE,
  type LifecycleEvent,
} from '../libvirt';
import type { CliContext, Command } from './context';

/**
 * A table the way virsh prints one (vshTable): a leading space, columns padded to their widest
 * cell and joined by three spaces, a dashed rule two longer than the header, a blank line after.
 */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => (' ' + cells.map((c, i) => c.padEnd(widths[i])).join('   ')).trimEnd();
  const rule = '-'.repeat(1 + widths.reduce((a, b) => a + b, 0) + 3 * (widths.length - 1) + 2);
  return [line(header), rule, ...rows.map(line), '', ''].join('\n');
}

const yesNo = (b: boolean): string => (b ? 'yes' : 'no');

function usage(msg: string): never {
  throw new HostwireError('EUSAGE', msg);
}

/** Splits words into flags (--x) and positionals; refuses flags not in `allowed`. */
function parseArgs(args: string[], allowed: string[]): { flags: Set<string>; pos: string[] } {
  const flags = new Set<string>();
  const pos: string[] = [];
  for (const a of args) {
    if (a.startsWith('--')) {
      if (!allowed.includes(a)) usage(`unknown option '${a}'`);
      flags.add(a);
    } else {
      pos.push(a);
    }
  }
  return { flags, pos };
}

function oneName(pos: string[], what: string): string {
  if (pos.length !== 1) usage(`expected one ${what}`);
  return pos[0];
}

/** Opens the connection for one command and always closes it. */
async function withConnection<T>(ctx: CliContext, fn: (c: Connection) => Promise<T>): Promise<T> {
  const c = await Connection.open(ctx.uri);
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

function printJson(ctx: CliContext, v: unknown): void {
  ctx.out(JSON.stringify(v, null, 2));
}

/** hostwire net list [--all]. Equivalent to: virsh net-list [--all]. */
async function netList(ctx: CliContext, args: string[]): Promise<number> {
  const { flags, pos } = parseArgs(args, ['--all']);
  if (pos.length) usage('net list takes no names');
  const nets = await withConnection(ctx, (c) => c.listAllNetworks(flags.has('--all') ? 0 : VIR_CONNECT_LIST_NETWORKS_ACTIVE));
  nets.sort((a, b) => a.name.localeCompare(b.name));
  if (ctx.json) {
    printJson(
      ctx,
      nets.map((n) => ({
        name: n.name,
        uuid: n.uuid,
        active: n.active,
        autostart: n.autostart,
        persistent: n.persistent,
        bridge: n.bridge,
      })),
    );
  } else {
    ctx.out(
      formatTable(
        ['Name', 'State', 'Autostart', 'Persistent'],
        nets.map((n) => [n.name, n.active ? 'active' : 'inactive', yesNo(n.autostart), yesNo(n.persistent)]),
      ),
    );
  }
  return 0;
}

/** hostwire net info NAME. Equivalent to: virsh net-info NAME. */
async function netInfo(ctx: CliContext, args: string[]): Promise<number> {
  const name = oneName(parseArgs(args, []).pos, 'network name');
  const info = await withConnection(ctx, async (c) => {
    const n = await c.networkLookupByName(name);
    try {
      const [active, persistent, autostart] = await Promise.all([n.isActive(), n.isPersistent(), n.getAutostart()]);
      const bridge = await n.getBridgeName().catch(() => null);
      return { name: n.name, uuid: n.uuid, active, persistent, autostart, bridge };
    } finally {
      n.free();
    }
  });
  if (ctx.json) {
    printJson(ctx, info);
  } else {
    const rows: [string, string][] = [
      ['Name', info.name],
      ['UUID', info.uuid],
      ['Active', yesNo(info.active)],
      ['Persistent', yesNo(info.persistent)],
      ['Autostart', yesNo(info.autostart)],
    ];
    if (info.bridge !== null) rows.push(['Bridge', info.bridge]);
    ctx.out(rows.map(([k, v]) => `${(k + ':').padEnd(16)}${v}`).join('\n') + '\n\n');
  }
  return 0;
}

/** hostwire net dumpxml NAME [--inactive]. Equivalent to: virsh net-dumpxml NAME [--inactive]. */
async function netDumpxml(ctx: CliContext, args: string[]): Promise<number> {
  const { flags, pos } = parseArgs(args, ['--inactive']);
  const name = oneName(pos, 'network name');
  const xml = await withConnection(ctx, async (c) => {
    const n = await c.networkLookupByName(name);
    try {
      return await n.getXMLDesc(flags.has('--inactive') ? VIR_NETWORK_XML_INACTIVE : 0);
    } finally {
      n.free();
    }
  });
  if (ctx.json) printJson(ctx, { name, xml });
  else ctx.out(xml + '\n'); // virsh prints a blank line after the XML
  return 0;
}

/** hostwire net define FILE. Equivalent to: virsh net-define FILE. */
async function netDefine(ctx: CliContext, args: string[]): Promise<number> {
  const file = oneName(parseArgs(args, []).pos, 'file');
  const xml = await readFile(file, 'utf8');
  const r = await withConnection(ctx, async (c) => {
    const n = await c.networkDefineXML(xml);
    n.free();
    return { name: n.name, uuid: n.uuid };
  });
  if (ctx.json) printJson(ctx, r);
  else ctx.out(`Network ${r.name} defined from ${file}\n`);
  return 0;
}

/** hostwire net start|destroy|undefine NAME. Equivalent to: virsh net-start|net-destroy|net-undefine NAME. */
function netAction(action: 'create' | 'destroy' | 'undefine', done: string): Command {
  return async (ctx, args) => {
    const name = oneName(parseArgs(args, []).pos, 'network name');
    await withConnection(ctx, async (c) => {
      const n = await c.networkLookupByName(name);
      try {
        await n[action]();
      } finally {
        n.free();
      }
    });
    if (ctx.json) printJson(ctx, { name, result: done });
    else ctx.out(`Network ${name} ${done}\n`);
    return 0;
  };
}

/** hostwire net autostart NAME [--disable]. Equivalent to: virsh net-autostart NAME [--disable]. */
async function netAutostart(ctx: CliContext, args: string[]): Promise<number> {
  const { flags, pos } = parseArgs(args, ['--disable']);
  const name = oneName(pos, 'network name');
  const on = !flags.has('--disable');
  await withConnection(ctx, async (c) => {
    const n = await c.networkLookupByName(name);
    try {
      await n.setAutostart(on);
    } finally {
      n.free();
    }
  });
  if (ctx.json) printJson(ctx, { name, autostart: on });
  else ctx.out(`Network ${name} ${on ? 'marked as autostarted' : 'unmarked as autostarted'}\n`);
  return 0;
}

const netSub: Record<string, Command> = {
  list: netList,
  info: netInfo,
  dumpxml: netDumpxml,
  define: netDefine,
  start: netAction('create', 'started'),
  destroy: netAction('destroy', 'destroyed'),
  undefine: netAction('undefine', 'has been undefined'),
  autostart: netAutostart,
};

/** hostwire domain list [--all]. Equivalent to: virsh list [--all]. */
async function domainList(ctx: CliContext, args: string[]): Promise<number> {
  const { flags, pos } = parseArgs(args, ['--all']);
  if (pos.length) usage('domain list takes no names');
  const doms = await withConnection(ctx, (c) => c.listAllDomains(flags.has('--all') ? 0 : VIR_CONNECT_LIST_DOMAINS_ACTIVE));
  // virsh: running domains by id first, then the inactive ones by name.
  doms.sort((a, b) => (a.id < 0 !== b.id < 0 ? (a.id < 0 ? 1 : -1) : a.id >= 0 ? a.id - b.id : a.name.localeCompare(b.name)));
  if (ctx.json) {
    printJson(
      ctx,
      doms.map((d) => ({ name: d.name, uuid: d.uuid, id: d.id >= 0 ? d.id : null, state: d.state, persistent: d.persistent })),
    );
  } else {
    ctx.out(
      formatTable(
        ['Id', 'Name', 'State'],
        doms.map((d) => [d.id >= 0 ? String(d.id) : '-', d.name, d.state]),
      ),
    );
  }
  return 0;
}

/** hostwire domain dumpxml NAME [--inactive]. Equivalent to: virsh dumpxml NAME [--inactive]. */
async function domainDumpxml(ctx: CliContext, args: string[]): Promise<number> {
  const { flags, pos } = parseArgs(args, ['--inactive']);
  const name = oneName(pos, 'domain name');
  const xml = await withConnection(ctx, async (c) => {
    const d = await c.domainLookupByName(name);
    try {
      return await d.getXMLDesc(flags.has('--inactive') ? VIR_DOMAIN_XML_INACTIVE : 0);
    } finally {
      d.free();
    }
  });
  if (ctx.json) printJson(ctx, { name, xml });
  else ctx.out(xml + '\n'); // virsh prints a blank line after the XML
  return 0;
}

/** hostwire domain define FILE. Equivalent to: virsh define FILE. */
async function domainDefine(ctx: CliContext, args: string[]): Promise<number> {
  const file = oneName(parseArgs(args, []).pos, 'file');
  const xml = await readFile(file, 'utf8');
  const r = await withConnection(ctx, async (c) => {
    const d = await c.domainDefineXML(xml);
    d.free();
    return { name: d.name, uuid: d.uuid };
  });
  if (ctx.json) printJson(ctx, r);
  else ctx.out(`Domain '${r.name}' defined from ${file}\n`);
  return 0;
}

/** hostwire domain start|shutdown|destroy|undefine NAME. Equivalent to: virsh start|shutdown|destroy|undefine NAME. */
function domainAction(action: 'create' | 'shutdown' | 'destroy' | 'undefine', done: string): Command {
  return async (ctx, args) => {
    const name = oneName(parseArgs(args, []).pos, 'domain name');
    await withConnection(ctx, async (c) => {
      const d = await c.domainLookupByName(name);
      try {
        await d[action]();
      } finally {
        d.free();
      }
    });
    if (ctx.json) printJson(ctx, { name, result: done });
    else ctx.out(`Domain '${name}' ${done}\n`);
    return 0;
  };
}

/** hostwire domain iflist NAME. Equivalent to: virsh domiflist NAME. */
async function domainIflist(ctx: CliContext, args: string[]): Promise<number> {
  const name = oneName(parseArgs(args, []).pos, 'domain name');
  const ifs = await withConnection(ctx, async (c) => {
    const d = await c.domainLookupByName(name);
    try {
      return await d.interfaces();
    } finally {
      d.free();
    }
  });
  if (ctx.json) {
    printJson(ctx, ifs);
  } else {
    ctx.out(
      formatTable(
        ['Interface', 'Type', 'Source', 'Model', 'MAC'],
        ifs.map((i) => [i.target ?? '-', i.type, i.source ?? '-', i.model ?? '-', i.mac ?? '-']),
      ),
    );
  }
  return 0;
}

const domainSub: Record<string, Command> = {
  list: domainList,
  dumpxml: domainDumpxml,
  define: domainDefine,
  start: domainAction('create', 'started'),
  shutdown: domainAction('shutdown', 'is being shutdown'),
  destroy: domainAction('destroy', 'destroyed'),
  undefine: domainAction('undefine', 'has been undefined'),
  iflist: domainIflist,
};

function sub(table: Record<string, Command>, verb: string): Command {
  return (ctx, args) => {
    const [what, ...rest] = args;
    const cmd = what !== undefined ? table[what] : undefined;
    if (!cmd) usage(`${verb} ${what ?? ''}: expected one of ${Object.keys(table).join(', ')}`);
    return cmd(ctx, rest);
  };
}

const title = (s: string): string => {
  const t = s.replace(/_/g, ' ').toLowerCase();
  return t.charAt(0).toUpperCase() + t.slice(1);
};

/** One event line as `virsh event --all --loop` prints it. */
export function formatEvent(ev: LifecycleEvent): string {
  if (ev.kind === 'domain') return `event 'lifecycle' for domain '${ev.name}': ${title(ev.event)} ${title(ev.detail)}`;
  return `event 'lifecycle' for network '${ev.name}': ${title(ev.event)}`;
}

/**
 * hostwire event [--timeout S]: prints domain and network lifecycle events as they come, until
 * the timeout, Ctrl-C, or the daemon going away. Equivalent to: virsh event --all --loop
 * [--timeout S] (and virsh net-event --all --loop).
 */
async function event(ctx: CliContext, args: string[]): Promise<number> {
  let timeout: number | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--timeout') {
      const v = Number(args[++i]);
      if (!Number.isFinite(v) || v <= 0) usage('--timeout needs a positive number of seconds');
      timeout = v;
    } else {
      usage(`unknown argument '${args[i]}'`);
    }
  }
  const c = await Connection.open(ctx.uri);
  const ac = new AbortController();
  const stop = (): void => ac.abort();
  const timer = timeout !== undefined ? setTimeout(stop, timeout * 1000) : undefined;
  process.once('SIGINT', stop);
  c.once('close', stop);
  try {
    await c.domainEventRegisterAny();
    await c.networkEventRegisterAny();
    for await (const ev of c.lifecycleEvents(ac.signal)) {
      ctx.out(ctx.json ? JSON.stringify(ev) : formatEvent(ev));
    }
  } finally {
    if (timer) clearTimeout(timer);
    process.removeListener('SIGINT', stop);
    await c.close();
  }
  return 0;
}

/** The libvirt verbs, for src/cli/verbs.ts. */
export const virtVerbs: Record<string, Command> = {
  net: sub(netSub, 'net'),
  domain: sub(domainSub, 'domain'),
  event,
};
