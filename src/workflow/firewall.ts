/**
 * The br_netfilter switches of the tutorial's firewall step: whether bridged traffic goes
 * through iptables, ip6tables and arptables (net.bridge.bridge-nf-call-*). They are per network
 * namespace, so the /proc/sys file is opened by the addon from a thread it owns that entered
 * the namespace (openInNetns); reads and writes through that fd act on that namespace.
 */
import * as fs from 'fs';
import { HostwireError, SyscallError, ValidationError, fromNative } from '../errors';
import { kernelAddon } from '../native';
import { NETNS_DIR } from '../rtnl/constants';
import { checkNetnsName } from '../rtnl/validate';

/** The sysctls, by the CLI's names, as files under /proc/sys/net/bridge. */
export const BRIDGE_NF = {
  iptables: 'bridge-nf-call-iptables',
  ip6tables: 'bridge-nf-call-ip6tables',
  arptables: 'bridge-nf-call-arptables',
} as const;
export type BridgeNfKey = keyof typeof BRIDGE_NF;
export type BridgeFirewall = Record<BridgeNfKey, boolean>;

const DIR = '/proc/sys/net/bridge';

export interface FirewallOptions {
  /** The namespace (like `ip -n NS`); default the current one. */
  netns?: string;
  /** Where the switches live (default /proc/sys/net/bridge); tests point it elsewhere. */
  dir?: string;
}

/**
 * Opens `path` as seen from the named namespace (the current one when none), on an addon-owned
 * thread. Equivalent to: ip netns exec NS (open PATH)
 */
export function openInNetns(netns: string | undefined, path: string, flags: number): number {
  const nsPath = netns === undefined ? null : `${NETNS_DIR}/${checkNetnsName(netns)}`;
  try {
    return kernelAddon().openInNetns(nsPath, path, flags);
  } catch (e) {
    const n = e as { syscall?: string; errno?: number; code?: string };
    if (n.syscall === 'setns' && n.code === 'ENOENT')
      throw new SyscallError('ENOENT', n.errno ?? 2, 'setns', `no namespace named '${netns}'`, nsPath ?? undefined);
    throw fromNative(e, path);
  }
}

function sysctlFile(key: BridgeNfKey, opts: FirewallOptions, flags: number): number {
  const dir = opts.dir ?? DIR;
  try {
    return openInNetns(opts.netns, `${dir}/${BRIDGE_NF[key]}`, flags);
  } catch (e) {
    if ((e as SyscallError).code === 'ENOENT' && (e as SyscallError).syscall === 'open')
      throw new HostwireError(
        'ENOBRNETFILTER',
        `${dir} does not exist${opts.netns ? ` in namespace ${opts.netns}` : ''}: the br_netfilter module is not loaded (modprobe br_netfilter)`,
      );
    throw e;
  }
}

function readFd(fd: number): string {
  const buf = Buffer.alloc(64);
  const n = fs.readSync(fd, buf, 0, buf.length, 0);
  return buf.subarray(0, n).toString('utf8').trim();
}

/**
 * The three switches in the namespace (default: the current one).
 * Equivalent to: sysctl net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables net.bridge.bridge-nf-call-arptables
 */
export function getBridgeFirewall(opts: FirewallOptions = {}): BridgeFirewall {
  const out = {} as BridgeFirewall;
  for (const key of Object.keys(BRIDGE_NF) as BridgeNfKey[]) {
    const fd = sysctlFile(key, opts, fs.constants.O_RDONLY);
    try {
      out[key] = readFd(fd) !== '0';
    } finally {
      fs.closeSync(fd);
    }
  }
  return out;
}

/**
 * Sets some of the switches; all are checked before any is written, and if a write fails the
 * ones already written are put back. Returns the state afterwards.
 * Equivalent to: sysctl -w net.bridge.bridge-nf-call-iptables=0|1 ...
 */
export function setBridgeFirewall(change: Partial<BridgeFirewall>, opts: FirewallOptions = {}): BridgeFirewall {
  const keys = Object.keys(change) as BridgeNfKey[];
  for (const k of keys) {
    if (!(k in BRIDGE_NF)) throw new ValidationError('EINVALIDARG', `unknown switch '${k}' (iptables, ip6tables, arptables)`, k);
    if (typeof change[k] !== 'boolean') throw new ValidationError('EINVALIDARG', `${k} must be true or false`, k);
  }
  const before = getBridgeFirewall(opts);
  const written: BridgeNfKey[] = [];
  const write = (k: BridgeNfKey, on: boolean): void => {
    const fd = sysctlFile(k, opts, fs.constants.O_WRONLY);
    try {
      fs.writeSync(fd, on ? '1\n' : '0\n');
    } catch (e) {
      throw fromNative(
        {
          code: (e as NodeJS.ErrnoException).code,
          errno: -((e as NodeJS.ErrnoException).errno ?? 0),
          syscall: 'write',
          message: (e as Error).message,
        },
        `${opts.dir ?? DIR}/${BRIDGE_NF[k]}`,
      );
    } finally {
      fs.closeSync(fd);
    }
  };
  try {
    for (const k of keys) {
      if (before[k] === change[k]) continue;
      write(k, change[k]!);
      written.push(k);
    }
  } catch (e) {
    for (const k of written) {
      try {
        write(k, before[k]);
      } catch {
        /* the original error is the one to report */
      }
    }
    throw e;
  }
  return getBridgeFirewall(opts);
}
