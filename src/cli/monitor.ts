/**
 * `hostwire monitor`: the namespace's links, addresses, routes and neighbours as they change,
 * from a Watcher (src/rtnl/watch.ts), so a gap the kernel makes (ENOBUFS) is repaired and shows
 * up as the events that catch up, marked as coming from a resync. With --libvirt: the ports of
 * libvirt's domains as they become ready and go (src/workflow/ports.ts).
 */
import type { WatchEvent, WatchObject } from '../rtnl/watch';
import type { PortEvent } from '../workflow/ports';
import type { Link } from '../rtnl/link';
import type { Address } from '../rtnl/addr';
import type { Route } from '../rtnl/route';
import type { Neighbour } from '../rtnl/neigh';
import { choice, flag, integer, refuse, value } from './args';
import type { CliContext } from './context';
import { verb, type Noun } from './verb';

const OBJECTS: Record<string, WatchObject[]> = {
  link: ['link'],
  addr: ['addr'],
  address: ['addr'],
  route: ['route'],
  neigh: ['neigh'],
  all: ['link', 'addr', 'route', 'neigh'],
};

const SCOPES: Record<number, string> = { 0: 'global', 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere' };
const PROTOS: Record<number, string> = { 2: 'kernel', 3: 'boot', 4: 'static', 16: 'dhcp' };

/** One event as `ip -o monitor` prints it (one line; "Deleted " before a removal). */
export function formatEvent(ev: WatchEvent, names: (ix: number) => string): string {
  const del = ev.event === 'delete' ? 'Deleted ' : '';
  switch (ev.object) {
    case 'link': {
      const l = ev.state as Link;
      const master = l.master ? ` master ${names(l.master)}` : '';
      return `${del}${l.index}: ${l.name}: <${l.flags.join(',')}> mtu ${l.mtu}${master} state ${l.operstate}${l.address ? ` link/ether ${l.address}` : ''}`;
    }
    case 'addr': {
      const a = ev.state as Address;
      const fam = a.family === 6 ? 'inet6' : 'inet';
      return `${del}${a.index}: ${names(a.index)}    ${fam} ${a.address}/${a.prefixlen}${a.broadcast ? ` brd ${a.broadcast}` : ''} scope ${SCOPES[a.scope] ?? a.scope}`;
    }
    case 'route': {
      const r = ev.state as Route;
      const parts = [r.dst];
      if (r.gateway) parts.push(`via ${r.gateway}`);
      if (r.oif !== undefined) parts.push(`dev ${names(r.oif)}`);
      if (r.table !== 254) parts.push(`table ${r.table}`);
      if (PROTOS[r.protocol]) parts.push(`proto ${PROTOS[r.protocol]}`);
      if (r.prefsrc) parts.push(`src ${r.prefsrc}`);
      if (r.priority !== undefined) parts.push(`metric ${r.priority}`);
      return `${del}${parts.join(' ')}`;
    }
    case 'neigh': {
      const n = ev.state as Neighbour;
      const parts = [n.dst ?? n.lladdr ?? '', `dev ${names(n.index)}`];
      if (n.dst && n.lladdr) parts.push(`lladdr ${n.lladdr}`);
      if (n.master) parts.push(`master ${names(n.master)}`);
      parts.push(...n.flags, ...n.state);
      return `${del}${parts.join(' ')}`;
    }
  }
}

/** One event as a JSON line: event, object, the decoded state, and resync/initial when they apply. */
export function eventJson(ev: WatchEvent, initial = false): string {
  return JSON.stringify({
    event: ev.event,
    object: ev.object,
    ...(ev.resync ? { resync: true } : {}),
    ...(initial ? { initial: true } : {}),
    ...ev.state,
  });
}

/** One port event as a line: `ready domain D mac M dev vnetN master B ...`, keywords as ip prints them. */
export function formatPortEvent(ev: PortEvent): string {
  const parts = [ev.event, 'domain', ev.domain, 'mac', ev.mac, 'dev', ev.tap, 'master', ev.bridge];
  if (ev.alias) parts.push('alias', ev.alias);
  if (ev.reason) parts.push('reason', ev.reason);
  parts.push('via', ev.trigger);
  if (ev.delayMs !== null) parts.push('delay', `${ev.delayMs.toFixed(1)}ms`);
  if (ev.initial) parts.push('initial');
  return parts.join(' ');
}

/** Resolves on Ctrl-C, SIGTERM, a closed stdout, or `also` (the watcher closing ...). */
function untilStopped(also: (stop: () => void) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    process.stdout.once('error', stop); // EPIPE: the reader went away
    also(stop);
  });
}

/**
 * hostwire [-n NS] --uri URI monitor --libvirt: a line when a domain's NIC is ready (the live
 * XML names its tap, and the kernel shows that tap up on the bridge) and when it is gone, with
 * the delay from the kernel's event; domains already running come first. -n names the namespace
 * where the daemon makes its taps. Exits 1 when the daemon goes away.
 * Equivalent to: virsh event --all --loop joined with ip monitor link (and domiflist at start)
 */
async function monitorPorts(ctx: CliContext, rcvbuf: number | undefined): Promise<number> {
  const { openConnection } = require('./virsh') as typeof import('./virsh');
  const { PortWatcher } = require('../workflow/ports') as typeof import('../workflow/ports');
  const c = await openConnection(ctx);
  try {
    const pw = await PortWatcher.open(c, { netns: ctx.netns, rcvbuf });
    let lost: { reason: string } | undefined;
    const done = untilStopped((stop) => {
      c.once('close', (ev: { reason: string }) => ((lost = ev), stop()));
      pw.once('close', stop);
    });
    pw.on('error', (e: Error) => process.stderr.write(`hostwire: ${(e as { code?: string }).code ?? 'ERROR'}: ${e.message}\n`));
    pw.on('event', (ev: PortEvent) => ctx.out(ctx.json ? JSON.stringify(ev) : formatPortEvent(ev)));
    await done;
    await pw.close();
    if (lost) {
      const { HostwireError } = require('../errors') as typeof import('../errors');
      throw new HostwireError('ECLOSED', `the connection to ${c.uri} closed (${lost.reason})`);
    }
    return 0;
  } finally {
    await c.close();
  }
}

/**
 * hostwire [-n NS] monitor [link|addr|route|neigh|all] [--rcvbuf BYTES]: every change as it
 * happens, until Ctrl-C, SIGTERM or a closed stdout. With --json, one object per line; the
 * state at the start comes first, as add events marked "initial" (list, then watch), so
 * replaying the lines always gives the current state. With --libvirt, port events instead
 * (monitorPorts).
 * Equivalent to: ip -o monitor [link|address|route|neigh] (with its gaps repaired)
 */
const monitor = verb('monitor', {
  args: {
    what: choice('link', 'addr', 'address', 'route', 'neigh', 'all'),
    libvirt: flag('--libvirt'),
    rcvbuf: value('--rcvbuf', 'BYTES', integer),
  },
  check: (a) => {
    if (a.libvirt && a.what !== undefined) refuse(`--libvirt watches the taps of libvirt's domains: leave out '${a.what}'`);
  },
  summary: '--libvirt: a line when a domain NIC is ready (tap up on its bridge) and when it is gone',
  run: async (ctx: CliContext, a) => {
    if (a.libvirt) return monitorPorts(ctx, a.rcvbuf);
    const { Watcher } = require('../rtnl/watch') as typeof import('../rtnl/watch');
    const objects = OBJECTS[a.what ?? 'all'];
    const w = await Watcher.open({ netns: ctx.netns, objects, rcvbuf: a.rcvbuf, emitInitial: ctx.json });
    const names = (ix: number) => (w.cache.link.get(String(ix)) as Link | undefined)?.name ?? `if${ix}`;
    let initial = ctx.json;
    let stop = () => {};
    const done = untilStopped((s) => {
      stop = s;
      w.once('close', s);
    });
    w.on('error', (e) => process.stderr.write(`hostwire: ${(e as { code?: string }).code ?? 'ERROR'}: ${e.message}\n`));
    w.on('event', (ev: WatchEvent) => {
      try {
        ctx.out(ctx.json ? eventJson(ev, initial) : formatEvent(ev, names));
      } catch (e) {
        if ((e as { code?: string }).code !== 'EPIPE') throw e;
        stop(); // the reader went away
      }
    });
    // The snapshot's events are handed over in one microtask after the listener is added.
    queueMicrotask(() => (initial = false));
    if (!ctx.json) w.on('resync', (n: number) => process.stderr.write(`hostwire: resync ${n}: the kernel dropped events; caught up\n`));
    await done;
    w.close();
    return 0;
  },
});

export const noun: Noun = { verbs: [monitor] };
