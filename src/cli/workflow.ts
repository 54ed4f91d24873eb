/**
 * The bridged-networking workflow verbs of the `hostwire` command. They extend the `net`,
 * `domain`, `link` and `bridge` verbs (anything else is handed on to kernel.ts / virt.ts):
 *
 *     net define-bridge NAME --bridge BR [--start] [--autostart]
 *     net edit NAME
 *     domain attach-interface DOM (--network NET | --bridge BR) [--mac MAC] [--model M] [--live] [--config]
 *     domain detach-interface DOM --mac MAC [--live] [--config]
 *     domain iflist DOM                (joined with the kernel: the bridge each tap is on now)
 *     link set DEV master BR [--force] (refused for a physical NIC on a libvirt NAT/routed bridge)
 *     bridge uplink DEV --bridge BR [--stp on|off]
 *     bridge persist BR --format networkd|ifupdown|nm [--dir DIR]
 *     firewall show | firewall set [--iptables on|off] [--ip6tables on|off] [--arptables on|off]
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { HostwireError } from '../errors';
import { Connection } from '../libvirt';
import { defineBridgedNetwork, editNetworkXml, networkDefinition } from '../workflow/network';
import { attachInterface, detachInterface, interfaceList } from '../workflow/domain';
import { checkBatchPorts, checkBridgePort } from '../workflow/guard';
import { bridgeUplink } from '../workflow/uplink';
import { FORMATS, persistBridge, type PersistFormat } from '../workflow/persist';
import { BRIDGE_NF, getBridgeFirewall, setBridgeFirewall, type BridgeFirewall, type BridgeNfKey } from '../workflow/firewall';
import { networkBridges } from '../workflow/network';
import { Handle } from '../rtnl/handle';
import type { CliContext, Command } from './context';
import { runEditor } from './editor';
import { batchVerb, kernelVerbs } from './kernel';
import { formatTable, virtVerbs } from './virt';

function usage(msg: string): never {
  throw new HostwireError('EUSAGE', msg);
}

export interface ParsedArgs {
  pos: string[];
  flags: Set<string>;
  values: Map<string, string>;
}

/** Positionals, boolean --flags and --option VALUE pairs; unknown options are refused. */
export function parseOptions(args: string[], flags: string[], values: string[]): ParsedArgs {
  const out: ParsedArgs = { pos: [], flags: new Set(), values: new Map() };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (flags.includes(a)) out.flags.add(a);
    else if (values.includes(a)) {
      if (args[i + 1] === undefined) usage(`${a} needs a value`);
      out.values.set(a, args[++i]);
    } else if (a.startsWith('--')) usage(`unknown option '${a}'`);
    else out.pos.push(a);
  }
  return out;
}

function one(pos: string[], what: string): string {
  if (pos.length !== 1) usage(`expected one ${what}`);
  return pos[0];
}

export async function withConnection<T>(ctx: CliContext, fn: (c: Connection) => Promise<T>): Promise<T> {
  const c = await Connection.open(ctx.uri);
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

/**
 * hostwire [-n NS] net define-bridge NAME --bridge BR [--start] [--autostart]. The bridge must
 * exist (in NS when given). Equivalent to: virsh net-define (forward mode bridge) + net-start + net-autostart.
 */
async function netDefineBridge(ctx: CliContext, args: string[]): Promise<number> {
  const a = parseOptions(args, ['--start', '--autostart'], ['--bridge']);
  const name = one(a.pos, 'network name');
  const bridge = a.values.get('--bridge') ?? usage('net define-bridge NAME --bridge BR [--start] [--autostart]');
  const r = await withConnection(ctx, (c) =>
    defineBridgedNetwork(c, name, { bridge, start: a.flags.has('--start'), autostart: a.flags.has('--autostart'), netns: ctx.netns }),
  );
  if (ctx.json) {
    ctx.out(JSON.stringify(r));
  } else {
    const lines = [`Network ${r.name} defined on bridge ${r.bridge}`];
    if (r.started) lines.push(`Network ${r.name} started`);
    if (r.autostart) lines.push(`Network ${r.name} marked as autostarted`);
    ctx.out(lines.join('\n') + '\n');
  }
  return 0;
}

/**
 * hostwire net edit NAME: opens $VISUAL/$EDITOR on the persistent definition, validates what
 * comes back and redefines; an unchanged file changes nothing, and on any failure the old
 * definition stays. Equivalent to: virsh net-edit NAME
 */
async function netEdit(ctx: CliContext, args: string[]): Promise<number> {
  const name = one(parseOptions(args, [], []).pos, 'network name');
  const r = await withConnection(ctx, async (c) => {
    const original = await networkDefinition(c, name);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hostwire-net-edit-'));
    try {
      const file = path.join(dir, 'network.xml');
      fs.writeFileSync(file, original, { mode: 0o600 });
      runEditor(file);
      return await editNetworkXml(c, name, original, fs.readFileSync(file, 'utf8'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  if (ctx.json) ctx.out(JSON.stringify({ name: r.name, changed: r.changed }));
  else ctx.out(r.changed ? `Network ${r.name} XML configuration edited.\n` : `Network ${r.name} XML configuration not changed.\n`);
  return 0;
}

/** hostwire domain attach-interface DOM (--network NET | --bridge BR) [--mac MAC] [--model M] [--live] [--config]. Equivalent to: virsh attach-interface. */
async function domainAttach(ctx: CliContext, args: string[]): Promise<number> {
  const a = parseOptions(args, ['--live', '--config'], ['--network', '--bridge', '--mac', '--model']);
  const dom = one(a.pos, 'domain name');
  const r = await withConnection(ctx, (c) =>
    attachInterface(c, dom, {
      network: a.values.get('--network'),
      bridge: a.values.get('--bridge'),
      mac: a.values.get('--mac'),
      model: a.values.get('--model'),
      live: a.flags.has('--live'),
      config: a.flags.has('--config'),
    }),
  );
  ctx.out(ctx.json ? JSON.stringify({ domain: dom, mac: r.mac }) : `Interface attached successfully (MAC ${r.mac})\n`);
  return 0;
}

/** hostwire domain detach-interface DOM --mac MAC [--live] [--config]. Equivalent to: virsh detach-interface DOM --mac MAC. */
async function domainDetach(ctx: CliContext, args: string[]): Promise<number> {
  const a = parseOptions(args, ['--live', '--config'], ['--mac']);
  const dom = one(a.pos, 'domain name');
  const mac = a.values.get('--mac') ?? usage('domain detach-interface DOM --mac MAC [--live] [--config]');
  const r = await withConnection(ctx, (c) =>
    detachInterface(c, dom, { mac, live: a.flags.has('--live'), config: a.flags.has('--config') }),
  );
  ctx.out(
    ctx.json
      ? JSON.stringify({ domain: dom, mac, removed: r.removed })
      : r.removed
        ? 'Interface detached successfully\n'
        : 'Interface detach requested (the guest has not finished the unplug yet)\n',
  );
  return 0;
}

/**
 * hostwire [-n NS] domain iflist DOM: virsh's columns plus the bridge each tap is enslaved to
 * right now, read from the kernel in NS (where the daemon's taps live).
 * Equivalent to: virsh domiflist DOM + ip link show vnetN
 */
async function domainIflist(ctx: CliContext, args: string[]): Promise<number> {
  const dom = one(parseOptions(args, [], []).pos, 'domain name');
  const rows = await withConnection(ctx, (c) => interfaceList(c, dom, { netns: ctx.netns }));
  if (ctx.json) ctx.out(JSON.stringify(rows, null, 2));
  else
    ctx.out(
      formatTable(
        ['Interface', 'Type', 'Source', 'Model', 'MAC', 'Master'],
        rows.map((r) => [r.target ?? '-', r.type, r.source ?? '-', r.model ?? '-', r.mac ?? '-', r.master ?? '-']),
      ),
    );
  return 0;
}

/**
 * hostwire [-n NS] link set DEV ... master BR ... [--force]: the kernel verb, after the guard:
 * a physical NIC is not added to the bridge of a libvirt NAT or routed network ('ENATBRIDGE')
 * unless --force. libvirt (--uri) is asked only when DEV is physical.
 * Equivalent to: ip link set DEV master BR
 */
async function linkSetGuarded(ctx: CliContext, args: string[]): Promise<number> {
  const force = args.includes('--force');
  const words = args.filter((w) => w !== '--force');
  let rest = words.slice(1);
  if (rest[0] === 'dev') rest = rest.slice(1);
  const dev = rest[0];
  const at = rest.indexOf('master', 1);
  const master = at > 0 ? rest[at + 1] : undefined;
  if (dev !== undefined && master !== undefined) {
    const h = new Handle({ netns: ctx.netns });
    try {
      const overridden = await checkBridgePort(h, dev, master, { force, networks: () => withConnection(ctx, networkBridges) });
      if (overridden && !ctx.json)
        process.stderr.write(
          `hostwire: warning: ${master} belongs to libvirt network ${overridden.network} (${overridden.forward}); forced\n`,
        );
    } finally {
      h.close();
    }
  } else if (force) {
    usage('--force only applies to link set DEV master BR');
  }
  return kernelVerbs.link(ctx, words);
}

function printFirewall(ctx: CliContext, fw: BridgeFirewall): void {
  if (ctx.json) ctx.out(JSON.stringify(fw));
  else ctx.out((Object.keys(BRIDGE_NF) as BridgeNfKey[]).map((k) => `net.bridge.${BRIDGE_NF[k]} = ${fw[k] ? 1 : 0}`).join('\n'));
}

/** hostwire [-n NS] firewall show. Equivalent to: sysctl net.bridge.bridge-nf-call-{iptables,ip6tables,arptables} */
async function firewallShow(ctx: CliContext, args: string[]): Promise<number> {
  if (parseOptions(args, [], []).pos.length) usage('firewall show takes no arguments');
  printFirewall(ctx, getBridgeFirewall({ netns: ctx.netns }));
  return 0;
}

/** hostwire [-n NS] firewall set [--iptables on|off] [--ip6tables on|off] [--arptables on|off]. Equivalent to: sysctl -w net.bridge.bridge-nf-call-*=0|1 */
async function firewallSet(ctx: CliContext, args: string[]): Promise<number> {
  const a = parseOptions(args, [], ['--iptables', '--ip6tables', '--arptables']);
  if (a.pos.length || a.values.size === 0) usage('firewall set [--iptables on|off] [--ip6tables on|off] [--arptables on|off]');
  const change: Partial<BridgeFirewall> = {};
  for (const [k, v] of a.values) {
    if (v !== 'on' && v !== 'off') usage(`${k} takes on or off`);
    change[k.slice(2) as BridgeNfKey] = v === 'on';
  }
  printFirewall(ctx, setBridgeFirewall(change, { netns: ctx.netns }));
  return 0;
}

/**
 * hostwire [-n NS] bridge uplink DEV --bridge BR [--stp on|off]: DEV's addresses and routes move
 * to the new bridge BR and DEV becomes its port, rolled back on failure.
 * Equivalent to: ip link add BR type bridge; ip addr flush dev DEV; ip link set DEV master BR; ip addr add ... dev BR; ip route add ... dev BR
 */
async function bridgeUplinkCmd(ctx: CliContext, args: string[]): Promise<number> {
  const a = parseOptions(args, [], ['--bridge', '--stp']);
  const dev = one(a.pos, 'device');
  const bridge = a.values.get('--bridge') ?? usage('bridge uplink DEV --bridge BR [--stp on|off]');
  const stp = a.values.get('--stp');
  if (stp !== undefined && stp !== 'on' && stp !== 'off') usage('--stp takes on or off');
  const h = new Handle({ netns: ctx.netns });
  try {
    const r = await bridgeUplink(h, dev, bridge, { stp: stp === 'on' });
    if (ctx.json) ctx.out(JSON.stringify(r));
    else
      ctx.out(
        [
          `${dev} is now a port of ${bridge}`,
          ...r.addresses.map((x) => `  address ${x} moved to ${bridge}`),
          ...r.routes.map((x) => `  route ${x} moved to ${bridge}`),
        ].join('\n'),
      );
  } finally {
    h.close();
  }
  return 0;
}

/**
 * hostwire [-n NS] bridge persist BR --format networkd|ifupdown|nm [--dir DIR]: the live setup
 * of BR as boot-time configuration, on stdout (each file after a `# NAME` line) or written
 * into DIR (never over an existing file). Equivalent to: writing those files by hand from ip's view.
 */
async function bridgePersistCmd(ctx: CliContext, args: string[]): Promise<number> {
  const a = parseOptions(args, [], ['--format', '--dir']);
  const bridge = one(a.pos, 'bridge');
  const format = a.values.get('--format') ?? usage(`bridge persist BR --format ${FORMATS.join('|')} [--dir DIR]`);
  if (!(FORMATS as readonly string[]).includes(format)) usage(`--format takes ${FORMATS.join(', ')}`);
  const h = new Handle({ netns: ctx.netns });
  try {
    const r = await persistBridge(h, bridge, format as PersistFormat, a.values.get('--dir'));
    if (ctx.json) ctx.out(JSON.stringify({ files: r.files.map((f) => ({ name: f.name, text: f.text })), written: r.paths }));
    else if (r.paths.length) ctx.out(r.paths.map((p) => `wrote ${p}`).join('\n'));
    else ctx.out(r.files.map((f) => `# ${f.name}\n${f.text}`).join('\n'));
  } finally {
    h.close();
  }
  return 0;
}

/** A verb whose sub-verbs in `table` are handled here, the rest by `fallback`. */
export function extend(fallback: Command, table: Record<string, Command>): Command {
  return (ctx, args) => {
    const cmd = args[0] !== undefined && Object.prototype.hasOwnProperty.call(table, args[0]) ? table[args[0]] : undefined;
    return cmd ? cmd(ctx, args.slice(1)) : fallback(ctx, args);
  };
}

/** The workflow verbs, for src/cli/verbs.ts (spread after the kernel and libvirt verbs they extend). */
export const workflowVerbs: Record<string, Command> = {
  net: extend(virtVerbs.net, { 'define-bridge': netDefineBridge, edit: netEdit }),
  domain: extend(virtVerbs.domain, { 'attach-interface': domainAttach, 'detach-interface': domainDetach, iflist: domainIflist }),
  link: extend(kernelVerbs.link, { set: (ctx, args) => linkSetGuarded(ctx, ['set', ...args]) }),
  bridge: extend(kernelVerbs.bridge, { uplink: bridgeUplinkCmd, persist: bridgePersistCmd }),
  // Batch lines `link set DEV master BR [--force]` go through the same guard, one dump per group.
  batch: batchVerb((ctx, h, ops, forced) => checkBatchPorts(h, ops, forced, { networks: () => withConnection(ctx, networkBridges) })),
  firewall: extend(() => usage('firewall show | firewall set [--iptables on|off] [--ip6tables on|off] [--arptables on|off]'), {
    show: firewallShow,
    set: firewallSet,
  }),
};
