/**
 * hostwire: host-side VM networking over rtnetlink and libvirt, with no processes spawned.
 *
 *   import { Handle, addNetns, Connection } from 'hostwire';
 *
 * The kernel side (links, bridges, taps, namespaces, batches) and the libvirt side load
 * separate addons, so using one never loads the other's.
 */
export * from './errors';
export * from './rtnl';
export { addNetns, deleteNetns, listNetns } from './netns';
export * as libvirt from './libvirt';
export * as workflow from './workflow';
