/** `hostwire show-state`: the namespace's state as a state document (src/workflow/state-doc.ts). */
import { flag } from './args';
import { verb, type Noun } from './verb';

/**
 * hostwire [-n NETNS] show-state [--json|--yaml]: links (with their kind options, master, MTU,
 * MAC, up), addresses and routes, as `apply` takes them back (YAML unless --json).
 * Equivalent to: nmstatectl show
 */
const showState = verb('show-state', {
  summary: 'the namespace as a state document (YAML, or --json), as apply takes it',
  args: { yaml: flag('--yaml') },
  run: async (ctx, a, h) => {
    const { showState } = require('../workflow/state') as typeof import('../workflow/state');
    const { formatState } = require('../workflow/state-doc') as typeof import('../workflow/state-doc');
    const doc = await showState(h());
    ctx.out(formatState(doc, ctx.json && !a.yaml ? 'json' : 'yaml'));
    return 0;
  },
});

export const noun: Noun = { verbs: [showState] };
