/**
 * `hostwire qos`: per-port bandwidth in libvirt's <bandwidth> terms (KB/s and KiB), set with tc's
 * machinery over rtnetlink (src/rtnl/qos.ts), shown as `virsh domiftune` shows it.
 */
import { parseRate, type Bandwidth, type Rate } from '../rtnl/qos';
import { pos, refuse, value } from './args';
import { verb, type Noun } from './verb';

const rate = (raw: string, name: string): Rate => {
  try {
    return parseRate(raw, name);
  } catch (e) {
    return refuse((e as Error).message);
  }
};

/**
 * hostwire qos set DEV [--inbound AVG[,PEAK[,BURST]]] [--outbound AVG[,PEAK[,BURST]]].
 * Equivalent to: virsh domiftune DOM DEV --inbound AVG,PEAK,BURST --outbound AVG,PEAK,BURST
 */
const set = verb('qos set', {
  args: {
    dev: pos('DEV', { keyword: 'dev' }),
    inbound: value('--inbound', 'AVG[,PEAK[,BURST]]', rate),
    outbound: value('--outbound', 'AVG[,PEAK[,BURST]]', rate),
  },
  check: (a) => {
    if (a.inbound === undefined && a.outbound === undefined) refuse('--inbound and/or --outbound');
  },
  run: async (_ctx, a, h) => {
    const bw: Bandwidth = {};
    if (a.inbound) bw.inbound = a.inbound;
    if (a.outbound) bw.outbound = a.outbound;
    await h().setQos(a.dev, bw);
    return 0;
  },
});

/** hostwire qos show DEV. Equivalent to: virsh domiftune DOM DEV */
const show = verb('qos show', {
  aliases: ['list', 'ls'],
  args: { dev: pos('DEV', { keyword: 'dev' }) },
  run: async (ctx, a, h) => {
    const bw = await h().getQos(a.dev);
    if (ctx.json) ctx.out(JSON.stringify(bw));
    else {
      const lines: string[] = [];
      for (const dir of ['inbound', 'outbound'] as const) {
        const r = bw[dir];
        lines.push(`${dir}.average: ${r?.average ?? 0}`, `${dir}.peak   : ${r?.peak ?? 0}`, `${dir}.burst  : ${r?.burst ?? 0}`);
      }
      ctx.out(lines.join('\n'));
    }
    return 0;
  },
});

/** hostwire qos clear DEV. Equivalent to: virsh domiftune DOM DEV --inbound 0 --outbound 0 */
const clear = verb('qos clear', {
  args: { dev: pos('DEV', { keyword: 'dev' }) },
  run: async (_ctx, a, h) => {
    await h().clearQos(a.dev);
    return 0;
  },
});

export const noun: Noun = { verbs: [show, set, clear], default: show };
