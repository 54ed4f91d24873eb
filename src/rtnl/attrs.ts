/**
 * Table-driven attribute codecs. A table lists attributes under the kernel's names
 * (IFLA_BR_STP_STATE) with their wire type; decoded objects use the name without the prefix in
 * lower case ('stp_state'), as `ip -d -j link show` prints them.
 */
import { attr, eachAttr } from './wire';

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

function decodeValue(codec: AttrCodec, d: Buffer): unknown {
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
    case 'string': {
      const z = d.indexOf(0);
      return d.toString('utf8', 0, z < 0 ? d.length : z);
    }
    case 'mac':
      return formatMac(d);
    case 'binary':
      return d.toString('hex');
  }
}

function encodeValue(codec: AttrCodec, v: unknown): Buffer {
  switch (codec) {
    case 'u8':
      return Buffer.from([Number(v) & 0xff]);
    case 'u16': {
      const b = Buffer.alloc(2);
      b.writeUInt16LE(Number(v));
      return b;
    }
    case 'u16be': {
      const b = Buffer.alloc(2);
      b.writeUInt16BE(Number(v));
      return b;
    }
    case 'u32': {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(Number(v) >>> 0);
      return b;
    }
    case 'u64': {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(BigInt(v as number));
      return b;
    }
    case 'flag':
      return Buffer.alloc(0);
    case 'string':
      return Buffer.from(String(v) + '\0');
    case 'mac':
      return parseMacBytes(String(v));
    case 'binary':
      return Buffer.from(String(v), 'hex');
  }
}

/** Decodes every known attribute of a stream; unknown ones are kept as hex under 'attr_N'. */
export function decodeTable(t: AttrTable, buf: Buffer): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const byType = new Map(t.specs.map((s) => [s.type, s]));
  eachAttr(buf, (type, data) => {
    const spec = byType.get(type);
    if (!spec) out[`attr_${type}`] = data.toString('hex');
    else if (data.length || spec.codec === 'flag' || spec.codec === 'string') out[keyOf(t, spec)] = decodeValue(spec.codec, data);
  });
  return out;
}

/** Encodes the values given (by decoded key), in table order. */
export function encodeTable(t: AttrTable, values: Record<string, unknown>): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const spec of t.specs) {
    const v = values[keyOf(t, spec)];
    if (v === undefined || v === null || (v === false && spec.codec === 'flag')) continue;
    out.push(attr(spec.type, encodeValue(spec.codec, v)));
  }
  return out;
}
