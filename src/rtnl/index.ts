/**
 * The rtnetlink layer: wire (pure codecs) -> socket (requests, window) -> handle (verbs).
 * Module-level helpers use a default handle on the current namespace, opened on first use.
 */
import { Handle } from './handle';

export { Handle, openNetnsFd, rcvbufFor } from './handle';
export type { HandleOptions, LinkChange, LinkFilter, VethOptions } from './handle';
export { NetlinkSocket } from './socket';
export type { Transport, TransportFactory } from './socket';
export { NetlinkError, errnoName } from './errors';
export type { Link } from './link';
export type { BridgeOptions } from './kinds/bridge';
export type { TapOptions } from './kinds/tunspec';
export { TapQueue } from './tap';
export type { TapDevice } from './tap';
export { runBatch, checkOp } from './batch';
export type { BatchOp, BatchOptions, BatchResult, BatchReport } from './batch';
export { registerKind, getKind } from './kinds';
export * as validate from './validate';
export { bytesToIp, ipToBytes, parseCidr } from './addr';
export type { Address, AddressSpec } from './addr';
export type { Route, RouteSpec } from './route';

let defaultHandle: Handle | undefined;

/** The handle module-level helpers use: the current namespace, opened on first use. */
export function defaultLink(): Handle {
  return (defaultHandle ??= new Handle());
}
