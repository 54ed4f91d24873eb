/**
 * The rtnetlink layer: wire (pure codecs) -> socket (requests, window) -> request builders ->
 * handle (verbs). Module-level helpers use a default handle on the current namespace.
 */
import { Handle } from './handle';

export { Handle, openNetnsFd, rcvbufFor, GROUP_DELETE_MIN } from './handle';
export type { HandleOptions, LinkFilter } from './handle';
export { NetlinkSocket, DUMP_RETRIES } from './socket';
export type { Transport, TransportFactory, TransportSink, ReplyCallback } from './socket';
export { NetlinkError, errnoName } from './errors';
export { DecodeError, MessageWriter, type NetlinkMessage } from './wire';
export { decodeLink, IFLA } from './link';
export type { Link } from './link';
export {
  NO_CONTEXT,
  checkLinkChange,
  describeChange,
  linkCreate,
  linkDelete,
  linkDeleteGroup,
  linkDump,
  linkGet,
  linkSet,
} from './request';
export type { EncodeContext, LinkChange, LinkCommon, LinkDumpFilter, Request } from './request';
export type { BridgeOptions } from './kinds/bridge';
export type { VethOptions } from './kinds/veth';
export type { TapOptions } from './kinds/tunspec';
export { TapQueue } from './tap';
export type { TapDevice } from './tap';
export { runBatch, checkOp, buildOp } from './batch';
export type { BatchOp, BatchOptions, BatchResult, BatchReport } from './batch';
export { registerKind, getKind } from './kinds';
export type { LinkKind } from './kinds';
export * as validate from './validate';
export { addressAdd, addressDelete, addressDump, decodeAddress, bytesToIp, ipToBytes, parseCidr } from './addr';
export type { Address, AddressSpec } from './addr';
export { routeAdd, routeDelete, routeDump, decodeRoute } from './route';
export type { Route, RouteSpec } from './route';
export * as testing from './testing';

let defaultHandle: Handle | undefined;

/** The handle module-level helpers use: the current namespace, opened on first use. */
export function defaultLink(): Handle {
  return (defaultHandle ??= new Handle());
}
