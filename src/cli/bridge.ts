/**
 * `hostwire bridge`: add, del and show (as `brctl show` prints), and the workflow's uplink move
 * and boot-time persistence.
 */
import { HostwireError } from '../errors';
import type { Handle } from '../rtnl/handle';
import { bridgeUplink } from '../workflow/uplink';
import { FORMATS, persistBridge } from '../workflow/persist';
import { loose, number, onOff, oneOf, pos, value } from './args';
import type { CliContext } from './context';
import { verb, type Noun } from './verb';

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

/** hostwire bridge show [BR]. Equivalent to: brctl show [BR] */
const show = verb('bridge show', {
  batch: true,
  args: { bridge: pos('BR', { optional: true }) },
  run: (ctx, a, h) => showBridges(ctx, h(), a.bridge),
});

/**
 * hostwire bridge add NAME [--stp on|off] [--vlan-filtering on|off] [--mcast-snooping on|off] [--mtu N] [--address MAC] [--forward-delay S].
 * The options may also be written bare (stp on). Equivalent to: ip link add NAME type bridge
 * [stp_state 0|1] [vlan_filtering 0|1] [mcast_snooping 0|1] [forward_delay S*100]; ip link set NAME [mtu N] [address MAC]
 */
const add = verb('bridge add', {
  batch: true,
  args: {
    name: pos('NAME'),
    stp: value(loose('stp'), 'on|off', onOff),
    vlanFiltering: value(loose('vlan-filtering'), 'on|off', onOff),
    mcastSnooping: value(loose('mcast-snooping'), 'on|off', onOff),
    mtu: value(loose('mtu'), 'N', number),
    address: value(loose('address'), 'MAC'),
    forwardDelay: value(loose('forward-delay'), 'S', number),
  },
  change: (a) => ({
    op: 'createBridge',
    name: a.name,
    options: {
      stp: a.stp,
      vlanFiltering: a.vlanFiltering,
      mcastSnooping: a.mcastSnooping,
      mtu: a.mtu,
      address: a.address,
      forwardDelay: a.forwardDelay === undefined ? undefined : Math.round(a.forwardDelay * 100),
    },
  }),
});

/** hostwire bridge del NAME. Equivalent to: ip link del NAME */
const del = verb('bridge del', {
  aliases: ['delete'],
  batch: true,
  args: { name: pos('NAME') },
  change: (a) => ({ op: 'delete', dev: a.name }),
});

/**
 * hostwire [-n NS] bridge uplink DEV --bridge BR [--stp on|off]: DEV's addresses and routes move
 * to the new bridge BR and DEV becomes its port, rolled back on failure.
 * Equivalent to: ip link add BR type bridge; ip addr flush dev DEV; ip link set DEV master BR; ip addr add ... dev BR; ip route add ... dev BR
 */
const uplink = verb('bridge uplink', {
  args: {
    dev: pos('DEV'),
    bridge: value('--bridge', 'BR', { required: true }),
    stp: value('--stp', 'on|off', oneOf(['on', 'off'] as const)),
  },
  run: async (ctx, a, h) => {
    const r = await bridgeUplink(h(), a.dev, a.bridge, { stp: a.stp === 'on' });
    if (ctx.json) ctx.out(JSON.stringify(r));
    else
      ctx.out(
        [
          `${a.dev} is now a port of ${a.bridge}`,
          ...r.addresses.map((x) => `  address ${x} moved to ${a.bridge}`),
          ...r.routes.map((x) => `  route ${x} moved to ${a.bridge}`),
        ].join('\n'),
      );
    return 0;
  },
});

/**
 * hostwire [-n NS] bridge persist BR --format networkd|ifupdown|nm [--dir DIR]: the live setup
 * of BR as boot-time configuration, on stdout (each file after a `# NAME` line) or written
 * into DIR (never over an existing file). Equivalent to: writing those files by hand from ip's view.
 */
const persist = verb('bridge persist', {
  args: {
    bridge: pos('BR'),
    format: value('--format', FORMATS.join('|'), oneOf(FORMATS), { required: true }),
    dir: value('--dir', 'DIR'),
  },
  run: async (ctx, a, h) => {
    const r = await persistBridge(h(), a.bridge, a.format, a.dir);
    if (ctx.json) ctx.out(JSON.stringify({ files: r.files.map((f) => ({ name: f.name, text: f.text })), written: r.paths }));
    else if (r.paths.length) ctx.out(r.paths.map((p) => `wrote ${p}`).join('\n'));
    else ctx.out(r.files.map((f) => `# ${f.name}\n${f.text}`).join('\n'));
    return 0;
  },
});

export const noun: Noun = { verbs: [show, add, del, uplink, persist], default: show };
