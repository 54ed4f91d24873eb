/**
 * Many link operations at once, at the kernel's speed: requests are pipelined in order on the
 * handle's socket (the kernel runs them in that order; every Handle verb given indexes queues
 * its request synchronously, so call order is wire order), names are resolved once and then
 * addressed by index, consecutive tap creations go to the addon in one trip, and every
 * operation gets its own result.
 */
import { HostwireError, ValidationError } from '../errors';
import type { Handle, LinkChange, VethOptions } from './handle';
import type { BridgeOptions } from './kinds/bridge';
import { tunSpec, type TapOptions } from './kinds/tunspec';
import { createTunDevices } from './tap';
import { deleteMany } from './bulk';
import { checkDev, checkIfName, checkMac, checkMtu, checkNetnsName } from './validate';
import type { Link } from './link';

export type BatchOp =
  | { op: 'createTap'; name: string; options?: TapOptions }
  | { op: 'createBridge'; name: string; options?: BridgeOptions }
  | { op: 'createVeth'; name: string; peer: string; options?: VethOptions }
  | { op: 'setLink'; dev: string | number; change: LinkChange }
  | { op: 'delete'; dev: string | number };

export interface BatchOptions {
  /**
   * 'continue' (default): every operation runs, each gets its result. 'stop': operations not
   * yet sent when the first failure is seen are skipped (code ESKIPPED); ones already in flight
   * report their own results.
   */
  onError?: 'continue' | 'stop';
  /** After a failure, undo what succeeded, newest first (creations deleted, changes reverted). */
  rollback?: boolean;
  /**
   * Delete runs of devices with one batched unregister (default true): see deleteMany. Set
   * false to delete one by one.
   */
  groupDelete?: boolean;
}

/** Runs of deletions at least this long use the batched unregister. */
export const GROUP_DELETE_MIN = 4;

export type BatchResult = { ok: true; index?: number } | { ok: false; error: Error };

export interface BatchReport {
  results: BatchResult[];
  failed: number;
  /** Rollback errors, if a rollback ran and some undo failed. */
  rollbackErrors: Error[];
  rolledBack: boolean;
}

/** Checks an operation without sending anything (throws ValidationError). */
export function checkOp(o: BatchOp): void {
  switch (o.op) {
    case 'createTap':
      tunSpec(o.name, o.options);
      return;
    case 'createBridge':
      checkIfName(o.name);
      if (o.options?.mtu !== undefined) checkMtu(o.options.mtu);
      if (o.options?.address !== undefined) checkMac(o.options.address);
      return;
    case 'createVeth':
      checkIfName(o.name);
      checkIfName(o.peer, 'peer');
      if (o.options?.peerNetns !== undefined) checkNetnsName(o.options.peerNetns);
      return;
    case 'setLink': {
      checkDev(o.dev);
      const c = o.change;
      if (c.mtu !== undefined) checkMtu(c.mtu);
      if (c.address !== undefined) checkMac(c.address);
      if (c.name !== undefined) checkIfName(c.name, 'name');
      if (c.master !== undefined && c.master !== null) checkDev(c.master, 'master');
      if (c.netns !== undefined) checkNetnsName(c.netns);
      return;
    }
    case 'delete':
      checkDev(o.dev);
      return;
    default:
      throw new ValidationError('EINVALIDOP', `unknown batch operation '${(o as { op: string }).op}'`, 'op');
  }
}

const skipped = () => new HostwireError('ESKIPPED', 'not run: an earlier operation failed');

/**
 * Runs the operations; resolves with one result per operation (never rejects for an
 * operation's failure).
 * Equivalent to: ip -batch FILE (with per-line results, and optional rollback)
 */
export async function runBatch(h: Handle, ops: BatchOp[], options: BatchOptions = {}): Promise<BatchReport> {
  const stop = options.onError === 'stop';
  const results: Array<BatchResult | undefined> = Array.from({ length: ops.length }, () => undefined);
  let failed = false;
  // Validate everything first: with 'stop' or rollback, a bad line means nothing is sent.
  ops.forEach((o, i) => {
    try {
      checkOp(o);
      if (options.rollback && o.op === 'delete') throw new ValidationError('EINVALIDOP', 'a delete cannot be rolled back', 'op');
    } catch (e) {
      results[i] = { ok: false, error: e as Error };
      failed = true;
    }
  });
  if (failed && (stop || options.rollback)) {
    return { results: results.map((r) => r ?? { ok: false, error: skipped() }), failed: ops.length, rollbackErrors: [], rolledBack: false };
  }

  const index = new Map<string, number>(); // names resolved once
  const inflight: Promise<void>[] = [];
  const undo: Array<{ at: number; run: () => Promise<unknown> }> = [];
  const settle = async () => {
    await Promise.all(inflight.splice(0));
  };
  const record = (i: number, p: Promise<number | void>) => {
    inflight.push(
      p.then(
        (ix) => {
          results[i] = typeof ix === 'number' ? { ok: true, index: ix } : { ok: true };
        },
        (e: Error) => {
          results[i] = { ok: false, error: e };
          failed = true;
        },
      ),
    );
  };
  const resolve = async (dev: string | number): Promise<number> => {
    if (typeof dev === 'number') return dev;
    const known = index.get(dev);
    if (known !== undefined) return known;
    await settle(); // the name may be created by an earlier operation
    const ix = await h.indexOf(dev);
    index.set(dev, ix);
    return ix;
  };
  const forget = (...names: Array<string | number | undefined>) => names.forEach((n) => typeof n === 'string' && index.delete(n));

  for (let i = 0; i < ops.length; i++) {
    if (results[i]) continue;
    if (failed && stop) await settle();
    if (failed && stop) {
      results[i] = { ok: false, error: skipped() };
      continue;
    }
    const o = ops[i];
    try {
      switch (o.op) {
        case 'createTap': {
          // The run of consecutive tap creations goes to the addon in one trip.
          let j = i;
          while (j < ops.length && ops[j].op === 'createTap' && !results[j]) j++;
          const run = ops.slice(i, j) as Array<Extract<BatchOp, { op: 'createTap' }>>;
          await settle();
          const made = await createTunDevices(
            h,
            run.map((t) => tunSpec(t.name, t.options)),
          );
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
        case 'createBridge':
          forget(o.name);
          record(i, h.createBridge(o.name, o.options));
          undo.push({ at: i, run: () => h.deleteLink(o.name) });
          break;
        case 'createVeth':
          forget(o.name, o.peer);
          record(i, h.createVeth(o.name, o.peer, o.options));
          undo.push({ at: i, run: () => h.deleteLink(o.name) });
          break;
        case 'setLink': {
          const change: LinkChange = { ...o.change };
          if (change.master !== undefined && change.master !== null) change.master = await resolve(change.master);
          // By index when the name is known (made earlier in this batch, or resolved); an
          // unknown name goes as IFLA_IFNAME in the same message: no extra round trip.
          let dev: string | number = typeof o.dev === 'string' && index.has(o.dev) ? (index.get(o.dev) as number) : o.dev;
          if (change.name !== undefined || change.netns !== undefined || options.rollback) dev = await resolve(o.dev);
          if (options.rollback) {
            await settle();
            const before = await h.getLink(dev);
            undo.push({ at: i, run: () => h.setLink(before.index, revert(before, change)) });
          }
          if (change.name !== undefined || change.netns !== undefined) forget(o.dev);
          if (change.name !== undefined) index.set(change.name, dev as number);
          // One message, even for `master BR up` (bench/order.ts: splitting it into attach,
          // then up, measured no faster here; multicast snooping off is what halves attach).
          record(i, h.setLink(dev, change, describe(o)));
          break;
        }
        case 'delete': {
          // A run of deletions goes through the kernel's batched unregister when it can.
          let j = i;
          while (j < ops.length && ops[j].op === 'delete' && !results[j]) j++;
          const devs = (ops.slice(i, j) as Array<Extract<BatchOp, { op: 'delete' }>>).map((d) =>
            typeof d.dev === 'string' && index.has(d.dev) ? (index.get(d.dev) as number) : d.dev,
          );
          (ops.slice(i, j) as Array<Extract<BatchOp, { op: 'delete' }>>).forEach((d) => forget(d.dev));
          if (devs.length >= GROUP_DELETE_MIN && options.groupDelete !== false) {
            await settle();
            const errs = await deleteMany(h, devs);
            errs.forEach((e, k) => {
              results[i + k] = e ? { ok: false, error: e } : { ok: true };
              if (e) failed = true;
            });
          } else devs.forEach((dev, k) => record(i + k, h.deleteLink(dev)));
          i = j - 1;
          break;
        }
      }
    } catch (e) {
      results[i] = { ok: false, error: e as Error };
      failed = true;
    }
  }
  await settle();

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
  return back;
}

/** The ip command an operation amounts to, with the names the caller gave (for errors). */
export function describe(o: Extract<BatchOp, { op: 'setLink' }>): string {
  const c = o.change;
  const w: string[] = [`link set ${o.dev}`];
  if (c.up !== undefined) w.push(c.up ? 'up' : 'down');
  if (c.mtu !== undefined) w.push(`mtu ${c.mtu}`);
  if (c.address !== undefined) w.push(`address ${c.address}`);
  if (c.name !== undefined) w.push(`name ${c.name}`);
  if (c.master === null) w.push('nomaster');
  else if (c.master !== undefined) w.push(`master ${c.master}`);
  if (c.netns !== undefined) w.push(`netns ${c.netns}`);
  return w.join(' ');
}
