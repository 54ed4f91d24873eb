/**
 * Per-port bandwidth as libvirt's <bandwidth> means it, over rtnetlink's traffic control
 * messages (RTM_*QDISC, RTM_*TCLASS, RTM_*TFILTER; linux/pkt_sched.h, pkt_cls.h,
 * tc_act/tc_mirred.h): the request builders and decoders. The verbs are Handle's.
 *
 * - inbound (to the VM) is the port's egress: an HTB qdisc (1:) whose default class 1:1 has the
 *   average rate, the peak as its ceiling, and the burst.
 * - outbound (from the VM) is the port's ingress. This kernel has no police action, so an
 *   ingress qdisc redirects everything (u32 match-all, mirred egress redirect) to an ifb device
 *   named hwq<ifindex>, whose egress carries the same HTB.
 *
 * Units are libvirt's: average and peak in kilobytes per second (1 KB = 1000 bytes, as tc's
 * kbps), burst in kibibytes (tc's kb).
 */
import { ValidationError } from '../errors';
import { NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL } from './constants';
import type { EncodeContext, Request } from './request';
import { DecodeError, MessageWriter, cString, eachAttr, need, type NetlinkMessage } from './wire';

export const RTM_NEWQDISC = 36;
export const RTM_DELQDISC = 37;
export const RTM_GETQDISC = 38;
export const RTM_NEWTCLASS = 40;
export const RTM_GETTCLASS = 42;
export const RTM_NEWTFILTER = 44;

const TCA_KIND = 1;
const TCA_OPTIONS = 2;
const TC_H_ROOT = 0xffffffff;
const TC_H_INGRESS = 0xfffffff1;
const INGRESS_HANDLE = 0xffff0000;
const HTB_HANDLE = 0x00010000; // 1:
const HTB_CLASS = 0x00010001; // 1:1
const TCA_HTB_PARMS = 1;
const TCA_HTB_INIT = 2;
const TCA_HTB_RATE64 = 6;
const TCA_HTB_CEIL64 = 7;
const TCA_U32_SEL = 5;
const TCA_U32_ACT = 7;
const TC_U32_TERMINAL = 1;
const TCA_ACT_KIND = 1;
const TCA_ACT_OPTIONS = 2;
const TCA_MIRRED_PARMS = 2;
const TC_ACT_STOLEN = 4;
const TCA_EGRESS_REDIR = 1;
const ETH_P_ALL = 0x0003;
const TC_LINKLAYER_ETHERNET = 1;
/**
 * HTB's buffer is a time in psched ticks of 64 ns (PSCHED_SHIFT 6: PSCHED_TICKS2NS(x) = x << 6;
 * /proc/net/psched says 1000 ns are 64 ticks... of 15.625 per microsecond, as tc counts them).
 */
const TICKS_PER_SEC = 1e9 / 64;

/** One direction of libvirt's <bandwidth>: KB/s (1000 bytes) and KiB. */
export interface Rate {
  /** Average rate, kilobytes per second. */
  average: number;
  /** Peak rate (the ceiling), kilobytes per second; default the average. */
  peak?: number;
  /** Burst at peak, kibibytes; default tc's (a millisecond at the rate plus an MTU). */
  burst?: number;
}

export interface Bandwidth {
  /** To the VM: the port's egress. */
  inbound?: Rate;
  /** From the VM: the port's ingress (through the ifb). */
  outbound?: Rate;
}

/** The ifb device that carries a port's outbound limit. */
export const ifbName = (ifindex: number) => `hwq${ifindex}`;

export function checkRate(r: unknown, field: string): Required<Rate> {
  const o = r as Rate;
  if (!o || typeof o !== 'object') throw new ValidationError('EINVALIDOPTION', `${field}: AVERAGE[,PEAK[,BURST]]`, field);
  const num = (v: unknown, what: string) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0 || v > 0xffffffff)
      throw new ValidationError('EINVALIDOPTION', `${field}: ${what} '${String(v)}' is not a positive integer`, field);
    return v;
  };
  const average = num(o.average, 'average');
  const peak = o.peak === undefined ? average : num(o.peak, 'peak');
  if (peak < average) throw new ValidationError('EINVALIDOPTION', `${field}: peak ${peak} is below the average ${average}`, field);
  // tc's default: what the rate sends in a tick (1 ms) plus an MTU, in KiB, at least 2.
  const burst = o.burst === undefined ? Math.max(2, Math.ceil((peak * 1000) / 1000 / 1024 + 1600 / 1024)) : num(o.burst, 'burst');
  return { average, peak, burst };
}

/** 'AVG[,PEAK[,BURST]]' as virsh domiftune and the CLI take it. */
export function parseRate(text: string, field: string): Rate {
  const parts = text.split(',');
  if (parts.length > 3 || parts.some((p) => !/^\d+$/.test(p)))
    throw new ValidationError('EINVALIDOPTION', `${field}: '${text}' is not AVERAGE[,PEAK[,BURST]] (KB/s, KB/s, KiB)`, field);
  const [average, peak, burst] = parts.map(Number);
  return { average, ...(peak !== undefined ? { peak } : {}), ...(burst !== undefined ? { burst } : {}) };
}

function tcmsg(w: MessageWriter, ifindex: number, handle: number, parent: number, info = 0): void {
  const b = Buffer.alloc(20);
  b.writeInt32LE(ifindex, 4);
  b.writeUInt32LE(handle >>> 0, 8);
  b.writeUInt32LE(parent >>> 0, 12);
  b.writeUInt32LE(info >>> 0, 16);
  w.bytes(b);
}

const indexOf = (dev: string | number, ctx: EncodeContext) => (typeof dev === 'number' ? dev : (ctx.known(dev) ?? ctx.index(dev)));
const needs = (dev: string | number) => (typeof dev === 'string' ? [dev] : []);

function request(
  op: string,
  dev: string | number,
  encode: (w: MessageWriter, ifindex: number) => void,
  type: number,
  flags = NLM_F_CREATE | NLM_F_EXCL,
): Request {
  return {
    op,
    dump: false,
    needs: needs(dev),
    netns: [],
    encode(ctx) {
      const w = new MessageWriter(type, flags, 160);
      encode(w, indexOf(dev, ctx));
      return w.finish();
    },
  };
}

/**
 * The HTB root qdisc whose default class is 1:1.
 * Equivalent to: tc qdisc add dev DEV root handle 1: htb default 1
 */
export function htbQdisc(dev: string | number): Request {
  return request(
    `qdisc add dev ${dev} root handle 1: htb default 1`,
    dev,
    (w, ix) => {
      tcmsg(w, ix, HTB_HANDLE, TC_H_ROOT);
      w.string(TCA_KIND, 'htb');
      const glob = Buffer.alloc(20);
      glob.writeUInt32LE(3, 0); // version
      glob.writeUInt32LE(10, 4); // rate2quantum
      glob.writeUInt32LE(1, 8); // defcls: 1:1
      w.nest(TCA_OPTIONS, () => w.attr(TCA_HTB_INIT, glob));
    },
    RTM_NEWQDISC,
  );
}

function ratespec(bytesPerSec: number): Buffer {
  const b = Buffer.alloc(12);
  b[1] = TC_LINKLAYER_ETHERNET; // so the kernel needs no rate table
  b.writeUInt32LE(Math.min(bytesPerSec, 0xffffffff), 8);
  return b;
}

/**
 * Class 1:1 of the HTB: the average rate, the peak as its ceiling, the burst.
 * Equivalent to: tc class add dev DEV parent 1: classid 1:1 htb rate AVGkbps ceil PEAKkbps burst BURSTkb cburst BURSTkb
 */
export function htbClass(dev: string | number, rate: Rate): Request {
  const r = checkRate(rate, 'rate');
  const avg = r.average * 1000;
  const peak = r.peak * 1000;
  const burst = r.burst * 1024;
  const buffer = Math.min(0xffffffff, Math.ceil((burst / avg) * TICKS_PER_SEC));
  const cbuffer = Math.min(0xffffffff, Math.ceil((burst / peak) * TICKS_PER_SEC));
  return request(
    `class add dev ${dev} parent 1: classid 1:1 htb rate ${r.average}kbps ceil ${r.peak}kbps burst ${r.burst}kb`,
    dev,
    (w, ix) => {
      tcmsg(w, ix, HTB_CLASS, HTB_HANDLE);
      w.string(TCA_KIND, 'htb');
      const opt = Buffer.alloc(44);
      ratespec(avg).copy(opt, 0);
      ratespec(peak).copy(opt, 12);
      opt.writeUInt32LE(buffer, 24);
      opt.writeUInt32LE(cbuffer, 28);
      w.nest(TCA_OPTIONS, () => {
        w.attr(TCA_HTB_PARMS, opt);
        if (avg > 0xffffffff) w.attr(TCA_HTB_RATE64, u64(avg));
        if (peak > 0xffffffff) w.attr(TCA_HTB_CEIL64, u64(peak));
      });
    },
    RTM_NEWTCLASS,
  );
}

const u64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};

/**
 * The ingress qdisc of a port.
 * Equivalent to: tc qdisc add dev DEV handle ffff: ingress
 */
export function ingressQdisc(dev: string | number): Request {
  return request(
    `qdisc add dev ${dev} handle ffff: ingress`,
    dev,
    (w, ix) => {
      tcmsg(w, ix, INGRESS_HANDLE, TC_H_INGRESS);
      w.string(TCA_KIND, 'ingress');
    },
    RTM_NEWQDISC,
  );
}

/**
 * Everything arriving on `dev` redirected to the egress of `to` (an ifb).
 * Equivalent to: tc filter add dev DEV parent ffff: protocol all prio 1 u32 match u32 0 0 action mirred egress redirect dev TO
 */
export function redirectFilter(dev: string | number, to: string | number): Request {
  return {
    op: `filter add dev ${dev} parent ffff: protocol all u32 match u32 0 0 action mirred egress redirect dev ${to}`,
    dump: false,
    needs: [...needs(dev), ...needs(to)],
    netns: [],
    encode(ctx) {
      const w = new MessageWriter(RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, 200);
      const proto = ((ETH_P_ALL & 0xff) << 8) | (ETH_P_ALL >> 8); // htons
      tcmsg(w, indexOf(dev, ctx), 0, INGRESS_HANDLE, (1 << 16) | proto);
      w.string(TCA_KIND, 'u32');
      const sel = Buffer.alloc(16 + 16); // tc_u32_sel and one key: mask 0, value 0 (match all)
      sel[0] = TC_U32_TERMINAL;
      sel[2] = 1; // nkeys
      const mirred = Buffer.alloc(28);
      mirred.writeInt32LE(TC_ACT_STOLEN, 8);
      mirred.writeInt32LE(TCA_EGRESS_REDIR, 20);
      mirred.writeUInt32LE(indexOf(to, ctx), 24);
      w.nest(TCA_OPTIONS, () => {
        w.attr(TCA_U32_SEL, sel);
        w.nest(TCA_U32_ACT, () =>
          w.nest(1, () => {
            w.string(TCA_ACT_KIND, 'mirred');
            w.nest(TCA_ACT_OPTIONS, () => w.attr(TCA_MIRRED_PARMS, mirred));
          }),
        );
      });
      return w.finish();
    },
  };
}

/**
 * Removes the root or the ingress qdisc of a port (with its classes and filters).
 * Equivalent to: tc qdisc del dev DEV root | tc qdisc del dev DEV ingress
 */
export function qdiscDelete(dev: string | number, which: 'root' | 'ingress'): Request {
  return request(
    `qdisc del dev ${dev} ${which}`,
    dev,
    (w, ix) => tcmsg(w, ix, which === 'root' ? 0 : INGRESS_HANDLE, which === 'root' ? TC_H_ROOT : TC_H_INGRESS),
    RTM_DELQDISC,
    0,
  );
}

/** Every qdisc (tc filters by device itself: callers do). Equivalent to: tc qdisc show */
export function qdiscDump(): Request {
  return { op: 'qdisc show', dump: true, needs: [], netns: [], encode: () => dumpMsg(RTM_GETQDISC, 0) };
}

/** The classes of a device. Equivalent to: tc class show dev DEV */
export function classDump(dev: string | number): Request {
  return {
    op: `class show dev ${dev}`,
    dump: true,
    needs: needs(dev),
    netns: [],
    encode: (ctx) => dumpMsg(RTM_GETTCLASS, indexOf(dev, ctx)),
  };
}

function dumpMsg(type: number, ifindex: number): Buffer {
  const w = new MessageWriter(type, NLM_F_DUMP, 40);
  tcmsg(w, ifindex, 0, 0);
  return w.finish();
}

export interface Qdisc {
  index: number;
  handle: number;
  parent: number;
  kind: string;
}

export interface TcClass extends Qdisc {
  /** HTB: bytes per second, and the buffers in psched ticks (64 ns). */
  rate?: number;
  ceil?: number;
  buffer?: number;
  cbuffer?: number;
}

/** RTM_NEWQDISC or RTM_NEWTCLASS (tcmsg + TCA_*), with HTB's parameters decoded. */
export function decodeTc(msg: NetlinkMessage | Buffer): TcClass {
  const d = Buffer.isBuffer(msg) ? msg : msg.data;
  if (d.length < 20) throw new DecodeError(`${d.length} bytes where 20 are needed`, 0, 'tcmsg');
  const out: TcClass = { index: d.readInt32LE(4), handle: d.readUInt32LE(8), parent: d.readUInt32LE(12), kind: '' };
  let options: Buffer | undefined;
  eachAttr(
    d.subarray(20),
    (type, v) => {
      if (type === TCA_KIND) out.kind = cString(v);
      else if (type === TCA_OPTIONS) options = v;
    },
    (type) =>
      ['TCA_UNSPEC', 'TCA_KIND', 'TCA_OPTIONS', 'TCA_STATS', 'TCA_XSTATS', 'TCA_RATE', 'TCA_FCNT', 'TCA_STATS2', 'TCA_STAB'][type] ??
      `TCA_${type}`,
  );
  if (out.kind === 'htb' && options)
    eachAttr(
      options,
      (type, v) => {
        if (type === TCA_HTB_PARMS) {
          need(v, 44, 'TCA_HTB_PARMS');
          out.rate ??= v.readUInt32LE(8);
          out.ceil ??= v.readUInt32LE(20);
          out.buffer = v.readUInt32LE(24);
          out.cbuffer = v.readUInt32LE(28);
        } else if (type === TCA_HTB_RATE64) out.rate = Number(need(v, 8, 'TCA_HTB_RATE64').readBigUInt64LE(0));
        else if (type === TCA_HTB_CEIL64) out.ceil = Number(need(v, 8, 'TCA_HTB_CEIL64').readBigUInt64LE(0));
      },
      (type) => `TCA_HTB_${type}`,
    );
  return out;
}

/** A class's HTB parameters back in libvirt's units. */
export function rateOf(c: TcClass): Rate | undefined {
  if (c.rate === undefined || c.ceil === undefined || c.buffer === undefined) return undefined;
  return {
    average: Math.round(c.rate / 1000),
    peak: Math.round(c.ceil / 1000),
    burst: Math.round(((c.buffer / TICKS_PER_SEC) * c.rate) / 1024),
  };
}

export const TC = { TC_H_ROOT, TC_H_INGRESS, INGRESS_HANDLE, HTB_HANDLE, HTB_CLASS };
