/**
 * libvirt's flag bits and enums, under libvirt's own names (grep include/libvirt/libvirt-*.h).
 * Values are libvirt's stable ABI.
 */

// virConnectFlags
export const VIR_CONNECT_RO = 1 << 0;

// virConnectListAllNetworksFlags
export const VIR_CONNECT_LIST_NETWORKS_INACTIVE = 1 << 0;
export const VIR_CONNECT_LIST_NETWORKS_ACTIVE = 1 << 1;
export const VIR_CONNECT_LIST_NETWORKS_PERSISTENT = 1 << 2;
export const VIR_CONNECT_LIST_NETWORKS_TRANSIENT = 1 << 3;
export const VIR_CONNECT_LIST_NETWORKS_AUTOSTART = 1 << 4;
export const VIR_CONNECT_LIST_NETWORKS_NO_AUTOSTART = 1 << 5;

// virConnectListAllDomainsFlags
export const VIR_CONNECT_LIST_DOMAINS_ACTIVE = 1 << 0;
export const VIR_CONNECT_LIST_DOMAINS_INACTIVE = 1 << 1;
export const VIR_CONNECT_LIST_DOMAINS_PERSISTENT = 1 << 2;
export const VIR_CONNECT_LIST_DOMAINS_TRANSIENT = 1 << 3;
export const VIR_CONNECT_LIST_DOMAINS_RUNNING = 1 << 4;
export const VIR_CONNECT_LIST_DOMAINS_PAUSED = 1 << 5;
export const VIR_CONNECT_LIST_DOMAINS_SHUTOFF = 1 << 6;
export const VIR_CONNECT_LIST_DOMAINS_OTHER = 1 << 7;
export const VIR_CONNECT_LIST_DOMAINS_AUTOSTART = 1 << 10;
export const VIR_CONNECT_LIST_DOMAINS_NO_AUTOSTART = 1 << 11;

// virNetworkXMLFlags
export const VIR_NETWORK_XML_INACTIVE = 1 << 0;

// virDomainXMLFlags
export const VIR_DOMAIN_XML_SECURE = 1 << 0;
export const VIR_DOMAIN_XML_INACTIVE = 1 << 1;
export const VIR_DOMAIN_XML_UPDATE_CPU = 1 << 2;
export const VIR_DOMAIN_XML_MIGRATABLE = 1 << 3;

// virDomainModificationImpact (attachDevice / detachDevice)
export const VIR_DOMAIN_AFFECT_CURRENT = 0;
export const VIR_DOMAIN_AFFECT_LIVE = 1 << 0;
export const VIR_DOMAIN_AFFECT_CONFIG = 1 << 1;

// virDomainDefineFlags
export const VIR_DOMAIN_DEFINE_VALIDATE = 1 << 0;

// virDomainUndefineFlagsValues
export const VIR_DOMAIN_UNDEFINE_MANAGED_SAVE = 1 << 0;
export const VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA = 1 << 1;
export const VIR_DOMAIN_UNDEFINE_NVRAM = 1 << 2;
export const VIR_DOMAIN_UNDEFINE_KEEP_NVRAM = 1 << 3;
export const VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA = 1 << 4;
export const VIR_DOMAIN_UNDEFINE_TPM = 1 << 5;
export const VIR_DOMAIN_UNDEFINE_KEEP_TPM = 1 << 6;

// virDomainShutdownFlagValues
export const VIR_DOMAIN_SHUTDOWN_DEFAULT = 0;
export const VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN = 1 << 0;
export const VIR_DOMAIN_SHUTDOWN_GUEST_AGENT = 1 << 1;

// virDomainDestroyFlagsValues
export const VIR_DOMAIN_DESTROY_DEFAULT = 0;
export const VIR_DOMAIN_DESTROY_GRACEFUL = 1 << 0;

// virDomainCreateFlags
export const VIR_DOMAIN_NONE = 0;
export const VIR_DOMAIN_START_PAUSED = 1 << 0;
export const VIR_DOMAIN_START_AUTODESTROY = 1 << 1;

// virConnectCredentialType
export const VIR_CRED_USERNAME = 1;
export const VIR_CRED_AUTHNAME = 2;
export const VIR_CRED_LANGUAGE = 3;
export const VIR_CRED_CNONCE = 4;
export const VIR_CRED_PASSPHRASE = 5;
export const VIR_CRED_ECHOPROMPT = 6;
export const VIR_CRED_NOECHOPROMPT = 7;
export const VIR_CRED_REALM = 8;
export const VIR_CRED_EXTERNAL = 9;

/** virDomainState, as virsh prints it (`virsh list`, `virsh domstate`). */
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

/** virDomainEventType without the VIR_DOMAIN_EVENT_ prefix. */
export const DOMAIN_EVENT: readonly string[] = [
  'DEFINED',
  'UNDEFINED',
  'STARTED',
  'SUSPENDED',
  'RESUMED',
  'STOPPED',
  'SHUTDOWN',
  'PMSUSPENDED',
  'CRASHED',
];

/** The detail enum of each domain lifecycle event (VIR_DOMAIN_EVENT_<EVENT>_<DETAIL>). */
export const DOMAIN_EVENT_DETAIL: Readonly<Record<string, readonly string[]>> = {
  DEFINED: ['ADDED', 'UPDATED', 'RENAMED', 'FROM_SNAPSHOT'],
  UNDEFINED: ['REMOVED', 'RENAMED'],
  STARTED: ['BOOTED', 'MIGRATED', 'RESTORED', 'FROM_SNAPSHOT', 'WAKEUP'],
  SUSPENDED: ['PAUSED', 'MIGRATED', 'IOERROR', 'WATCHDOG', 'RESTORED', 'FROM_SNAPSHOT', 'API_ERROR', 'POSTCOPY', 'POSTCOPY_FAILED'],
  RESUMED: ['UNPAUSED', 'MIGRATED', 'FROM_SNAPSHOT', 'POSTCOPY', 'POSTCOPY_FAILED'],
  STOPPED: ['SHUTDOWN', 'DESTROYED', 'CRASHED', 'MIGRATED', 'SAVED', 'FAILED', 'FROM_SNAPSHOT'],
  SHUTDOWN: ['FINISHED', 'GUEST', 'HOST'],
  PMSUSPENDED: ['MEMORY', 'DISK'],
  CRASHED: ['PANICKED', 'CRASHLOADED'],
};

/** virNetworkEventLifecycleType without the VIR_NETWORK_EVENT_ prefix. */
export const NETWORK_EVENT: readonly string[] = ['DEFINED', 'UNDEFINED', 'STARTED', 'STOPPED'];

/** virConnectCloseReason without the VIR_CONNECT_CLOSE_REASON_ prefix. */
export const CLOSE_REASON: readonly string[] = ['ERROR', 'EOF', 'KEEPALIVE', 'CLIENT'];

/** Names an enum value, or 'UNKNOWN(n)'. */
export function enumName(table: readonly string[], n: number): string {
  return table[n] ?? `UNKNOWN(${n})`;
}
