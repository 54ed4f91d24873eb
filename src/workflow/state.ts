/**
 * Declarative state: read a namespace's state (readState, showState), and make it what a state
 * document says (apply): check the document, read the namespace once, plan the minimal change
 * (state-plan.ts), send it as one pipelined batch with rollback (runBatch), then read it back
 * until it matches, a few times with a pause for settling, as nmstate verifies. A document that
 * already matches sends nothing at all. With `confirmWithin`, a checkpoint of the state before
 * is kept under /run first (state-checkpoint.ts): unless confirmed in time it is put back.
 */
import { HostwireError } from '../errors';
import { IFA_F_PERMANENT } from '../rtnl/addr';
import { runBatch, type BatchOp } from '../rtnl/batch';
import type { Handle } from '../rtnl/handle';
import { getKind } from '../rtnl/kinds';
import { RTPROT_KERNEL, RT_SCOPE_LINK } from '../rtnl/route';
import { LOOPBACK, PHYSICAL, checkState, type StateDocument } from './state-doc';
import {
  RTPROT_HOSTWIRE,
  isMarked,
  plan,
  toDocument,
  type CurrentState,
  type ObservedAddress,
  type ObservedLink,
  type ObservedRoute,
  type Plan,
  type PlanEntry,
} from './state-plan';

/** ARPHRD_LOOPBACK. */
const ARPHRD_LOOPBACK = 772;

export { toDocument };
/** RTPROT_RA: routes from router advertisements, the kernel's own. */
const RTPROT_RA = 9;
const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

export interface ReadOptions {
  /** Read addresses (default true). */
  addresses?: boolean;
  /** Read main-table routes (default true). */
  routes?: boolean;
}

/**
 * The namespace's state as the planner sees it: every link with its kind options (read by its
 * kind's registry entry), master, MTU, MAC, up, configured addresses and mark; the main table's
 * routes that are not the kernel's own. One dump of each, pipelined on the handle's socket.
 */
export async function readState(h: Handle, what: ReadOptions = {}): Promise<CurrentState> {
  const [links, addrs, routes] = await Promise.all([
    h.listLinks(),
    what.addresses === false ? Promise.resolve([]) : h.listAddresses(),
    what.routes === false ? Promise.resolve(undefined) : h.listRoutes(),
  ]);
  const names = new Map(links.map((l) => [l.index, l.name]));
  const nameOf = (ix: number) => names.get(ix);
  const byLink = new Map<number, ObservedAddress[]>();
  for (const a of addrs) {
    // Configured addresses: IPv6 link-local and autoconfigured (not permanent) ones are the kernel's.
    if (a.family === 6 && (a.scope === RT_SCOPE_LINK || !(a.flags & IFA_F_PERMANENT))) continue;
    const o: ObservedAddress = { cidr: `${a.address}/${a.prefixlen}` };
    if (a.broadcast) o.broadcast = a.broadcast;
    if (a.peer) o.peer = a.peer;
    if (a.label && a.label !== nameOf(a.index)) o.label = a.label;
    const list = byLink.get(a.index) ?? [];
    list.push(o);
    byLink.set(a.index, list);
  }
  const observed: ObservedLink[] = links.map((l) => ({
    name: l.name,
    kind: l.kind ?? (l.linkType === ARPHRD_LOOPBACK ? LOOPBACK : PHYSICAL),
    options: (l.kind ? getKind(l.kind)?.readOptions?.(l, nameOf) : undefined) ?? {},
    master: l.master === null ? null : (nameOf(l.master) ?? null),
    mtu: l.mtu,
    address: l.address && MAC_RE.test(l.address) ? l.address : null,
    up: l.up,
    addresses: byLink.get(l.index) ?? [],
    owned: isMarked(l.alias),
  }));
  // A master whose MAC is its lowest port's: not its own (see LinkKind.addressFromPorts).
  const lowest = new Map<string, string>();
  for (const l of observed) if (l.master && l.address && (lowest.get(l.master) ?? 'g') > l.address) lowest.set(l.master, l.address);
  for (const l of observed)
    if (l.address && getKind(l.kind)?.addressFromPorts && lowest.get(l.name) === l.address) l.addressFromPorts = true;
  const state: CurrentState = { links: observed };
  if (routes)
    state.routes = routes
      .filter(
        (r) =>
          r.type === 1 && r.protocol !== RTPROT_KERNEL && r.protocol !== RTPROT_RA && !r.dst.startsWith('?') && !r.dst.startsWith('fe80:'),
      )
      .map((r) => {
        const o: ObservedRoute = { dst: r.dst, protocol: r.protocol, scope: r.scope, type: r.type, owned: r.protocol === RTPROT_HOSTWIRE };
        if (r.gateway !== undefined) o.gateway = r.gateway;
        if (r.oif !== undefined && nameOf(r.oif) !== undefined) o.dev = nameOf(r.oif);
        if (r.priority !== undefined) o.metric = r.priority;
        if (r.prefsrc !== undefined) o.src = r.prefsrc;
        return o;
      });
  return state;
}

/**
 * The namespace's state as a state document (links, addresses, routes).
 * Equivalent to: nmstatectl show
 */
export async function showState(h: Handle): Promise<StateDocument> {
  return toDocument(await readState(h));
}

export interface ApplyOptions {
  /** Plan only: send nothing. */
  dryRun?: boolean;
  /** Remove links and routes that hostwire's apply made and the document does not list. */
  prune?: boolean;
  /**
   * Keep a checkpoint of the state before (a file under /run/hostwire) that is put back unless
   * confirmCheckpoint() runs within this many seconds (the CLI starts the process that waits).
   */
  confirmWithin?: number;
  /** The checkpoint's directory (default /run/hostwire). */
  checkpointDir?: string;
  /** Read-backs after the first that may still differ, while the kernel settles (default 5: about 1.5 s in all). */
  verifyRetries?: number;
  /** For a document with networks: the libvirt connection to use, else one opened on `uri` (and closed). */
  connection?: import('../libvirt').Connection;
  uri?: string;
}

export interface ApplyResult {
  changes: number;
  plan: Plan;
  /** The state read back matches the document (for a dry run: it already does). */
  verified: boolean;
  /** When not verified: what still differs. */
  remaining?: PlanEntry[];
  /** The checkpoint kept (confirmWithin). */
  checkpoint?: import('./state-checkpoint').Checkpoint;
}

/** A plan that failed at one of its steps; everything it had done was rolled back. */
export class ApplyError extends HostwireError {
  /** The entry whose operation failed ('+ link tap0 (tun)'). */
  readonly entry?: Omit<PlanEntry, 'ops'>;
  readonly rolledBack: boolean;
  /** Undo steps that failed, if any (the namespace may then not be as before). */
  readonly rollbackErrors: Error[];
  override readonly cause: Error;
  constructor(cause: Error, entry: PlanEntry | undefined, rolledBack: boolean, rollbackErrors: Error[]) {
    const code = (cause as { code?: string }).code ?? 'EINTERNAL';
    const what = entry ? `${entry.action} ${entry.type} ${entry.name}` : 'apply';
    const undo = rollbackErrors.length
      ? `; the rollback failed too (${rollbackErrors.map((e) => e.message).join('; ')})`
      : rolledBack
        ? '; rolled back'
        : '';
    super(rollbackErrors.length ? 'EROLLBACK' : code, `${what}: ${cause.message}${undo}`);
    this.cause = cause;
    if (entry) {
      const { ops: _ops, ...rest } = entry;
      this.entry = rest;
    }
    this.rolledBack = rolledBack;
    this.rollbackErrors = rollbackErrors;
  }
  override toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, entry: this.entry, rolledBack: this.rolledBack };
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref?.());

/**
 * Makes the namespace of `h` what `desired` says: checks it (StateError naming the path), reads
 * the namespace, plans (refusing collisions before anything is sent), runs the plan as one
 * pipelined batch with rollback (ApplyError: rolled back), then verifies by reading back.
 * Nothing is sent when nothing differs.
 * Equivalent to: nmstatectl apply [--no-commit --timeout N]
 */
export async function apply(h: Handle, desired: unknown, options: ApplyOptions = {}): Promise<ApplyResult> {
  const doc = checkState(desired);
  const { ensureNoCheckpoint } = require('./state-checkpoint') as typeof import('./state-checkpoint');
  if (!options.dryRun) await ensureNoCheckpoint(h, options.checkpointDir);
  const checkpoint = options.confirmWithin !== undefined && !options.dryRun;
  // With networks, a failure after the batch puts the links back from the state before: read all of it.
  const full = checkpoint || doc.networks !== undefined;
  const what: ReadOptions = {
    addresses: full || doc.links.some((l) => l.addresses !== undefined),
    routes: full || doc.routes !== undefined || !!options.prune,
  };
  const libvirt = doc.networks !== undefined ? await openLibvirt(options) : undefined;
  try {
    return await applyTo(h, doc, options, what, checkpoint, libvirt?.connection);
  } finally {
    await libvirt?.close();
  }
}

/** The connection a document with networks is applied with (state-networks.ts loads libvirt only then). */
async function openLibvirt(o: ApplyOptions): Promise<{ connection: import('../libvirt').Connection; close: () => Promise<void> }> {
  if (o.connection) return { connection: o.connection, close: async () => undefined };
  // The module itself, not the package index: a require() of the index gives a namespace of its
  // ~800 exports (the generated constants), which the CLI's bundle would build on every start.
  const { Connection } = require('../libvirt/connection') as typeof import('../libvirt/connection');
  const connection = await Connection.open(o.uri);
  return { connection, close: () => connection.close() };
}

async function applyTo(
  h: Handle,
  doc: StateDocument,
  options: ApplyOptions,
  what: ReadOptions,
  checkpoint: boolean,
  libvirt: import('../libvirt').Connection | undefined,
): Promise<ApplyResult> {
  const { writeCheckpoint, removeCheckpoint } = require('./state-checkpoint') as typeof import('./state-checkpoint');
  const nets = libvirt ? (require('./state-networks') as typeof import('./state-networks')) : undefined;
  const networkPlan = async () => (nets && libvirt ? nets.planNetworks(doc.networks ?? [], await nets.readNetworks(libvirt)) : []);
  let current = await readState(h, what);
  let p = plan(doc, current, { prune: options.prune });
  // Routes go with the addresses that go (see plan): read them when an address goes.
  if (!what.routes && p.entries.some((e) => e.type === 'address' && e.action === 'delete')) {
    what.routes = true;
    current = await readState(h, what);
    p = plan(doc, current, { prune: options.prune });
  }
  const networkEntries = await networkPlan();
  p.entries.push(...networkEntries);
  const result: ApplyResult = { changes: p.entries.length, plan: p, verified: p.entries.length === 0 };
  if (options.dryRun || p.entries.length === 0) return result;

  if (checkpoint)
    result.checkpoint = writeCheckpoint(
      h.netns,
      toDocument(current, { protocols: true }),
      options.confirmWithin as number,
      options.checkpointDir,
    );
  const ops: BatchOp[] = [];
  const entryOf: PlanEntry[] = [];
  for (const e of p.entries)
    for (const o of e.ops) {
      ops.push(o);
      entryOf.push(e);
    }
  const report = await runBatch(h, ops, { onError: 'stop', rollback: true });
  if (report.failed) {
    const at = report.results.findIndex((r) => !r.ok && (r.error as { code?: string }).code !== 'ESKIPPED');
    const k = at < 0 ? report.results.findIndex((r) => !r.ok) : at;
    const cause = (report.results[k] as { error: Error }).error;
    if (checkpoint && !report.rollbackErrors.length) removeCheckpoint(h.netns, options.checkpointDir);
    throw new ApplyError(cause, entryOf[k], report.rolledBack, report.rollbackErrors);
  }
  if (nets && libvirt && networkEntries.length) {
    try {
      await nets.applyNetworks(libvirt, networkEntries);
    } catch (e) {
      // The networks' own steps are undone; the links go back to the state before.
      const err = e as Error & { entry?: PlanEntry; undoErrors?: Error[] };
      const errors = [...(err.undoErrors ?? [])];
      if (checkpoint) removeCheckpoint(h.netns, options.checkpointDir);
      await apply(h, toDocument(current, { protocols: true }), { prune: true, checkpointDir: options.checkpointDir }).catch((re: Error) =>
        errors.push(re),
      );
      throw new ApplyError(err, err.entry, true, errors);
    }
  }
  const after = await verify(h, doc, { prune: options.prune, read: what, retries: options.verifyRetries });
  if (nets) after.push(...(await networkPlan()));
  result.verified = after.length === 0;
  if (after.length) result.remaining = after;
  return result;
}

/**
 * Reads the namespace back until the document's plan against it is empty, up to `retries`
 * more times with growing pauses (50, 100, 200 ... ms); returns what still differs.
 */
export async function verify(
  h: Handle,
  doc: StateDocument,
  o: { prune?: boolean; read?: ReadOptions; retries?: number } = {},
): Promise<PlanEntry[]> {
  const retries = o.retries ?? 5;
  let left: PlanEntry[] = [];
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (attempt) await sleep(50 * 2 ** (attempt - 1));
    try {
      left = plan(doc, await readState(h, o.read), { prune: o.prune }).entries;
    } catch (e) {
      if (!(e instanceof HostwireError)) throw e;
      left = [{ action: 'update', type: 'link', name: e.message, ops: [] }];
    }
    if (!left.length) return left;
  }
  return left;
}
