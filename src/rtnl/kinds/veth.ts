/**
 * kind 'veth': IFLA_INFO_DATA holds VETH_INFO_PEER (linux/veth.h), itself an ifinfomsg followed
 * by the peer's IFLA_* attributes (name, netns, address, mtu).
 */
import * as rt from 'netlink/dist/rt/structs';
import type { LinkAttrs } from 'netlink/dist/rt/ifla';
import { attr, encodeLinkPayload } from '../wire';
import type { LinkKind } from './kind';

export const VETH_INFO_PEER = 1;

export const veth: LinkKind = { kind: 'veth' };

/** IFLA_INFO_DATA of a new veth pair: the peer's ifinfomsg and attributes. */
export function encodeVethData(peer: LinkAttrs): Uint8Array[] {
  const payload = encodeLinkPayload({ index: 0 } as rt.Link, peer);
  return [attr(VETH_INFO_PEER, payload, true)];
}
