/**
 * The wire format: pure encode/decode, no I/O. Messages and attributes are built with the
 * npm `netlink` package's codecs (only its pure modules are loaded, never its socket); what it
 * lacks is here: NLMSG_ERROR with extended-ack TLVs, and nested IFLA_LINKINFO.
 */
import {
  formatMessage,
  parseMessages,
  parseAttributes,
  formatAttribute,
  getString,
  getU32,
  AttrStream,
  type NetlinkMessage,
} from 'netlink/dist/structs';
import * as rt from 'netlink/dist/rt/structs';
import type { LinkAttrs } from 'netlink/dist/rt/ifla';
import { NLMSG_DONE, NLMSG_ERROR, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLMSGERR_ATTR_MSG, NLMSGERR_ATTR_OFFS } from './constants';

export type { NetlinkMessage, LinkAttrs };
export const HEADER_LENGTH = 16;

/**
 * One request as bytes (header included), ready for sendmsg's gather list. The payload is
 * padded to NLMSG_ALIGNTO (4): the kernel steps to the next message of a datagram by
 * NLMSG_ALIGN(nlmsg_len), and netlink's formatMessage leaves the tail unpadded, which would
 * make the kernel silently drop every message after one that ends in an odd-length name.
 */
export function encodeMessage(type: number, flags: number, seq: number, port: number, payload: Uint8Array[]): Uint8Array[] {
  let len = 0;
  for (const p of payload) len += p.length;
  const data = len % 4 ? [...payload, Buffer.alloc(4 - (len % 4))] : payload;
  return formatMessage({ type, flags, seq, port, data });
}

/** Every netlink message in a datagram. */
export function decodeDatagram(buf: Buffer): NetlinkMessage[] {
  return parseMessages(buf);
}

export interface AckInfo {
  /** 0 for an ACK, else the positive errno. */
  errno: number;
  /** Sequence number of the request this answers (from the echoed header). */
  seq: number;
  extack?: string;
  badAttrOffset?: number;
}

/**
 * Decodes NLMSG_ERROR (and the error in NLMSG_DONE): the int error, the echoed request header
 * (whole request unless NLM_F_CAPPED), then NLMSGERR_ATTR_* TLVs when NLM_F_ACK_TLVS is set.
 */
export function decodeAck(msg: NetlinkMessage): AckInfo {
  const d = msg.data;
  const errno = d.length >= 4 ? -d.readInt32LE(0) : 0;
  if (msg.type === NLMSG_DONE) {
    const info: AckInfo = { errno, seq: msg.seq };
    if (msg.flags & NLM_F_ACK_TLVS && d.length > 4) readExtack(d.subarray(4), info);
    return info;
  }
  let seq = msg.seq;
  let tlvStart = d.length;
  if (d.length >= 4 + HEADER_LENGTH) {
    const origLen = d.readUInt32LE(4);
    seq = d.readUInt32LE(4 + 8);
    const echoed = msg.flags & NLM_F_CAPPED || errno === 0 ? HEADER_LENGTH : origLen;
    tlvStart = 4 + align4(Math.min(echoed, d.length - 4));
  }
  const info: AckInfo = { errno, seq };
  if (msg.flags & NLM_F_ACK_TLVS && tlvStart < d.length) readExtack(d.subarray(tlvStart), info);
  return info;
}

function readExtack(tlvs: Buffer, info: AckInfo): void {
  try {
    parseAttributes(tlvs, (a) => {
      if (a.type === NLMSGERR_ATTR_MSG) info.extack = getString(a.data);
      else if (a.type === NLMSGERR_ATTR_OFFS) info.badAttrOffset = getU32(a.data);
    });
  } catch {
    // A malformed TLV tail loses only the message text, never the errno.
  }
}

const align4 = (n: number) => (n + 3) & ~3;

export function isError(msg: NetlinkMessage): boolean {
  return msg.type === NLMSG_ERROR;
}

/** A message netlink's rt codecs can format (address, route ...) as chunks for request(). */
export function encodeWith<T>(format: (x: T, out: AttrStream) => void, msg: T): Uint8Array[] {
  const stream = new AttrStream();
  format(msg, stream);
  return stream.bufs.slice();
}

/**
 * ifinfomsg + IFLA attributes (RTM_NEWLINK, RTM_SETLINK, RTM_DELLINK, RTM_GETLINK), with
 * already-encoded attributes (IFLA_LINKINFO, IFLA_EXT_MASK ...) appended on a 4-byte boundary.
 */
export function encodeLinkPayload(data: rt.Link, attrs: LinkAttrs, extra: Uint8Array[] = []): Uint8Array[] {
  const bufs = encodeWith(rt.formatLinkMessage, { kind: 'link', data, attrs });
  if (extra.length) {
    const len = bufs.reduce((n, b) => n + b.length, 0);
    if (len % 4) bufs.push(Buffer.alloc(4 - (len % 4)));
    bufs.push(...extra);
  }
  return bufs;
}

export function decodeLinkMessage(msg: NetlinkMessage): rt.LinkMessage {
  return rt.parseLinkMessage(msg.data);
}

/** A TLV: 4-byte header + payload + padding to 4 bytes. */
export function attr(type: number, data: Uint8Array | Uint8Array[], nested = false): Uint8Array {
  const parts = formatAttribute({ type, data, nested });
  const len = parts.reduce((n, p) => n + p.length, 0);
  const out = Buffer.alloc(align4(len));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Calls fn for each attribute of a TLV stream. */
export function eachAttr(buf: Buffer, fn: (type: number, data: Buffer) => void): void {
  parseAttributes(buf, (a) => fn(a.type, a.data));
}
