/**
 * Named network namespaces, compatible with iproute2: /run/netns/NAME bind mounts, so
 * `ip netns list` and `ip netns exec` see what hostwire makes, and the other way round.
 */
import * as fs from 'fs';
import { fromNative } from './errors';
import { kernelAddon } from './native';
import { NETNS_DIR } from './rtnl/constants';
import { checkNetnsName } from './rtnl/validate';

/**
 * Creates a named namespace (its unshare runs on a thread the addon owns, which then dies).
 * Equivalent to: ip netns add NAME
 */
export function addNetns(name: string): void {
  checkNetnsName(name);
  try {
    kernelAddon().netnsAdd(NETNS_DIR, `${NETNS_DIR}/${name}`);
  } catch (e) {
    throw fromNative(e, `${NETNS_DIR}/${name}`);
  }
}

/**
 * Removes a named namespace; it dies once no process or socket uses it any more.
 * Equivalent to: ip netns del NAME
 */
export function deleteNetns(name: string): void {
  checkNetnsName(name);
  try {
    kernelAddon().netnsDel(`${NETNS_DIR}/${name}`);
  } catch (e) {
    throw fromNative(e, `${NETNS_DIR}/${name}`);
  }
}

/**
 * The named namespaces, sorted.
 * Equivalent to: ip netns list
 */
export function listNetns(): string[] {
  try {
    return fs.readdirSync(NETNS_DIR).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw fromNative({ ...(e as object), errno: -((e as NodeJS.ErrnoException).errno ?? 0), message: (e as Error).message }, NETNS_DIR);
  }
}
