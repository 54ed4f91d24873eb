/**
 * `hostwire confirm` and `hostwire rollback`: the two ends of `apply --confirm-within`
 * (src/workflow/state-checkpoint.ts).
 */
import { HostwireError } from '../errors';
import { flag, value } from './args';
import { verb, type Noun } from './verb';

/**
 * hostwire [-n NETNS] confirm: keeps what `apply --confirm-within` did (fails with
 * ECHECKPOINTEXPIRED, after restoring, when it is too late).
 * Equivalent to: nmstatectl commit
 */
const confirm = verb('confirm', {
  summary: 'keep what apply --confirm-within did',
  args: {},
  run: async (ctx, _a, h) => {
    const { confirmCheckpoint } = require('../workflow/state-checkpoint') as typeof import('../workflow/state-checkpoint');
    const cp = await confirmCheckpoint(h());
    ctx.out(ctx.json ? JSON.stringify({ confirmed: cp.id, file: cp.file }) : `Confirmed: checkpoint ${cp.file} removed.`);
    return 0;
  },
});

/**
 * hostwire [-n NETNS] rollback [--wait [--id ID]]: puts back the state before the pending
 * checkpoint's apply, now; with --wait, at its deadline unless it is confirmed first (what
 * `apply --confirm-within` does in the foreground; this is for a timer or a separate unit).
 * Equivalent to: nmstatectl rollback
 */
const rollback = verb('rollback', {
  summary: 'restore the state before apply --confirm-within (--wait: at its deadline, unless confirmed)',
  args: { wait: flag('--wait'), id: value('--id', 'ID') },
  run: async (ctx, a, h) => {
    const cps = require('../workflow/state-checkpoint') as typeof import('../workflow/state-checkpoint');
    if (a.wait) {
      const how = await cps.waitCheckpoint(ctx.netns, a.id, h);
      ctx.out(ctx.json ? JSON.stringify({ result: how }) : how);
      return 0;
    }
    const r = await cps.restoreCheckpoint(h());
    if (!r) throw new HostwireError('ENOCHECKPOINT', `no checkpoint is pending${ctx.netns ? ` in namespace ${ctx.netns}` : ''}`);
    ctx.out(
      ctx.json
        ? JSON.stringify({ restored: r.checkpoint.id, changes: r.result.changes, verified: r.result.verified })
        : `Restored the state of ${r.checkpoint.created} (${r.result.changes} changes).`,
    );
    return r.result.verified ? 0 : 1;
  },
});

export const confirmNoun: Noun = { verbs: [confirm] };
export const rollbackNoun: Noun = { verbs: [rollback] };
