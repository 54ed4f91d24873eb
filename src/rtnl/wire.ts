/**
 * The wire format: pure encode/decode, no I/O. Messages are written straight into one buffer
 * (MessageWriter) and read with bounds checks (eachMessage, AttrReader): a truncated or
 * malformed message or attribute is a DecodeError naming it, never an untyped exception.
 * (The npm `netlink` package's codecs, used here before, now only cross-check these bytes in
 * the tests: they throw RangeError on short input and cost several times more per message.)
 */
import { HostwireError } from '../errors';
import { NLMSG_DONE, NLMSG_ERROR, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLMSGERR_ATTR_MSG, NLMSGERR_ATTR_OFFS } from './constants';

export const HEADER_LENGTH = 16;
export const NLA_HDRLEN = 4;
export const NLA_F_NESTED = 0x8000;
const NLA_TYPE_MASK = 0x3fff;

export const align4 = (n: number) => (n + 3) & ~3;

/** One netlink message: its header fields and its payload (after the 16-byte header). */
export interface NetlinkMessage {
  type: number;
  flags: number;
  seq: number;
  port: number;
  data: Buffer;
}

/**
 * A message or attribute that does not hold together: shorter than its header says, an
 * attribute running past its parent, a value shorter than its type. `attribute` names it under
 * the kernel's name when a table knows it ('IFLA_MTU'), `offset` is where it starts.
 */
export class DecodeError extends HostwireError {
  readonly attribute?: string;
  readonly offset: number;
  constructor(message: string, offset: number, attribute?: string) {
    super('EBADMSG', attribute ? `${attribute}: ${message}` : message);
    this.offset = offset;
    this.attribute = attribute;
  }
}

/** The bytes MessageWriter.string() adds for `s`: header, string, NUL, padding (to size a message exactly). */
export const stringAttrSize = (s: string): number => NLA_HDRLEN + align4(Buffer.byteLength(s) + 1);

/**
 * Zeroes buf[from, to) (a header, an attribute's padding: a few bytes, where Buffer.fill's call
 * into C++ costs more than the bytes).
 */
function zero(buf: Buffer, from: number, to: number): void {
  if (to - from > 64) buf.fill(0, from, to);
  else for (let i = from; i < to; i++) buf[i] = 0;
}

/** A string of at most 64 ASCII characters (an interface name): copied byte by byte, no C++ call. */
function isShortAscii(s: string): boolean {
  if (s.length > 64) return false;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * Builds one netlink message in a single growing buffer: header, fixed struct, attributes,
 * nests. The sequence number is left 0: the socket writes it when it sends.
 */
export class MessageWriter {
  private buf: Buffer;
  private len = HEADER_LENGTH;

  constructor(type: number, flags: number, sizeHint = 128) {
    this.buf = Buffer.allocUnsafe(Math.max(sizeHint, HEADER_LENGTH));
    zero(this.buf, 0, HEADER_LENGTH);
    this.buf.writeUInt16LE(type, 4);
    this.buf.writeUInt16LE(flags, 6);
  }

  private room(n: number): number {
    const at = this.len;
    const need = at + align4(n);
    if (need > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
      this.buf.copy(next, 0, 0, at);
      this.buf = next;
    }
    zero(this.buf, at, need);
    this.len = need;
    return at;
  }

  /** Raw bytes (a fixed struct such as ifinfomsg), padded to 4. */
  bytes(data: Uint8Array): this {
    const at = this.room(data.length);
    this.buf.set(data, at);
    return this;
  }

  /** struct ifinfomsg. */
  ifinfomsg(index: number, flags = 0, change = 0, family = 0, type = 0): this {
    const at = this.room(16);
    this.buf.writeUInt8(family, at);
    this.buf.writeUInt16LE(type, at + 2);
    this.buf.writeInt32LE(index, at + 4);
    this.buf.writeUInt32LE(flags >>> 0, at + 8);
    this.buf.writeUInt32LE(change >>> 0, at + 12);
    return this;
  }

  attr(type: number, data: Uint8Array): this {
    const at = this.room(NLA_HDRLEN + data.length);
    this.buf.writeUInt16LE(NLA_HDRLEN + data.length, at);
    this.buf.writeUInt16LE(type, at + 2);
    this.buf.set(data, at + NLA_HDRLEN);
    return this;
  }

  u8(type: number, v: number): this {
    const at = this.room(NLA_HDRLEN + 1);
    this.buf.writeUInt16LE(NLA_HDRLEN + 1, at);
    this.buf.writeUInt16LE(type, at + 2);
    this.buf.writeUInt8(v & 0xff, at + 4);
    return this;
  }

  u16(type: number, v: number): this {
    const at = this.room(NLA_HDRLEN + 2);
    this.buf.writeUInt16LE(NLA_HDRLEN + 2, at);
    this.buf.writeUInt16LE(type, at + 2);
    this.buf.writeUInt16LE(v & 0xffff, at + 4);
    return this;
  }

  u32(type: number, v: number): this {
    const at = this.room(NLA_HDRLEN + 4);
    this.buf.writeUInt16LE(NLA_HDRLEN + 4, at);
    this.buf.writeUInt16LE(type, at + 2);
    this.buf.writeUInt32LE(v >>> 0, at + 4);
    return this;
  }

  s32(type: number, v: number): this {
    const at = this.room(NLA_HDRLEN + 4);
    this.buf.writeUInt16LE(NLA_HDRLEN + 4, at);
    this.buf.writeUInt16LE(type, at + 2);
    this.buf.writeInt32LE(v, at + 4);
    return this;
  }

  /** A NUL-terminated string attribute. */
  string(type: number, s: string): this {
    const ascii = isShortAscii(s);
    const n = ascii ? s.length : Buffer.byteLength(s);
    const at = this.room(NLA_HDRLEN + n + 1);
    this.buf.writeUInt16LE(NLA_HDRLEN + n + 1, at);
    this.buf.writeUInt16LE(type, at + 2);
    if (ascii) for (let i = 0; i < n; i++) this.buf[at + 4 + i] = s.charCodeAt(i);
    else this.buf.write(s, at + 4);
    this.buf[at + 4 + n] = 0;
    return this;
  }

  /** A nested attribute: what fn writes goes inside it. */
  nest(type: number, fn: (w: this) => void): this {
    const at = this.room(NLA_HDRLEN);
    fn(this);
    this.buf.writeUInt16LE(this.len - at, at);
    this.buf.writeUInt16LE(type | NLA_F_NESTED, at + 2);
    return this;
  }

  /** The finished message (nlmsg_len set; a multiple of 4 bytes): the buffer itself when the size hint was exact. */
  finish(): Buffer {
    this.buf.writeUInt32LE(this.len, 0);
    return this.len === this.buf.length ? this.buf : this.buf.subarray(0, this.len);
  }
}

/**
 * Objects kept for the life of the process so that V8 keeps their shapes: one of each kind the
 * request path makes by the thousand (writers here, requests and changes in request.ts). V8 holds
 * an object's shape (its map) only while some object has it, and optimised code holds shapes
 * weakly: a full GC in an idle spell (V8's memory reducer runs them) would otherwise collect the
 * shapes with the last batch's objects and throw away every compiled function that handled one,
 * and the next batch would wait while V8 compiled them again (10-20 ms of its compiler threads,
 * on the CPUs the socket's thread needs: bench/pause.ts). A few hundred bytes.
 */
export const shapeAnchors: object[] = [new MessageWriter(0, 0, HEADER_LENGTH)];

/** A whole message from a type, flags and an already encoded body (seq 0, port 0). */
export function encodeMessage(type: number, flags: number, body: Uint8Array[]): Buffer {
  const w = new MessageWriter(type, flags, HEADER_LENGTH + body.reduce((n, b) => n + align4(b.length), 0));
  for (const b of body) w.bytes(b);
  return w.finish();
}

/**
 * Calls fn for each message in buf[start, end), checking each header against what is there.
 * Throws DecodeError for a truncated message (the messages before it were already handed on).
 */
export function eachMessage(buf: Buffer, fn: (m: NetlinkMessage) => void, start = 0, end = buf.length): void {
  let off = start;
  while (off + HEADER_LENGTH <= end) {
    const len = buf.readUInt32LE(off);
    if (len < HEADER_LENGTH || off + len > end) throw new DecodeError(`message of ${len} bytes with ${end - off} left`, off, 'nlmsghdr');
    fn({
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      seq: buf.readUInt32LE(off + 8),
      port: buf.readUInt32LE(off + 12),
      data: buf.subarray(off + HEADER_LENGTH, off + len),
    });
    off += align4(len);
  }
  if (off < end && end - off < HEADER_LENGTH && buf.subarray(off, end).some((b) => b !== 0))
    throw new DecodeError(`${end - off} stray bytes after the last message`, off, 'nlmsghdr');
}

/** Every netlink message in a datagram. */
export function decodeDatagram(buf: Buffer): NetlinkMessage[] {
  const out: NetlinkMessage[] = [];
  eachMessage(buf, (m) => out.push(m));
  return out;
}

/**
 * Bounds-checked attribute iteration over a TLV stream. `name` turns a type into the kernel's
 * name for error messages. Throws DecodeError for an attribute whose length runs past the
 * stream or is shorter than its own header.
 */
export function eachAttr(buf: Buffer, fn: (type: number, data: Buffer) => void, name?: (type: number) => string | undefined): void {
  scanAttrs(buf, 0, (type, start, end) => fn(type, buf.subarray(start, end)), name);
}

/**
 * eachAttr without a Buffer per attribute: fn gets the value's bounds [start, end) in buf. For
 * decoders that read a few attributes of many messages (a dump of every link, for two of its
 * sixty attributes). The same checks and DecodeError as eachAttr; offsets in errors count from
 * `from`.
 */
export function scanAttrs(
  buf: Buffer,
  from: number,
  fn: (type: number, start: number, end: number) => void,
  name?: (type: number) => string | undefined,
): void {
  let off = from;
  while (off + NLA_HDRLEN <= buf.length) {
    const len = buf.readUInt16LE(off);
    const type = buf.readUInt16LE(off + 2) & NLA_TYPE_MASK;
    if (len < NLA_HDRLEN || off + len > buf.length)
      throw new DecodeError(`attribute of ${len} bytes with ${buf.length - off} left`, off - from, name?.(type) ?? `attribute ${type}`);
    fn(type, off + NLA_HDRLEN, off + len);
    off += align4(len);
  }
}

/** Checks that an attribute's value has at least `size` bytes. */
export function need(data: Buffer, size: number, attribute: string): Buffer {
  if (data.length < size) throw new DecodeError(`${data.length} bytes where ${size} are needed`, 0, attribute);
  return data;
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
    eachAttr(tlvs, (type, data) => {
      if (type === NLMSGERR_ATTR_MSG) info.extack = cString(data);
      else if (type === NLMSGERR_ATTR_OFFS && data.length >= 4) info.badAttrOffset = data.readUInt32LE(0);
    });
  } catch {
    // A malformed TLV tail loses only the message text, never the errno.
  }
}

/** A NUL-terminated (or not) string attribute's text. */
export function cString(d: Buffer): string {
  return cStringAt(d, 0, d.length);
}

/** cString of buf[start, end) without a Buffer for it (scanAttrs' decoders). */
export function cStringAt(buf: Buffer, start: number, end: number): string {
  const z = buf.indexOf(0, start);
  return buf.toString('utf8', start, z < 0 || z > end ? end : z);
}

export function isError(msg: NetlinkMessage): boolean {
  return msg.type === NLMSG_ERROR;
}
