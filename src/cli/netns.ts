/** `hostwire netns`: add, del and list named network namespaces, as ip netns does (/run/netns). */
import { addNetns, deleteNetns, listNetns } from '../netns';
import { pos } from './args';
import { verb, type Noun } from './verb';

/** hostwire netns list. Equivalent to: ip netns list */
const list = verb('netns list', {
  aliases: ['ls'],
  batch: true,
  args: {},
  run: async (ctx) => {
    const names = listNetns();
    ctx.out(ctx.json ? JSON.stringify(names.map((n) => ({ name: n }))) : names.join('\n'));
    return 0;
  },
});

/** hostwire netns add NAME. Equivalent to: ip netns add NAME */
const add = verb('netns add', {
  batch: true,
  args: { name: pos('NAME') },
  run: async (_ctx, a) => {
    addNetns(a.name);
    return 0;
  },
});

/** hostwire netns del NAME. Equivalent to: ip netns del NAME */
const del = verb('netns del', {
  aliases: ['delete'],
  batch: true,
  args: { name: pos('NAME') },
  run: async (_ctx, a) => {
    deleteNetns(a.name);
    return 0;
  },
});

export const noun: Noun = { verbs: [list, add, del], default: list };
