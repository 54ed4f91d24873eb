/**
 * kind 'veth': IFLA_INFO_DATA holds VETH_INFO_PEER (linux/veth.h), itself an ifinfomsg followed
 * by the peer's IFLA_* attributes (name, netns, address, mtu).
 */
import { IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_NET_NS_FD } from '../constants';
import { parseMacBytes } from '../attrs';
import { checkIfName, checkMac, checkMtu, checkNetnsName } from '../validate';
import { ValidationError } from '../../errors';
import type { MessageWriter } from '../wire';
import type { EncodeContext, LinkKind } from './kind';
import { ipInt, readIpWords, str, type IpWord } from './ipwords';

export const VETH_INFO_PEER = 1;

/** The peer of a new veth pair, as `ip link add NAME type veth peer name PEER ...` takes it. */
export interface VethOptions {
  /** The peer's name (required). */
  peer?: string;
  /** Put the peer in this named namespace (IFLA_NET_NS_FD inside VETH_INFO_PEER). */
  peerNetns?: string;
  /** MTU of both ends. */
  mtu?: number;
  address?: string;
  peerAddress?: string;
}

function check(o: object): VethOptions {
  const v = o as VethOptions;
  if (v.peer === undefined) throw new ValidationError('EINVALIDNAME', 'peer: a veth needs a peer name', 'peer');
  const out: VethOptions = { peer: checkIfName(v.peer, 'peer') };
  if (v.peerNetns !== undefined) out.peerNetns = checkNetnsName(v.peerNetns, 'peerNetns');
  if (v.mtu !== undefined) out.mtu = checkMtu(v.mtu);
  if (v.peerAddress !== undefined) out.peerAddress = checkMac(v.peerAddress, 'peerAddress');
  return out;
}

function encodeData(w: MessageWriter, o: object, ctx: EncodeContext): void {
  const v = o as VethOptions;
  w.nest(VETH_INFO_PEER, () => {
    w.ifinfomsg(0);
    w.string(IFLA_IFNAME, v.peer as string);
    if (v.mtu !== undefined) w.u32(IFLA_MTU, v.mtu);
    if (v.peerAddress !== undefined) w.attr(IFLA_ADDRESS, parseMacBytes(v.peerAddress));
    if (v.peerNetns !== undefined) w.u32(IFLA_NET_NS_FD, ctx.netnsFd(v.peerNetns));
  });
}

/** ip's `peer [name] PEER [netns NS] [address MAC] [mtu N]` (the peer's own options). */
function fromIp(words: readonly string[]): VethOptions {
  const w: string[] = [...words];
  if (w[0] === 'peer') {
    w.shift();
    if ((w[0] as string) === 'name') w.shift();
    if (w.length) w.unshift('name');
  }
  const IP: Record<string, IpWord> = {
    name: { key: 'peer', value: str },
    netns: { key: 'peerNetns', value: str },
    'peer-netns': { key: 'peerNetns', value: str },
    address: { key: 'peerAddress', value: str },
    mtu: { key: 'mtu', value: ipInt },
  };
  return readIpWords('veth', w, IP);
}

export const veth: LinkKind = {
  kind: 'veth',
  fromIp,
  check,
  netns: (o) => ((o as VethOptions).peerNetns !== undefined ? [(o as VethOptions).peerNetns as string] : []),
  encodeData,
  // The peer, when it is in this namespace (IFLA_LINK without IFLA_LINK_NETNSID); otherwise
  // its name is not known here.
  readOptions: (link, nameOf) => {
    const peer = link.link && link.linkNetnsId === undefined ? nameOf(link.link) : undefined;
    return peer === undefined ? {} : { peer };
  },
  mutable: [],
  peer: (o) => (typeof o.peer === 'string' && o.peerNetns === undefined ? o.peer : undefined),
};
