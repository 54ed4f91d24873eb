/** `hostwire tap`: add, del and show tun/tap devices. */
import { flag, loose, number, pos, value } from './args';
import { showLinks } from './link';
import { verb, type Noun } from './verb';

/**
 * hostwire tap add NAME [--tun] [--owner UID] [--group GID] [--multi-queue] [--vnet-hdr] [--pi] [--address MAC] [--mtu N].
 * The options may also be written bare (owner 1000).
 * Equivalent to: ip tuntap add NAME mode tap|tun [user UID] [group GID] [multi_queue] [vnet_hdr] [pi]; ip link set NAME [address MAC] [mtu N]
 */
const add = verb('tap add', {
  batch: true,
  args: {
    name: pos('NAME'),
    tun: flag(...loose('tun')),
    owner: value(loose('owner'), 'UID', number),
    group: value(loose('group'), 'GID', number),
    multiQueue: flag(...loose('multi-queue')),
    vnetHdr: flag(...loose('vnet-hdr')),
    pi: flag(...loose('pi')),
    address: value(loose('address'), 'MAC'),
    mtu: value(loose('mtu'), 'N', number),
  },
  change: (a) => ({
    op: 'createTap',
    name: a.name,
    options: {
      tun: a.tun,
      owner: a.owner,
      group: a.group,
      multiQueue: a.multiQueue,
      vnetHdr: a.vnetHdr,
      pi: a.pi,
      address: a.address,
      mtu: a.mtu,
    },
  }),
});

/** hostwire tap del NAME. Equivalent to: ip tuntap del NAME */
const del = verb('tap del', {
  aliases: ['delete'],
  batch: true,
  args: { name: pos('NAME') },
  change: (a) => ({ op: 'delete', dev: a.name }),
});

/** hostwire tap show. Equivalent to: ip -br link show type tun */
const show = verb('tap show', {
  aliases: ['list'],
  batch: true,
  args: {},
  run: (ctx, _a, h) => showLinks(ctx, h(), { kind: 'tun' }),
});

export const noun: Noun = { verbs: [add, del, show] };
