/** `hostwire firewall`: the br_netfilter sysctls of the namespace (whether bridged traffic meets iptables). */
import { BRIDGE_NF, getBridgeFirewall, setBridgeFirewall, type BridgeFirewall, type BridgeNfKey } from '../workflow/firewall';
import { oneOf, refuse, value } from './args';
import type { CliContext } from './context';
import { verb, type Noun } from './verb';

function printFirewall(ctx: CliContext, fw: BridgeFirewall): void {
  if (ctx.json) ctx.out(JSON.stringify(fw));
  else ctx.out((Object.keys(BRIDGE_NF) as BridgeNfKey[]).map((k) => `net.bridge.${BRIDGE_NF[k]} = ${fw[k] ? 1 : 0}`).join('\n'));
}

/** hostwire [-n NS] firewall show. Equivalent to: sysctl net.bridge.bridge-nf-call-{iptables,ip6tables,arptables} */
const show = verb('firewall show', {
  args: {},
  run: async (ctx) => {
    printFirewall(ctx, getBridgeFirewall({ netns: ctx.netns }));
    return 0;
  },
});

const onOff = oneOf(['on', 'off'] as const);

/** hostwire [-n NS] firewall set [--iptables on|off] [--ip6tables on|off] [--arptables on|off]. Equivalent to: sysctl -w net.bridge.bridge-nf-call-*=0|1 */
const set = verb('firewall set', {
  args: {
    iptables: value('--iptables', 'on|off', onOff),
    ip6tables: value('--ip6tables', 'on|off', onOff),
    arptables: value('--arptables', 'on|off', onOff),
  },
  check: (a) => {
    if (a.iptables === undefined && a.ip6tables === undefined && a.arptables === undefined) refuse('nothing to set');
  },
  run: async (ctx, a) => {
    const change: Partial<BridgeFirewall> = {};
    for (const k of ['iptables', 'ip6tables', 'arptables'] as const) if (a[k] !== undefined) change[k] = a[k] === 'on';
    printFirewall(ctx, setBridgeFirewall(change, { netns: ctx.netns }));
    return 0;
  },
});

export const noun: Noun = { verbs: [show, set] };
