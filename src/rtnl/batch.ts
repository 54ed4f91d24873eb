/**
 * Many link operations at once, at the kernel's speed. Every operation is first built by the
 * one request builder of its kind (request.ts, kinds/tunspec.ts), which checks all of it: with
 * onError 'stop' or rollback, one invalid operation anywhere means not one byte is sent. Then
 * the requests are pipelined in order on the handle's socket (call order is wire order), names
 * are resolved once and then addressed by index, consecutive tap creations go to the addon in
 * one trip, runs of deletions use the kernel's batched unregister, and every operation gets its
 * own result. Encoding yields to the event loop every few hundred operations; the kernel's work
 * runs on the socket's own thread.
 *
 * With rollback, every operation must be undoable: a change is undone with what it replaced
 * (read with a GETLINK just before it, unless the caller gives it as `revert`), an address or
 * route added is removed and one removed is added back, and a delete is undone by the
 * operations the caller gives as its `restore` (a delete without them is refused: a device
 * cannot be read back once gone). Creations are undone by deleting them, runs of them with the
 * batched unregister.
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
  OWNER_MARK,
  checkLinkChange,
  describeChange,
  linkCreate,
  linkDelete,
  linkGet,
  linkSet,
  linkSetType,
  type EncodeContext,
  type LinkChange,
  type LinkCommon,
  type Request,
} from './request';
import { addressAdd, addressDelete, type AddressSpec } from './addr';
import { routeAdd, routeDelete, type RouteSpec } from './route';
import { getKind } from './kinds';
import type { NetlinkError } from './errors';
import { decodeLinkBrief, type Link } from './link';
import { neighbourRequest, type NeighVerb, type NeighbourSpec } from './neigh';

export { GROUP_DELETE_MIN };

/** What a tun device made with createLink may carry besides TapOptions: set right after it is made. */
export type TunLinkOptions = TapOptions & Pick<LinkCommon, 'master' | 'up' | 'alias'>;

export type BatchOp =
  | { op: 'createTap'; name: string; options?: TapOptions }
  | { op: 'createBridge'; name: string; options?: BridgeOptions }
  | { op: 'createVeth'; name: string; peer: string; options?: VethOptions }
  /**
   * A link of any registered kind. Kind 'tun' is made through /dev/net/tun (TunLinkOptions: its
   * master, up and alias follow in one RTM_SETLINK, which shares the operation's result).
   */
  | { op: 'createLink'; name: string; kind: string; options?: LinkCommon | TunLinkOptions | object }
  /** `revert`: the change that undoes this one, when the caller knows it (spares a GETLINK under rollback). */
  | { op: 'setLink'; dev: string | number; change: LinkChange; revert?: LinkChange }
  /** Kind options changed in place (ip link set DEV type KIND ...); `revert` as for setLink. */
  | { op: 'setType'; dev: string | number; kind: string; options: object; revert?: object }
  /** `restore`: the operations that make the device again as it was; a delete needs them under rollback. */
  | { op: 'delete'; dev: string | number; restore?: BatchOp[] }
  | { op: 'addAddress'; dev: string | number; address: AddressSpec | string }
  /** `address` in full (broadcast, peer, label), so that a rollback adds back what was there. */
  | { op: 'deleteAddress'; dev: string | number; address: AddressSpec | string }
  | { op: 'addRoute'; route: RouteSpec }
  /** `route` in full (protocol, scope, type), so that a rollback adds back what was there. */
  | { op: 'deleteRoute'; route: RouteSpec }
  | { op: 'neigh'; verb: Exclude<NeighVerb, 'append'>; dev: string | number; spec: Omit<NeighbourSpec, 'fdb'> }
  | { op: 'fdb'; verb: NeighVerb; dev: string | number; spec: Omit<NeighbourSpec, 'fdb'> };

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
   * Mark every link the batch creates as hostwire's (IFLA_IFALIAS OWNER_MARK, unless the
   * operation gives an alias of its own), so that what a batch killed half-way left can be found
   * and removed (`hostwire link show owned`, `hostwire link prune`). One RTM_SETLINK more per
   * creation, pipelined. The CLI marks; the library does not unless asked.
   */
  mark?: boolean;
  /**
   * Report the ifindex of each link a creation made, in its result's `index` (default false:
   * taps always have it). An RTM_GETLINK of the name is queued right behind its RTM_NEWLINK, in
   * the same pipeline: one more request per creation, no more round trips.
   */
  indexes?: boolean;
}

export type BatchResult = { ok: true; index?: number } | { ok: false; error: Error };

/** The result of an operation that succeeded and has nothing to report: one shared, frozen object. */
const OK: BatchResult = Object.freeze({ ok: true });

export interface BatchReport {
  results: BatchResult[];
  failed: number;
  /** Rollback errors, if a rollback ran and some undo failed. */
  rollbackErrors: Error[];
  rolledBack: boolean;
}

/** An operation after its checks: what the send loop needs, nothing left to validate. */
type Built =
  | { kind: 'tap'; spec: TunSpecNative; then?: LinkChange }
  /** `alias`: set by an RTM_SETLINK right after (the kernel ignores IFLA_IFALIAS in a create). */
  | { kind: 'create'; req: Request; name: string; peer?: string; alias?: string }
  | { kind: 'set'; req: Request; dev: string | number; change: LinkChange; revert?: LinkChange }
  | { kind: 'setType'; req: Request; dev: string | number; type: string; options: object; revert?: object }
  | { kind: 'delete'; req: Request; dev: string | number; restore?: BatchOp[] }
  /** An address, route, neighbour or FDB entry: `undo` is the request that takes it back (none for neighbours and FDB entries). */
  | { kind: 'other'; req: Request; undo?: () => Request };

/** A tun device from createLink: TapOptions (alias included) for the tun worker, master/up for the RTM_SETLINK after it. */
function tunLink(name: string, options: TunLinkOptions = {}): Built {
  if (options === null || typeof options !== 'object') throw new ValidationError('EINVALIDOPTION', 'options: not an object', 'options');
  const { master, up, ...tap } = options;
  const then: LinkChange = {};
  if (master !== undefined) then.master = master;
  if (up !== undefined) then.up = up;
  const spec = tunSpec(name, tap);
  return Object.keys(then).length ? { kind: 'tap', spec, then: checkLinkChange(then) } : { kind: 'tap', spec };
}

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
      return created({ kind: 'create', req: linkCreate(o.name, 'bridge', o.options ?? {}), name: o.name }, o.options);
    case 'createVeth':
      return created(
        { kind: 'create', req: linkCreate(o.name, 'veth', { ...o.options, peer: o.peer }), name: o.name, peer: o.peer },
        o.options,
      );
    case 'createLink':
      if (o.kind === 'tun') return tunLink(o.name, o.options as TunLinkOptions);
      return created({ kind: 'create', req: linkCreate(o.name, o.kind, o.options ?? {}), name: o.name }, o.options);
    case 'setLink': {
      const req = linkSet(o.dev, o.change);
      const revert = o.revert === undefined ? undefined : checkLinkChange(o.revert);
      return { kind: 'set', req, dev: o.dev, change: req.change, revert };
    }
    case 'setType': {
      const req = linkSetType(o.dev, o.kind, o.options);
      if (o.revert !== undefined) linkSetType(o.dev, o.kind, o.revert);
      return { kind: 'setType', req, dev: o.dev, type: o.kind, options: o.options, revert: o.revert };
    }
    case 'delete':
      if (rollback && !o.restore)
        throw new ValidationError('EINVALIDOP', 'a delete cannot be rolled back without the operations that restore the device', 'op');
      if (o.restore !== undefined) {
        if (!Array.isArray(o.restore)) throw new ValidationError('EINVALIDOP', 'restore: a list of operations', 'restore');
        o.restore.forEach((r) => buildOp(r));
      }
      return { kind: 'delete', req: linkDelete(o.dev), dev: o.dev, restore: o.restore };
    case 'addAddress': {
      const dev = o.dev;
      const cidr = typeof o.address === 'string' ? o.address : o.address?.cidr;
      return { kind: 'other', req: addressAdd(dev, o.address), undo: () => addressDelete(dev, cidr) };
    }
    case 'deleteAddress': {
      const { dev, address } = o;
      const cidr = typeof address === 'string' ? address : address?.cidr;
      const req = addressDelete(dev, cidr);
      addressAdd(dev, address); // checked now: the rollback adds it back
      return { kind: 'other', req, undo: () => addressAdd(dev, address) };
    }
    case 'addRoute': {
      const route = o.route;
      const req = routeAdd(route);
      return { kind: 'other', req, undo: () => routeDelete(route) };
    }
    case 'deleteRoute': {
      const route = o.route;
      const req = routeDelete(route);
      routeAdd(route); // checked now: the rollback adds it back
      return { kind: 'other', req, undo: () => routeAdd(route) };
    }
    case 'neigh':
    case 'fdb':
      if (rollback) throw new ValidationError('EINVALIDOP', `a ${o.op} change cannot be rolled back`, 'op');
      return { kind: 'other', req: neighbourRequest(o.verb, o.dev, { ...o.spec, fdb: o.op === 'fdb' }) };
    default:
      throw new ValidationError('EINVALIDOP', `unknown batch operation '${(o as { op: string }).op}'`, 'op');
  }
}

/** A create, with the alias its options give (checked by linkCreate) for the RTM_SETLINK after it. */
function created(b: Extract<Built, { kind: 'create' }>, options?: object): Built {
  const alias = (options as LinkCommon | undefined)?.alias;
  return alias === undefined ? b : { ...b, alias };
}

/** A creation with hostwire's mark as its alias (unless it has one); other operations as they are. */
function marked(o: BatchOp): BatchOp {
  if (o === null || typeof o !== 'object') return o;
  const withMark = (options: object | undefined) => ({ ...options, alias: (options as LinkCommon | undefined)?.alias ?? OWNER_MARK });
  switch (o.op) {
    case 'createTap':
      return { op: 'createTap', name: o.name, options: withMark(o.options) as TapOptions };
    case 'createBridge':
    case 'createVeth':
    case 'createLink':
      return { ...o, options: withMark(o.options) } as BatchOp;
    default:
      return o;
  }
}

const tapSpec = (t: Extract<Built, { kind: 'tap' }>) => t.spec;

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
  const results: Array<BatchResult | undefined> = Array.from({ length: ops.length }, () => undefined);
  const report: BatchReport = { results: [], failed: 0, rollbackErrors: [], rolledBack: false };
  let failed = false;

  // 1. Build every operation: with 'stop' or rollback, a bad one means nothing is sent.
  const built: Array<Built | undefined> = new Array(ops.length);
  for (let i = 0; i < ops.length; i++) {
    if (i % SLICE === SLICE - 1) await yieldToLoop();
    try {
      built[i] = buildOp(options.mark ? marked(ops[i]) : ops[i], options.rollback);
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
  // What undoes each operation that succeeded (`at`; `always`: whatever its result says, as a
  // tap made before its RTM_SETLINK failed; `made`: whether the link was made, whatever followed). `del`: a plain delete of what the operation made,
  // so that runs of them go through the batched unregister.
  const undo: Array<{ at: number; always?: boolean; made?: () => boolean; del?: number | string; run: () => Promise<unknown> }> = [];
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
  // One callback for every plain send, told its operation by the tag: no closure per operation.
  const replied = (err: NetlinkError | null, _msgs: unknown, i: number) => {
    if (err) {
      results[i] = { ok: false, error: err };
      failed = true;
    } else results[i] = OK;
    done();
  };
  const sendOne = (i: number, req: Request) => {
    inflight++;
    h.queue(req, ctx, replied, i);
  };
  const resolve = async (name: string): Promise<void> => {
    if (index.has(name)) return;
    await settle(); // the name may be made by an earlier operation
    index.set(name, await h.indexOf(name));
  };
  /** The first name a request needs that is not resolved yet (indexed: no iterator per operation). */
  const unresolved = (needs: readonly string[]): string | undefined => {
    for (let k = 0; k < needs.length; k++) if (!index.has(needs[k])) return needs[k];
    return undefined;
  };
  const forget = (...names: Array<string | number | undefined>) => names.forEach((n) => typeof n === 'string' && index.delete(n));
  // The closures the send loop hands out come from these, made with the loop's values as
  // arguments: a closure written in the loop's body would capture its per-iteration variables,
  // and V8 would then make a context object for every iteration, of every operation.
  const deleter = (dev: string | number) => () => h.deleteLink(dev);
  const setter = (dev: string | number, change: LinkChange) => () => h.setLink(dev, change);
  const sender = (req: () => Request) => () => h.send(req());
  const restorer = (d: Extract<Built, { kind: 'delete' }>) => () => restoreDeleted(h, d.restore as BatchOp[], report);
  /** The reply to a tap's RTM_SETLINK (master, up, alias): a failure is the tap's operation's. */
  const tapThenReplied = (at: number) => (err: NetlinkError | null) => {
    if (err) {
      results[at] = { ok: false, error: err };
      failed = true;
    }
    done();
  };
  /** A creation whose alias goes in an RTM_SETLINK once the link is known to be this operation's. */
  const createAliased = (at: number, b: Extract<Built, { kind: 'create' }>, alias: string) => {
    // A create that fails with EEXIST must never mark someone else's device; a failure of the
    // alias is the operation's, and the link it made is still undone.
    let made = false;
    inflight++;
    h.queue(b.req, ctx, (err: NetlinkError | null) => {
      made = !err;
      results[at] = err ? { ok: false, error: err } : OK;
      if (err) failed = true;
      else {
        inflight++;
        h.queue(linkSet(b.name, { alias }), ctx, (e: NetlinkError | null) => {
          // ENODEV: a later operation of this batch already renamed, moved or deleted
          // the link (pipelined ahead of this alias): the create itself stands.
          if (e && !(e.code === 'ENODEV' && takenLater(ops, at, b.name))) {
            results[at] = { ok: false, error: e };
            failed = true;
          }
          done();
        });
      }
      done();
    });
    undo.push({ at, made: () => made, del: b.name, run: deleter(b.name) });
  };
  /** The ifindex of what the creation at `at` made, read right behind it (options.indexes). */
  const queueIndex = (at: number, name: string) => {
    // Answered after the creation's ack (replies come in request order), so results[at] is set by then.
    inflight++;
    h.queue(linkGet(name), ctx, (err, msgs) => {
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
  };
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
            const made = await h.createTunDevices(run.map(tapSpec));
            for (let k = 0; k < made.length; k++) {
              const m = made[k];
              if (m instanceof Error) {
                results[i + k] = { ok: false, error: m };
                failed = true;
              } else {
                results[i + k] = { ok: true, index: m.index };
                index.set(m.name, m.index);
                for (const q of m.queues) q.close();
                undo.push({ at: i + k, always: true, del: m.index, run: deleter(m.index) });
              }
            }
            // What the tun driver cannot set when it makes the device (master, up, alias), pipelined.
            const first = i;
            i = j - 1;
            for (let k = 0; k < run.length; k++) {
              const m = made[k];
              const then = run[k].then;
              if (!then || m instanceof Error) continue;
              const req = linkSet(m.index, then, describeChange(m.name, then));
              try {
                for (let n = unresolved(req.needs); n !== undefined; n = unresolved(req.needs)) await resolve(n);
              } catch (e) {
                results[first + k] = { ok: false, error: e as Error };
                failed = true;
                continue;
              }
              inflight++;
              h.queue(req, ctx, tapThenReplied(first + k));
            }
            break;
          }
          case 'create':
            // No await when known: one tick, one sendmsg.
            for (let n = unresolved(b.req.needs); n !== undefined; n = unresolved(b.req.needs)) await resolve(n);
            if (halted(i, i + 1)) break;
            forget(b.name, b.peer);
            if (b.alias === undefined) {
              sendOne(i, b.req);
              undo.push({ at: i, del: b.name, run: deleter(b.name) });
            } else createAliased(i, b, b.alias);
            if (options.indexes) queueIndex(i, b.name);
            break;
          case 'set': {
            const { dev, change } = b;
            // No await when known: one tick, one sendmsg.
            for (let n = unresolved(b.req.needs); n !== undefined; n = unresolved(b.req.needs)) await resolve(n);
            if (typeof dev === 'string' && (change.netns !== undefined || (options.rollback && !b.revert)) && !index.has(dev))
              await resolve(dev);
            if (options.rollback && b.revert) {
              const at = typeof dev === 'string' ? (index.get(dev) ?? dev) : dev;
              if (Object.keys(b.revert).length) undo.push({ at: i, run: setter(at, b.revert) });
            } else if (options.rollback) {
              await settle();
              const before = await h.getLink(typeof dev === 'string' ? (index.get(dev) as number) : dev);
              undo.push({ at: i, run: setter(before.index, revert(before, change)) });
            }
            if (halted(i, i + 1)) break;
            const known = typeof dev === 'string' ? index.get(dev) : dev;
            sendOne(i, b.req); // encoded now, with the names as they are before it
            if (change.name !== undefined || change.netns !== undefined) forget(dev);
            if (change.name !== undefined && known !== undefined && change.netns === undefined) index.set(change.name, known);
            break;
          }
          case 'setType': {
            if (options.rollback) {
              let back = b.revert;
              const at = typeof b.dev === 'string' ? (index.get(b.dev) ?? b.dev) : b.dev;
              if (!back) {
                await settle();
                const was = getKind(b.type)?.readOptions?.(await h.getLink(at), () => undefined) ?? {};
                back = Object.fromEntries(Object.keys(b.options).flatMap((k) => (k in was ? [[k, was[k]]] : [])));
              }
              const req = linkSetType(at, b.type, back);
              if (Object.keys(back).length) undo.push({ at: i, run: sender(() => req) });
            }
            sendOne(i, b.req);
            break;
          }
          case 'other':
            for (let n = unresolved(b.req.needs); n !== undefined; n = unresolved(b.req.needs)) await resolve(n);
            sendOne(i, b.req);
            if (options.rollback && b.undo) undo.push({ at: i, run: sender(b.undo) });
            break;
          case 'delete': {
            // A run of deletions goes through the kernel's batched unregister when it can.
            let j = i;
            while (j < ops.length && built[j]?.kind === 'delete') j++;
            const run = built.slice(i, j) as Array<Extract<Built, { kind: 'delete' }>>;
            if (run.length >= GROUP_DELETE_MIN && options.groupDelete !== false) {
              const devs: Array<string | number> = [];
              for (let k = 0; k < run.length; k++) {
                const d = run[k];
                if (options.rollback) undo.push({ at: i + k, run: restorer(d) });
                devs.push(typeof d.dev === 'string' && index.has(d.dev) ? (index.get(d.dev) as number) : d.dev);
                forget(d.dev);
              }
              await settle();
              if (halted(i, j)) {
                i = j - 1;
                break;
              }
              const errs = await h.deleteLinks(devs);
              for (let k = 0; k < errs.length; k++) {
                const e = errs[k];
                results[i + k] = e ? { ok: false, error: e } : OK;
                if (e) failed = true;
              }
              i = j - 1;
            } else {
              if (options.rollback) undo.push({ at: i, run: restorer(b) });
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

  await settleLostReplies(h, built, results);
  const final = results.map((r) => r ?? { ok: false as const, error: skipped() });
  report.results = final;
  report.failed = final.filter((r) => !r.ok).length;
  if (options.rollback && report.failed) {
    report.rolledBack = true;
    const todo = undo.reverse().filter((u) => u.always || (u.made ? u.made() : final[u.at].ok));
    for (let k = 0; k < todo.length; k++) {
      // A run of deletions of what the batch made: one batched unregister.
      let j = k;
      while (j < todo.length && todo[j].del !== undefined) j++;
      if (j - k >= GROUP_DELETE_MIN) {
        const errs = await h.deleteLinks(todo.slice(k, j).map((u) => u.del as string | number));
        for (const e of errs) if (e) report.rollbackErrors.push(e);
        k = j - 1;
        continue;
      }
      try {
        await todo[k].run();
      } catch (e) {
        report.rollbackErrors.push(e as Error);
      }
    }
  }
  return report;
}

/**
 * A request whose reply the kernel dropped (ENOBUFS: the receive queue overflowed) may or may
 * not have been carried out. One dump settles it: a creation is ok when the link is there with
 * its kind, a delete when it is gone, a change when the link shows it. Otherwise the result
 * stays an ENOBUFS error, now meaning "not in effect". So a result is ok exactly when the kernel
 * state has it. (Neighbour and FDB changes are left as ENOBUFS: unknown.)
 */
async function settleLostReplies(h: Handle, built: Array<Built | undefined>, results: Array<BatchResult | undefined>): Promise<void> {
  const lost: number[] = [];
  for (let i = 0; i < results.length; i++) {
    const r = results[i];
    if (r && !r.ok && (r.error as { code?: string }).code === 'ENOBUFS' && built[i]) lost.push(i);
  }
  if (!lost.length) return;
  let links: Link[];
  try {
    links = await h.listLinks();
  } catch {
    return; // still overflowing, or worse: the results stay as they are
  }
  const byName = new Map(links.map((l) => [l.name, l]));
  const byIndex = new Map(links.map((l) => [l.index, l]));
  const find = (dev: string | number) => (typeof dev === 'number' ? byIndex.get(dev) : byName.get(dev));
  for (const i of lost) {
    const b = built[i] as Built;
    let done = false;
    if (b.kind === 'create') done = byName.has(b.name);
    else if (b.kind === 'tap') done = byName.has(b.spec.name);
    else if (b.kind === 'delete') done = !find(b.dev);
    else if (b.kind === 'set') {
      const c = b.change;
      const l = c.name !== undefined ? byName.get(c.name) : find(b.dev);
      const master = typeof c.master === 'string' ? byName.get(c.master)?.index : c.master;
      done =
        !!l &&
        c.netns === undefined &&
        (c.up === undefined || l.up === c.up) &&
        (c.mtu === undefined || l.mtu === c.mtu) &&
        (c.address === undefined || l.address === c.address) &&
        (c.master === undefined || (c.master === null ? l.master === null : l.master === master)) &&
        (c.alias === undefined || (l.alias ?? '') === c.alias) &&
        (c.group === undefined || (l.group ?? 0) === c.group);
    }
    if (done) results[i] = OK;
  }
}

/** Whether an operation after `at` deletes, renames or moves away the link named `name`. */
function takenLater(ops: BatchOp[], at: number, name: string): boolean {
  for (let j = at + 1; j < ops.length; j++) {
    const o = ops[j];
    if (o.op === 'delete' && o.dev === name) return true;
    if (o.op === 'setLink' && o.dev === name && (o.change.name !== undefined || o.change.netns !== undefined)) return true;
  }
  return false;
}

/** Undoes a delete: the caller's operations that make the device again, as a batch of their own. */
async function restoreDeleted(h: Handle, restore: BatchOp[], report: BatchReport): Promise<void> {
  const r = await runBatch(h, restore);
  for (const x of r.results) if (!x.ok) report.rollbackErrors.push(x.error);
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
