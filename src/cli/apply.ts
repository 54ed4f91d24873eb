/**
 * `hostwire apply FILE|-`: makes the namespace what a state document says, printing the plan
 * the way `terraform plan` does ('+', '~', '-', '-/+'), then whether the state read back
 * matches. With --confirm-within, a detached `hostwire rollback --wait` is left behind to put
 * the state before back unless `hostwire confirm` runs in time (the one process src/ starts
 * besides $EDITOR: this same command, so that the restore survives the SSH session that ran it).
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
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

/** Starts the detached process that restores the checkpoint at its deadline unless confirmed; its pid. */
function startWatcher(ctx: CliContext, id: string): number | undefined {
  const main = path.join(__dirname, 'main.js');
  const args = [main, ...(ctx.netns ? ['-n', ctx.netns] : []), 'rollback', '--wait', '--id', id];
  const child = spawn(process.execPath, args, { detached: true, stdio: 'ignore' });
  child.unref();
  return child.pid;
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
    const watcher = r.checkpoint ? startWatcher(ctx, r.checkpoint.id) : undefined;
    if (ctx.json) {
      const out: Record<string, unknown> = { changes: r.changes, plan: planJson(r.plan), verified: r.verified };
      if (r.remaining) out.remaining = planJson({ entries: r.remaining });
      if (r.checkpoint) out.checkpoint = { file: r.checkpoint.file, deadline: new Date(r.checkpoint.deadline).toISOString(), watcher };
      ctx.out(JSON.stringify(out));
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
          `Checkpoint ${r.checkpoint.file}: run \`hostwire${ctx.netns ? ` -n ${ctx.netns}` : ''} confirm\` before ${new Date(r.checkpoint.deadline).toISOString()}, or the state before is restored.`,
        );
      ctx.out(lines.join('\n'));
    }
    return r.verified || a.dryRun ? 0 : 1;
  },
});

export const noun: Noun = { verbs: [apply] };
