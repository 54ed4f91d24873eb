/** `hostwire show-state`: the namespace's state as a state document (src/workflow/state-doc.ts). */
import { flag } from './args';
import { verb, type Noun } from './verb';

/**
 * hostwire [-n NETNS] [--uri URI] show-state [--json|--yaml] [--networks]: links (with their kind
 * options, master, MTU, MAC, up), addresses and routes, as `apply` takes them back (YAML unless
 * --json); with --networks, libvirt's networks too.
 * Equivalent to: nmstatectl show
 */
const showState = verb('show-state', {
  summary: "the namespace as a state document (YAML, or --json), as apply takes it; --networks: libvirt's too",
  args: { yaml: flag('--yaml'), networks: flag('--networks') },
  run: async (ctx, a, h) => {
    const { showState } = require('../workflow/state') as typeof import('../workflow/state');
    const { formatState } = require('../workflow/state-doc') as typeof import('../workflow/state-doc');
    const doc = await showState(h());
    if (a.networks) {
      const { readNetworks } = require('../workflow/state-networks') as typeof import('../workflow/state-networks');
      const { withConnection } = require('./virsh') as typeof import('./virsh');
      doc.networks = await withConnection(ctx, readNetworks);
    }
    ctx.out(formatState(doc, ctx.json && !a.yaml ? 'json' : 'yaml'));
    return 0;
  },
});

export const noun: Noun = { verbs: [showState] };
