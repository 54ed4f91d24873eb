/**
 * The guards of the `hostwire` command, each declared on the verbs it guards (verb.ts Guard).
 *
 * natBridge, on `link set` (and so on its batch lines): a physical NIC is not added to the
 * bridge of a libvirt NAT or routed network ('ENATBRIDGE', src/workflow/guard.ts) unless
 * --force. libvirt (--uri) is asked only when the port is physical, so a kernel verb loads
 * libvirt only then.
 */
import type { BatchOp } from '../rtnl/batch';
import type { NetworkBridge } from '../workflow/network';
import { checkBatchPorts, checkBridgePort } from '../workflow/guard';
import type { CliContext } from './context';
import type { Guard } from './verb';

/** The bridges of libvirt's networks, over a connection to ctx.uri opened for the question. */
async function libvirtNetworks(ctx: CliContext): Promise<NetworkBridge[]> {
  const { Connection } = require('../libvirt/connection') as typeof import('../libvirt/connection');
  const { networkBridges } = require('../workflow/network') as typeof import('../workflow/network');
  const c = await Connection.open(ctx.uri);
  try {
    return await networkBridges(c);
  } finally {
    await c.close();
  }
}

const attach = (op: BatchOp): op is Extract<BatchOp, { op: 'setLink' }> & { change: { master: string | number } } =>
  op.op === 'setLink' && op.change.master !== undefined && op.change.master !== null;

/** ENATBRIDGE: `link set DEV master BR` of a physical NIC onto a libvirt NAT/routed bridge, unless --force. */
export const natBridge: Guard = {
  flag: '--force',
  about: 'link set DEV master BR',
  applies: attach,
  async one(ctx, h, op, forced) {
    if (!attach(op)) return;
    const bridge = String(op.change.master);
    const overridden = await checkBridgePort(h, String(op.dev), bridge, { force: forced, networks: () => libvirtNetworks(ctx) });
    if (overridden && !ctx.json)
      process.stderr.write(
        `hostwire: warning: ${bridge} belongs to libvirt network ${overridden.network} (${overridden.forward}); forced\n`,
      );
  },
  many: (ctx, h, ops, forced) => checkBatchPorts(h, ops, forced, { networks: () => libvirtNetworks(ctx) }),
};
