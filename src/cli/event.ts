/** `hostwire event`: libvirt's domain and network lifecycle events, as virsh prints them. */
import type { LifecycleEvent } from '../libvirt';
import { seconds, value } from './args';
import { verb, type Noun } from './verb';
import { openConnection } from './virsh';

const title = (s: string): string => {
  const t = s.replace(/_/g, ' ').toLowerCase();
  return t.charAt(0).toUpperCase() + t.slice(1);
};

/** One event line as `virsh event --all --loop` prints it. */
function formatEvent(ev: LifecycleEvent): string {
  if (ev.kind === 'domain') return `event 'lifecycle' for domain '${ev.name}': ${title(ev.event)} ${title(ev.detail)}`;
  return `event 'lifecycle' for network '${ev.name}': ${title(ev.event)}`;
}

/**
 * hostwire event [--timeout S]: prints domain and network lifecycle events as they come, until
 * the timeout or Ctrl-C (exit 0), or the daemon going away (ECLOSED, exit 1).
 * Equivalent to: virsh event --all --loop [--timeout S] (and virsh net-event --all --loop)
 */
const event = verb('event', {
  args: { timeout: value('--timeout', 'S', seconds) },
  run: async (ctx, a) => {
    const c = await openConnection(ctx);
    const ac = new AbortController();
    const stop = (): void => ac.abort();
    const timer = a.timeout !== undefined ? setTimeout(stop, a.timeout * 1000) : undefined;
    process.once('SIGINT', stop);
    try {
      // The iterator subscribes, and ends with ECLOSED (exit 1) when the daemon goes away.
      for await (const ev of c.lifecycleEvents(ac.signal)) {
        ctx.out(ctx.json ? JSON.stringify(ev) : formatEvent(ev));
      }
    } finally {
      if (timer) clearTimeout(timer);
      process.removeListener('SIGINT', stop);
      await c.close();
    }
    return 0;
  },
});

export const noun: Noun = { verbs: [event] };
