/**
 * Checkpoints for applies that could cut the admin off (the uplink move over SSH): before the
 * change, the namespace's state is written to /run/hostwire/checkpoint[@NETNS].json with a
 * deadline. confirmCheckpoint() removes it; otherwise whoever finds it past its deadline puts
 * the state back (restoreCheckpoint: apply of the state before, with prune, which also removes
 * what the apply made). The file outlives the process that wrote it: the CLI's apply waits in
 * the foreground to restore on time (ignoring SIGHUP), and any later apply, confirm or rollback
 * in that namespace that finds it expired restores it first. /run is a tmpfs: a reboot, which
 * undoes the change anyway, forgets it.
 *
 * One claimant: confirm and restore take the file by renaming it, so a confirm racing the
 * deadline either confirms or finds it already being restored, never both.
 */
import * as fs from 'fs';
import * as path from 'path';
import { randomUUID } from 'crypto';
import { HostwireError } from '../errors';
import type { Handle } from '../rtnl/handle';
import type { StateDocument } from './state-doc';

/** Where checkpoints are kept. */
export const CHECKPOINT_DIR = '/run/hostwire';

export interface Checkpoint {
  id: string;
  /** The namespace (null: the one the process was in). */
  netns: string | null;
  /** ISO time it was taken. */
  created: string;
  /** When it is restored unless confirmed (ms since the epoch). */
  deadline: number;
  /** The state before the apply. */
  before: StateDocument;
  /** Its file. */
  file: string;
}

/** The checkpoint file of a namespace. */
export function checkpointPath(netns: string | undefined, dir = CHECKPOINT_DIR): string {
  return path.join(dir, `checkpoint${netns ? `@${netns}` : ''}.json`);
}

/** The pending checkpoint of a namespace, or null. */
export function readCheckpoint(netns: string | undefined, dir = CHECKPOINT_DIR): Checkpoint | null {
  const file = checkpointPath(netns, dir);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    return { ...(JSON.parse(text) as Checkpoint), file };
  } catch {
    throw new HostwireError('ECHECKPOINTCORRUPT', `${file} is not a checkpoint: remove it by hand once the namespace is checked`);
  }
}

/**
 * Writes a namespace's checkpoint: `before` is put back unless confirmed within `seconds`.
 * Refuses when one is already pending ('ECHECKPOINTPENDING'). The file appears whole or not at
 * all (written aside, then linked in place, which fails if one exists).
 */
export function writeCheckpoint(netns: string | undefined, before: StateDocument, seconds: number, dir = CHECKPOINT_DIR): Checkpoint {
  if (!(seconds > 0)) throw new HostwireError('EINVALIDOPTION', 'confirm-within: a number of seconds above 0');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = checkpointPath(netns, dir);
  const cp: Checkpoint = {
    id: randomUUID(),
    netns: netns ?? null,
    created: new Date().toISOString(),
    deadline: Date.now() + seconds * 1000,
    before,
    file,
  };
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(cp), { mode: 0o600 });
  try {
    fs.linkSync(tmp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST')
      throw new HostwireError('ECHECKPOINTPENDING', `a checkpoint is pending in ${file}: hostwire confirm, or hostwire rollback, first`);
    throw e;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  return cp;
}

/** Removes a checkpoint file without looking at it (an apply whose batch was rolled back). */
export function removeCheckpoint(netns: string | undefined, dir = CHECKPOINT_DIR): void {
  fs.rmSync(checkpointPath(netns, dir), { force: true });
}

/** Takes the checkpoint file for this process (rename): null when someone else took it first, or there is none. */
function claim(netns: string | undefined, dir: string): { cp: Checkpoint; claimed: string } | null {
  const cp = readCheckpoint(netns, dir);
  if (!cp) return null;
  const claimed = `${cp.file}.${process.pid}.claimed`;
  try {
    fs.renameSync(cp.file, claimed);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const mine = { ...(JSON.parse(fs.readFileSync(claimed, 'utf8')) as Checkpoint), file: cp.file };
  return { cp: mine, claimed };
}

/**
 * Puts back the state a checkpoint kept (an apply of it, with prune) and removes it; null when
 * there is none. With `onlyExpired`, a checkpoint whose deadline has not passed is left alone
 * (null). If the restore fails, the checkpoint stays for the next try.
 * Equivalent to: nmstatectl rollback
 */
export async function restoreCheckpoint(
  h: Handle,
  o: { dir?: string; onlyExpired?: boolean } = {},
): Promise<{ checkpoint: Checkpoint; result: import('./state').ApplyResult } | null> {
  const dir = o.dir ?? CHECKPOINT_DIR;
  const pending = readCheckpoint(h.netns, dir);
  if (!pending || (o.onlyExpired && Date.now() < pending.deadline)) return null;
  const c = claim(h.netns, dir);
  if (!c) return null;
  try {
    const { apply } = require('./state') as typeof import('./state');
    const result = await apply(h, c.cp.before, { prune: true, checkpointDir: dir });
    fs.rmSync(c.claimed, { force: true });
    return { checkpoint: c.cp, result };
  } catch (e) {
    fs.renameSync(c.claimed, c.cp.file);
    throw e;
  }
}

/**
 * Confirms the pending checkpoint: the change stays. 'ENOCHECKPOINT' when there is none;
 * past its deadline it is restored instead, and the call fails with 'ECHECKPOINTEXPIRED'.
 * Equivalent to: nmstatectl commit
 */
export async function confirmCheckpoint(h: Handle, dir = CHECKPOINT_DIR): Promise<Checkpoint> {
  const cp = readCheckpoint(h.netns, dir);
  if (!cp) throw new HostwireError('ENOCHECKPOINT', `no checkpoint is pending${h.netns ? ` in namespace ${h.netns}` : ''}`);
  if (Date.now() >= cp.deadline) {
    await restoreCheckpoint(h, { dir });
    throw new HostwireError(
      'ECHECKPOINTEXPIRED',
      `too late: the checkpoint expired at ${new Date(cp.deadline).toISOString()}; the state before was restored`,
    );
  }
  const c = claim(h.netns, dir);
  if (!c) throw new HostwireError('ENOCHECKPOINT', 'the checkpoint was taken by a restore that started first');
  fs.rmSync(c.claimed, { force: true });
  return c.cp;
}

/**
 * Before an apply: an expired checkpoint is restored (a restore that finds it later still
 * restores); a pending one refuses the apply ('ECHECKPOINTPENDING').
 */
export async function ensureNoCheckpoint(h: Handle, dir = CHECKPOINT_DIR): Promise<void> {
  const cp = readCheckpoint(h.netns, dir);
  if (!cp) return;
  if (Date.now() < cp.deadline)
    throw new HostwireError(
      'ECHECKPOINTPENDING',
      `a checkpoint is pending until ${new Date(cp.deadline).toISOString()}: hostwire confirm, or hostwire rollback, first`,
    );
  await restoreCheckpoint(h, { dir, onlyExpired: true });
}

/**
 * Waits for the pending checkpoint `id` of a namespace to be confirmed, and restores it at its
 * deadline if it is not: 'confirmed' (or gone, or replaced by another), 'restored'. The handle
 * is opened only to restore.
 */
export async function waitCheckpoint(
  netns: string | undefined,
  id: string | undefined,
  handle: () => Handle,
  o: { dir?: string; pollMs?: number } = {},
): Promise<'confirmed' | 'restored'> {
  const dir = o.dir ?? CHECKPOINT_DIR;
  for (;;) {
    const cp = readCheckpoint(netns, dir);
    if (!cp || (id !== undefined && cp.id !== id)) return 'confirmed';
    const left = cp.deadline - Date.now();
    if (left <= 0) return (await restoreCheckpoint(handle(), { dir, onlyExpired: true })) ? 'restored' : 'confirmed';
    await new Promise((r) => setTimeout(r, Math.min(left, o.pollMs ?? 250)));
  }
}
