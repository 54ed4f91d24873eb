/**
 * `hostwire apply FILE|-`: makes the namespace what a state document says, printing the plan
 * the way `terraform plan` does ('+', '~', '-', '-/+'), then whether the state read back
 * matches. With --confirm-within, it stays in the foreground, as `netplan try` does, until
 * `hostwire confirm` runs (from another shell) or the deadline passes, and then puts the state
 * before back. It ignores SIGHUP, so the SSH session that an uplink move cuts does not stop it;
 * if it is killed outright, the checkpoint file under /run stays, and the next `hostwire apply`,
 * `confirm` or `rollback` that finds it expired restores it. Nothing is spawned.
 */
import * as fs from 'fs';
import { HostwireError } from '../errors';
import { flag, pos, seconds, value } from './args';
import type { CliContext } from './context';
import { verb, type Noun } from './verb';

/** The document's text: a file, or standard input for '-'. */
export function readDocument(file: string): string {
  try {
    return fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new HostwireError((e as NodeJS.ErrnoException).code ?? 'EIO', `apply: cannot read ${file}: ${(e as Error).message}`);
  }
}

/** Writes a line if stdout is still there (the terminal may be gone with its SSH session). */
function say(ctx: CliContext, text: string): void {
  try {
    ctx.out(text);
  } catch {
    // EPIPE/EIO: nobody is reading any more; the restore goes on regardless
  }
}

/**
 * Waits for `hostwire confirm`, or restores at the deadline: 'confirmed' or 'restored'. SIGHUP
 * (the session gone) is ignored meanwhile; SIGINT or SIGTERM restores at once.
 */
async function waitForConfirm(ctx: CliContext, id: string, h: () => import('../rtnl/handle').Handle): Promise<'confirmed' | 'restored'> {
  const cps = require('../workflow/state-checkpoint') as typeof import('../workflow/state-checkpoint');
  const ignore = () => undefined;
  let abort: (() => void) | undefined;
  const interrupted = new Promise<'interrupted'>((r) => (abort = () => r('interrupted')));
  const stop = () => abort?.();
  process.on('SIGHUP', ignore);
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  process.stdout.on('error', ignore);
  try {
    const how = await Promise.race([cps.waitCheckpoint(ctx.netns, id, h), interrupted]);
    if (how !== 'interrupted') return how;
    return (await cps.restoreCheckpoint(h())) ? 'restored' : 'confirmed';
  } finally {
    process.removeListener('SIGHUP', ignore);
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
  }
}

/**
 * hostwire [-n NETNS] [--uri URI] apply FILE|- [--dry-run] [--prune] [--confirm-within SECONDS] [--json]
 * (--uri: for a document with libvirt networks).
 * Exits 0 only when the state read back matches the document (a dry run: when the plan is
 * printed); --json prints {"changes": N, "plan": [...], "verified": bool}.
 * Equivalent to: nmstatectl apply [--no-commit --timeout SECONDS]
 */
const apply = verb('apply', {
  summary: 'make the namespace what a state document says: plan, batch with rollback, verify',
  args: {
    file: pos('FILE|-'),
    dryRun: flag('--dry-run'),
    prune: flag('--prune'),
    confirmWithin: value('--confirm-within', 'SECONDS', seconds),
  },
  run: async (ctx, a, h) => {
    const { apply } = require('../workflow/state') as typeof import('../workflow/state');
    const { parseState } = require('../workflow/state-doc') as typeof import('../workflow/state-doc');
    const { planJson, planLines, planSummary } = require('../workflow/state-plan') as typeof import('../workflow/state-plan');
    const doc = parseState(readDocument(a.file));
    const r = await apply(h(), doc, { dryRun: a.dryRun, prune: a.prune, confirmWithin: a.confirmWithin, uri: ctx.uri });
    if (ctx.json) {
      const out: Record<string, unknown> = { changes: r.changes, plan: planJson(r.plan), verified: r.verified };
      if (r.remaining) out.remaining = planJson({ entries: r.remaining });
      if (r.checkpoint) out.checkpoint = { file: r.checkpoint.file, deadline: new Date(r.checkpoint.deadline).toISOString() };
      say(ctx, JSON.stringify(out));
    } else {
      const lines: string[] = [];
      if (!r.changes) lines.push('No changes: the namespace already matches the document.');
      else {
        lines.push(...planLines(r.plan), '', planSummary(r.plan));
        if (a.dryRun) lines.push('Dry run: nothing was changed.');
        else if (r.verified) lines.push(`Applied ${r.changes} change${r.changes === 1 ? '' : 's'}; the state read back matches.`);
        else lines.push('Applied, but the state read back does not match:', ...planLines({ entries: r.remaining ?? [] }));
      }
      if (r.checkpoint)
        lines.push(
          `Checkpoint ${r.checkpoint.file}: run \`hostwire${ctx.netns ? ` -n ${ctx.netns}` : ''} confirm\` before ${new Date(r.checkpoint.deadline).toISOString()}, or the state before is restored. Waiting...`,
        );
      say(ctx, lines.join('\n'));
    }
    if (r.checkpoint && r.verified) {
      const how = await waitForConfirm(ctx, r.checkpoint.id, h);
      say(
        ctx,
        ctx.json
          ? JSON.stringify({ checkpoint: how })
          : how === 'confirmed'
            ? 'Confirmed: the change stays.'
            : 'Not confirmed in time: the state before was restored.',
      );
      return how === 'confirmed' ? 0 : 1;
    }
    return r.verified || a.dryRun ? 0 : 1;
  },
});

export const noun: Noun = { verbs: [apply] };
