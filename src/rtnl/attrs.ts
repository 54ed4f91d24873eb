/**
 * Table-driven attribute codecs. A table lists attributes under the kernel's names
 * (IFLA_BR_STP_STATE) with their wire type; decoded objects use the name without the prefix in
 * lower case ('stp_state'), as `ip -d -j link show` prints them.
 */
import { DecodeError, MessageWriter, cString, eachAttr, need } from './wire';

export type AttrCodec = 'u8' | 'u16' | 'u32' | 'u64' | 'u16be' | 'flag' | 'string' | 'mac' | 'binary';

export interface AttrSpec {
  readonly type: number;
  readonly kernel: string;
  readonly codec: AttrCodec;
}

export interface AttrTable {
  readonly prefix: string;
  readonly specs: readonly AttrSpec[];
}

/** Builds a table from [KERNEL_NAME, codec] pairs listed in the kernel's enum order, from 1. */
export function table(prefix: string, entries: ReadonlyArray<readonly [string, AttrCodec] | null>): AttrTable {
  const specs: AttrSpec[] = [];
  entries.forEach((e, i) => {
    if (e) specs.push({ type: i + 1, kernel: e[0], codec: e[1] });
  });
  return { prefix, specs };
}

export function keyOf(t: AttrTable, spec: AttrSpec): string {
  return spec.kernel.slice(t.prefix.length).toLowerCase();
}

export function formatMac(b: Buffer): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

export function parseMacBytes(s: string): Buffer {
  return Buffer.from(s.split(':').map((h) => parseInt(h, 16)));
}

const SIZE: Record<AttrCodec, number> = { u8: 1, u16: 2, u16be: 2, u32: 4, u64: 8, flag: 0, string: 0, mac: 0, binary: 0 };

/** One attribute's value by its codec; DecodeError (naming it) when it is too short. */
export function decodeValue(codec: AttrCodec, d: Buffer, name: string): unknown {
  need(d, SIZE[codec], name);
  switch (codec) {
    case 'u8':
      return d.readUInt8(0);
    case 'u16':
      return d.readUInt16LE(0);
    case 'u16be':
      return d.readUInt16BE(0);
    case 'u32':
      return d.readUInt32LE(0);
    case 'u64':
      return Number(d.readBigUInt64LE(0));
    case 'flag':
      return true;
    case 'string':
      return cString(d);
    case 'mac':
      return formatMac(d);
    case 'binary':
      return d.toString('hex');
  }
}

/** Writes one attribute by its codec. */
export function encodeValue(w: MessageWriter, spec: AttrSpec, v: unknown): void {
  switch (spec.codec) {
    case 'u8':
      w.u8(spec.type, Number(v));
      return;
    case 'u16':
      w.u16(spec.type, Number(v));
      return;
    case 'u16be': {
      const b = Buffer.alloc(2);
      b.writeUInt16BE(Number(v));
      w.attr(spec.type, b);
      return;
    }
    case 'u32':
      w.u32(spec.type, Number(v));
      return;
    case 'u64': {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(BigInt(v as number));
      w.attr(spec.type, b);
      return;
    }
    case 'flag':
      w.attr(spec.type, Buffer.alloc(0));
      return;
    case 'string':
      w.string(spec.type, String(v));
      return;
    case 'mac':
      w.attr(spec.type, parseMacBytes(String(v)));
      return;
    case 'binary':
      w.attr(spec.type, Buffer.from(String(v), 'hex'));
      return;
  }
}

const byTypeCache = new WeakMap<AttrTable, Map<number, AttrSpec>>();
function byType(t: AttrTable): Map<number, AttrSpec> {
  let m = byTypeCache.get(t);
  if (!m) byTypeCache.set(t, (m = new Map(t.specs.map((s) => [s.type, s]))));
  return m;
}

/** The kernel's name of an attribute type in a table ('IFLA_BR_PRIORITY'), or PREFIX + number. */
export function nameOf(t: AttrTable, type: number): string {
  return byType(t).get(type)?.kernel ?? `${t.prefix}${type}`;
}

/**
 * Decodes every known attribute of a stream, checking lengths (DecodeError names the bad one).
 * An attribute the table does not know (a newer kernel's) is kept as hex under its number.
 */
export function decodeTable(t: AttrTable, buf: Buffer): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const specs = byType(t);
  eachAttr(
    buf,
    (type, data) => {
      const spec = specs.get(type);
      if (!spec) out[`${t.prefix.toLowerCase()}${type}`] = data.toString('hex');
      else if (data.length || spec.codec === 'flag' || spec.codec === 'string')
        out[keyOf(t, spec)] = decodeValue(spec.codec, data, spec.kernel);
    },
    (type) => nameOf(t, type),
  );
  return out;
}

/** Writes the values given (by decoded key), in table order. */
export function encodeTable(w: MessageWriter, t: AttrTable, values: Record<string, unknown>): void {
  for (const spec of t.specs) {
    const v = values[keyOf(t, spec)];
    if (v === undefined || v === null || (v === false && spec.codec === 'flag')) continue;
    encodeValue(w, spec, v);
  }
}

export { DecodeError };
