/**
 * kind 'ifb' (Intermediate Functional Block): no options. Traffic redirected to it by a mirred
 * action can be shaped on its egress; qos.ts uses one per port for the VM's outbound limit.
 */
import { readIpWords } from './ipwords';
import type { LinkKind } from './kind';

export const ifb: LinkKind = {
  kind: 'ifb',
  check: () => ({}),
  encodeData: () => undefined,
  fromIp: (words) => readIpWords('ifb', words, {}),
};
