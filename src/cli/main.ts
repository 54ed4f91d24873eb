#!/usr/bin/env node
/**
 * The `hostwire` command. Global options come before the verb, as with `ip -n NS -j link show`:
 *
 *     hostwire [-n NETNS] [--json] [--uri URI] VERB ...
 *
 * Errors go to stderr as `hostwire: CODE: message` (under --json, a JSON object with `code`),
 * with a non-zero exit. Nothing here spawns a process (`net edit` starts $EDITOR, as virsh does).
 */
import { HostwireError } from '../errors';
import type { CliContext, Command } from './context';
import { verbs } from './verbs';

export const USAGE = `usage: hostwire [-n NETNS] [--json] [--uri URI] VERB ...
links and bridges (rtnetlink; -n NETNS works in a named namespace):
  link show [DEV] [type KIND] [master DEV] [up]
  link add NAME type veth peer PEER [peer-netns NS2] | link add NAME type bridge
  link set DEV master BR [--force] | nomaster | up | down | mtu N | address MAC | name NEW | netns NS2
  link del DEV
  bridge add NAME [--stp on|off] [--vlan-filtering on|off] [--mcast-snooping on|off] [--mtu N] [--address MAC] [--forward-delay S]
  bridge show [BR] | bridge del NAME
  bridge uplink DEV --bridge BR [--stp on|off]
  bridge persist BR --format networkd|ifupdown|nm [--dir DIR]
  tap add NAME [--tun] [--owner UID] [--group GID] [--multi-queue] [--vnet-hdr] [--address MAC] [--mtu N]
  tap del NAME | tap show
  netns add|del NAME | netns list
  addr show [dev DEV] [-4|-6] | addr add CIDR dev DEV [broadcast B|+] [label L] [peer P] | addr del CIDR dev DEV
  route show [dev DEV] [table T] [-4|-6] | route add|del DST|default [via GW] [dev DEV] [metric N] [src S] [table T]
  firewall show | firewall set [--iptables on|off] [--ip6tables on|off] [--arptables on|off]
  batch FILE|-                      (one verb per line, without 'hostwire', like ip -batch)
libvirt (--uri URI, else LIBVIRT_DEFAULT_URI, else qemu:///system):
  net list [--all] | info NAME | dumpxml NAME [--inactive] | define FILE | edit NAME
  net define-bridge NAME --bridge BR [--start] [--autostart]
  net start|destroy|undefine NAME | autostart NAME [--disable]
  domain list [--all] | dumpxml NAME | define FILE | start|shutdown|destroy|undefine NAME
  domain iflist NAME
  domain attach-interface DOM (--network NET | --bridge BR) [--mac MAC] [--model M] [--live] [--config]
  domain detach-interface DOM --mac MAC [--live] [--config]
  event [--timeout S]`;

export function parseGlobal(argv: string[]): { ctx: Omit<CliContext, 'out'>; rest: string[] } {
  const ctx: Omit<CliContext, 'out'> = { json: false };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-n' || a === '-netns' || a === '--netns') {
      if (i + 1 >= argv.length) throw new HostwireError('EUSAGE', `${a} needs a namespace name`);
      ctx.netns = argv[++i];
    } else if (a === '--json' || a === '-j' || a === '-json') {
      ctx.json = true;
    } else if (a === '--uri' || a === '-c' || a === '--connect') {
      if (i + 1 >= argv.length) throw new HostwireError('EUSAGE', `${a} needs a URI`);
      ctx.uri = argv[++i];
    } else if (a === '--help' || a === '-h') {
      return { ctx, rest: ['help'] };
    } else {
      break;
    }
  }
  // --json is also accepted after the verb, as `hostwire link show master br0 --json`.
  const rest = argv.slice(i).filter((w) => {
    if (w !== '--json') return true;
    ctx.json = true;
    return false;
  });
  return { ctx, rest };
}

/** Runs one command line; returns the exit code. Used by main() and by `batch`. */
export async function run(ctx: CliContext, words: string[], table: Record<string, Command> = verbs): Promise<number> {
  const [verb, ...args] = words;
  if (verb === undefined || verb === 'help') {
    ctx.out(USAGE);
    return verb === undefined ? 2 : 0;
  }
  const cmd = table[verb];
  if (!cmd) throw new HostwireError('EUSAGE', `unknown verb '${verb}' (try: hostwire help)`);
  return cmd(ctx, args);
}

export function reportError(e: unknown, json: boolean): void {
  const code = e instanceof HostwireError || (e as { code?: unknown })?.code ? String((e as { code: unknown }).code) : 'EINTERNAL';
  const message = e instanceof Error ? e.message : String(e);
  if (json) {
    const obj = e instanceof HostwireError ? e.toJSON() : { code, message };
    process.stderr.write(JSON.stringify(obj) + '\n');
  } else {
    process.stderr.write(`hostwire: ${code}: ${message}\n`);
  }
}

export async function main(argv: string[]): Promise<number> {
  let json = argv.includes('--json') || argv.includes('-j');
  try {
    const { ctx, rest } = parseGlobal(argv);
    json = ctx.json;
    return await run({ ...ctx, out: (t) => process.stdout.write(t.endsWith('\n') ? t : t + '\n') }, rest);
  } catch (e) {
    reportError(e, json);
    return (e as { code?: string })?.code === 'EUSAGE' ? 2 : 1;
  }
}

if (require.main === module) {
  // Never die from an unhandled rejection or a stray exception: report it, exit non-zero.
  process.on('uncaughtException', (e) => {
    reportError(e, process.argv.includes('--json'));
    process.exit(1);
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      reportError(e, false);
      process.exitCode = 1;
    },
  );
}
