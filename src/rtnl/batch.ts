/**
 * Many link operations at once, at the kernel's speed. Every operation is first built by the
 * one request builder of its kind (request.ts, kinds/tunspec.ts), which checks all of it: with
 * onError 'stop' or rollback, one invalid operation anywhere means not one byte is sent. Then
 * the requests are pipelined in order on the handle's socket (call order is wire order), names
 * are resolved once and then addressed by index, consecutive tap creations go to the addon in
 * one trip, runs of deletions use the kernel's batched unregister, and every operation gets its
 * own result. Encoding yields to the event loop every few hundred operations; the kernel's work
 * runs on the socket's own thread.
 */
import * as fs from 'fs';
import { HostwireError, ValidationError } from '../errors';
import { GROUP_DELETE_MIN, openNetnsFd, type Handle } from './handle';
import type { BridgeOptions } from './kinds/bridge';
import type { VethOptions } from './kinds/veth';
import { tunSpec, type TapOptions } from './kinds/tunspec';
import type { TunSpecNative } from '../native';
import {
  NO_CONTEXT,
  checkLinkChange,
  linkCreate,
  linkDelete,
  linkGet,
  linkSet,
  type EncodeContext,
  type LinkChange,
  type LinkCommon,
  type Request,
} from './request';
import type { NetlinkError } from './errors';
import { decodeLinkBrief, type Link } from './link';

export { GROUP_DELETE_MIN };

export type BatchOp =
  | { op: 'createTap'; name: string; options?: TapOptions }
  | { op: 'createBridge'; name: string; options?: BridgeOptions }
  | { op: 'createVeth'; name: string; peer: string; options?: VethOptions }
  | { op: 'createLink'; name: string; kind: string; options?: LinkCommon | object }
  | { op: 'setLink'; dev: string | number; change: LinkChange }
  | { op: 'delete'; dev: string | number };

export interface BatchOptions {
  /**
   * 'continue' (default): every operation runs, each gets its result. 'stop': operations not
   * yet sent when the first failure is seen are skipped (code ESKIPPED); ones already in flight
   * report their own results. With 'stop', an operation that fails its checks means nothing is
   * sent at all.
   */
  onError?: 'continue' | 'stop';
  /** After a failure, undo what succeeded, newest first (creations deleted, changes reverted). */
  rollback?: boolean;
  /**
   * Delete runs of devices with one batched unregister (default true): see Handle.deleteLinks.
   * Set false to delete one by one.
   */
  groupDelete?: boolean;
  /**
   * Send an RTM_GETLINK of a device just before each change of its master (default true). The
   * kernel's set-master and nomaster then run 2-2.4 times faster: see README, "Why a GETLINK
   * before a set-master".
   */
  prefetch?: boolean;
  /**
   * Report the ifindex of each link a creation made, in its result's `index` (default false:
   * taps always have it). An RTM_GETLINK of the name is queued right behind its RTM_NEWLINK, in
   * the same pipeline: one more request per creation, no more round trips.
   */
  indexes?: boolean;
}

export type BatchResult = { ok: true; index?: number } | { ok: false; error: Error };

export interface BatchReport {
  results: BatchResult[];
  failed: number;
  /** Rollback errors, if a rollback ran and some undo failed. */
  rollbackErrors: Error[];
  rolledBack: boolean;
}

/** An operation after its checks: what the send loop needs, nothing left to validate. */
type Built =
  | { kind: 'tap'; spec: TunSpecNative }
  | { kind: 'create'; req: Request; name: string; peer?: string }
  | { kind: 'set'; req: Request; dev: string | number; change: LinkChange }
  | { kind: 'delete'; req: Request; dev: string | number };

/**
 * Builds (and so checks) one operation; throws ValidationError. The one normaliser every batch
 * operation goes through, the same builders the Handle verbs use.
 */
export function buildOp(o: BatchOp, rollback = false): Built {
  if (o === null || typeof o !== 'object') throw new ValidationError('EINVALIDOP', 'a batch operation must be an object', 'op');
  switch (o.op) {
    case 'createTap':
      return { kind: 'tap', spec: tunSpec(o.name, o.options) };
    case 'createBridge':
      return { kind: 'create', req: linkCreate(o.name, 'bridge', o.options ?? {}), name: o.name };
    case 'createVeth':
      return { kind: 'create', req: linkCreate(o.name, 'veth', { ...o.options, peer: o.peer }), name: o.name, peer: o.peer };
    case 'createLink':
      return { kind: 'create', req: linkCreate(o.name, o.kind, o.options ?? {}), name: o.name };
    case 'setLink': {
      const req = linkSet(o.dev, o.change);
      return { kind: 'set', req, dev: o.dev, change: checkLinkChange(o.change) };
    }
    case 'delete':
      if (rollback) throw new ValidationError('EINVALIDOP', 'a delete cannot be rolled back', 'op');
      return { kind: 'delete', req: linkDelete(o.dev), dev: o.dev };
    default:
      throw new ValidationError('EINVALIDOP', `unknown batch operation '${(o as { op: string }).op}'`, 'op');
  }
}

/** Checks an operation without sending anything (throws ValidationError). */
export function checkOp(o: BatchOp): void {
  buildOp(o);
}

const skipped = () => new HostwireError('ESKIPPED', 'not run: an earlier operation failed');
/** Operations encoded between two yields to the event loop. */
const SLICE = 512;
const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

/**
 * Runs the operations; resolves with one result per operation (never rejects for an
 * operation's failure).
 * Equivalent to: ip -batch FILE (with per-line results, and optional rollback)
 */
export async function runBatch(h: Handle, ops: BatchOp[], options: BatchOptions = {}): Promise<BatchReport> {
  const stop = options.onError === 'stop';
  const prefetch = options.prefetch !== false;
  const results: Array<BatchResult | undefined> = Array.from({ length: ops.length }, () => undefined);
  let failed = false;

  // 1. Build every operation: with 'stop' or rollback, a bad one means nothing is sent.
  const built: Array<Built | undefined> = new Array(ops.length);
  for (let i = 0; i < ops.length; i++) {
    if (i % SLICE === SLICE - 1) await yieldToLoop();
    try {
      built[i] = buildOp(ops[i], options.rollback);
    } catch (e) {
      results[i] = { ok: false, error: e as Error };
      failed = true;
    }
  }
  if (failed && (stop || options.rollback)) {
    return { results: results.map((r) => r ?? { ok: false, error: skipped() }), failed: ops.length, rollbackErrors: [], rolledBack: false };
  }

  // 2. Send them in order.
  const index = new Map<string, number>(); // names resolved once
  const undo: Array<{ at: number; run: () => Promise<unknown> }> = [];
  let inflight = 0;
  let idle: (() => void) | undefined;
  const settle = () => (inflight === 0 ? Promise.resolve() : new Promise<void>((r) => (idle = r)));
  const done = () => {
    if (--inflight === 0 && idle) {
      const r = idle;
      idle = undefined;
      r();
    }
  };
  const fds = new Map<string, number>();
  const ctx: EncodeContext = {
    known: (n) => index.get(n),
    index: (n) => index.get(n) ?? NO_CONTEXT.index(n),
    netnsFd: (n) => {
      let fd = fds.get(n);
      if (fd === undefined) fds.set(n, (fd = openNetnsFd(n)));
      return fd;
    },
  };
  const sendOne = (i: number, req: Request) => {
    inflight++;
    h.queue(req, ctx, (err: NetlinkError | null) => {
      if (err) {
        results[i] = { ok: false, error: err };
        failed = true;
      } else results[i] = { ok: true };
      done();
    });
  };
  const resolve = async (name: string): Promise<void> => {
    if (index.has(name)) return;
    await settle(); // the name may be made by an earlier operation
    index.set(name, await h.indexOf(name));
  };
  const forget = (...names: Array<string | number | undefined>) => names.forEach((n) => typeof n === 'string' && index.delete(n));
  /** With 'stop': after an await, a failure may have come back; then operations from..to-1 are not sent. */
  const halted = (from: number, to: number): boolean => {
    if (!(failed && stop)) return false;
    for (let k = from; k < to; k++) results[k] = { ok: false, error: skipped() };
    return true;
  };

  try {
    for (let i = 0; i < ops.length; i++) {
      if (i % SLICE === SLICE - 1) await yieldToLoop();
      const b = built[i];
      if (!b) continue;
      if (failed && stop) await settle();
      if (failed && stop) {
        results[i] = { ok: false, error: skipped() };
        continue;
      }
      try {
        switch (b.kind) {
          case 'tap': {
            // The run of consecutive tap creations goes to the addon in one trip.
            let j = i;
            while (j < ops.length && built[j]?.kind === 'tap') j++;
            const run = built.slice(i, j) as Array<Extract<Built, { kind: 'tap' }>>;
            await settle();
            if (halted(i, j)) {
              i = j - 1;
              break;
            }
            const made = await h.createTunDevices(run.map((t) => t.spec));
            made.forEach((m, k) => {
              if (m instanceof Error) {
                results[i + k] = { ok: false, error: m };
                failed = true;
              } else {
                results[i + k] = { ok: true, index: m.index };
                index.set(m.name, m.index);
                m.queues.forEach((q) => q.close());
                undo.push({ at: i + k, run: () => h.deleteLink(m.index) });
              }
            });
            i = j - 1;
            break;
          }
          case 'create':
            for (const n of b.req.needs) if (!index.has(n)) await resolve(n); // no await when known: one tick, one sendmsg
            if (halted(i, i + 1)) break;
            forget(b.name, b.peer);
            sendOne(i, b.req);
            if (options.indexes) {
              // Answered after the creation's ack (replies come in request order), so results[i] is set by then.
              const at = i;
              inflight++;
              h.queue(linkGet(b.name), ctx, (err, msgs) => {
                const r = results[at];
                if (!err && r?.ok && msgs[0]) {
                  try {
                    results[at] = { ok: true, index: decodeLinkBrief(msgs[0]).index };
                  } catch {
                    // A reply that does not decode leaves the result without its index.
                  }
                }
                done();
              });
            }
            undo.push({ at: i, run: () => h.deleteLink(b.name) });
            break;
          case 'set': {
            const { dev, change } = b;
            for (const n of b.req.needs) if (!index.has(n)) await resolve(n); // no await when known: one tick, one sendmsg
            if (typeof dev === 'string' && (change.netns !== undefined || options.rollback) && !index.has(dev)) await resolve(dev);
            if (options.rollback) {
              await settle();
              const before = await h.getLink(typeof dev === 'string' ? (index.get(dev) as number) : dev);
              undo.push({ at: i, run: () => h.setLink(before.index, revert(before, change)) });
            }
            if (halted(i, i + 1)) break;
            const known = typeof dev === 'string' ? index.get(dev) : dev;
            // A GETLINK of the device just before its master changes (see BatchOptions.prefetch).
            if (prefetch && change.master !== undefined) {
              inflight++;
              h.queue(linkGet(known ?? dev), ctx, done);
            }
            sendOne(i, b.req); // encoded now, with the names as they are before it
            if (change.name !== undefined || change.netns !== undefined) forget(dev);
            if (change.name !== undefined && known !== undefined && change.netns === undefined) index.set(change.name, known);
            break;
          }
          case 'delete': {
            // A run of deletions goes through the kernel's batched unregister when it can.
            let j = i;
            while (j < ops.length && built[j]?.kind === 'delete') j++;
            const run = built.slice(i, j) as Array<Extract<Built, { kind: 'delete' }>>;
            if (run.length >= GROUP_DELETE_MIN && options.groupDelete !== false) {
              const devs = run.map((d) => (typeof d.dev === 'string' && index.has(d.dev) ? (index.get(d.dev) as number) : d.dev));
              run.forEach((d) => forget(d.dev));
              await settle();
              if (halted(i, j)) {
                i = j - 1;
                break;
              }
              const errs = await h.deleteLinks(devs);
              errs.forEach((e, k) => {
                results[i + k] = e ? { ok: false, error: e } : { ok: true };
                if (e) failed = true;
              });
              i = j - 1;
            } else {
              sendOne(i, b.req);
              forget(b.dev);
            }
            break;
          }
        }
      } catch (e) {
        results[i] = { ok: false, error: e as Error };
        failed = true;
      }
    }
    await settle();
  } finally {
    for (const fd of fds.values()) fs.closeSync(fd);
  }

  const final = results.map((r) => r ?? { ok: false as const, error: skipped() });
  const report: BatchReport = { results: final, failed: final.filter((r) => !r.ok).length, rollbackErrors: [], rolledBack: false };
  if (options.rollback && report.failed) {
    report.rolledBack = true;
    for (const u of undo.reverse()) {
      if (!final[u.at].ok) continue;
      try {
        await u.run();
      } catch (e) {
        report.rollbackErrors.push(e as Error);
      }
    }
  }
  return report;
}

/** The change that puts back what `change` altered on `before`. */
function revert(before: Link, change: LinkChange): LinkChange {
  const back: LinkChange = {};
  if (change.up !== undefined) back.up = before.up;
  if (change.mtu !== undefined) back.mtu = before.mtu;
  if (change.address !== undefined && before.address) back.address = before.address;
  if (change.name !== undefined) back.name = before.name;
  if (change.master !== undefined) back.master = before.master ?? null;
  if (change.alias !== undefined) back.alias = before.alias ?? '';
  if (change.group !== undefined) back.group = before.group ?? 0;
  return back;
}
