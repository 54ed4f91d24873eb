/**
 * What virsh calls libvirt's enum values, which the headers do not say (virsh-domain-monitor.c),
 * and the lookup used with the generated name tables of ./constants.
 */

/** virDomainState, as virsh prints it (`virsh list`, `virsh domstate`), by value. */
export const DOMAIN_STATE: readonly string[] = [
  'no state', // VIR_DOMAIN_NOSTATE
  'running', // VIR_DOMAIN_RUNNING
  'idle', // VIR_DOMAIN_BLOCKED
  'paused', // VIR_DOMAIN_PAUSED
  'in shutdown', // VIR_DOMAIN_SHUTDOWN
  'shut off', // VIR_DOMAIN_SHUTOFF
  'crashed', // VIR_DOMAIN_CRASHED
  'pmsuspended', // VIR_DOMAIN_PMSUSPENDED
];

/** Names an enum value, or 'UNKNOWN(n)'. */
export function enumName(table: readonly string[], n: number): string {
  return table[n] ?? `UNKNOWN(${n})`;
}
