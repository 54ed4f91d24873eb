/**
 * The one loader of the native addons (native/: built by node-gyp in a checkout, prebuilt by
 * prebuildify for the package, found by addonPath), and their typed faces. Each addon is loaded
 * on first use: hostwire_kernel (netlink socket, tun/tap, namespaces) by the kernel verbs,
 * hostwire_libvirt (the only one linking libvirt.so.0) by the first libvirt call, so kernel
 * verbs never load libvirt and run where it is not installed.
 * Nothing here validates: the callers do (src/rtnl, src/netns.ts, src/libvirt) before calling in.
 * Every libvirt method returning a Promise runs its call on the libuv pool; free() and release()
 * only drop references.
 */
import * as fs from 'fs';
import * as path from 'path';
import { HostwireError } from './errors';

// ---- hostwire_kernel ----------------------------------------------------------------------

export interface NlSocketOptions {
  protocol?: number;
  /** Path of a namespace file (/run/netns/NAME): the socket is created inside it. */
  netns?: string;
  rcvbuf?: number;
  sndbuf?: number;
  extAck?: boolean;
  capAck?: boolean;
  strictCheck?: boolean;
  /** Allow sendNow() (see native/kernel/nlsock.cc). */
  inline?: boolean;
}

export interface NativeNlSocket {
  readonly port: number;
  readonly fd: number;
  /** Queues one datagram for the socket's own thread (see native/kernel/nlsock.cc). */
  send(datagram: Uint8Array, sendId: number): void;
  /**
   * On an inline socket whose thread is idle: sends on the calling thread and returns the
   * answer's records; otherwise undefined, and nothing was sent.
   */
  sendNow(datagram: Uint8Array, sendId: number): ArrayBuffer | undefined;
  close(): void;
  ref(): void;
  unref(): void;
  addMembership(group: number): void;
  dropMembership(group: number): void;
  getRecvBufferSize(): number;
}

export interface TunSpecNative {
  name: string;
  flags: number;
  owner?: number;
  group?: number;
  queues?: number;
  mtu?: number;
  mac?: Buffer;
  keepFds?: boolean;
  persist?: boolean;
  /** IFLA_IFALIAS, set before TUNSETPERSIST. */
  alias?: string;
  /** Open the queues of an existing macvtap (name) instead of making a tap. */
  macvtap?: boolean;
}

export type TunResultNative =
  { ifindex: number; fds: number[]; code?: undefined } | { code: string; errno: number; syscall: string; message: string };

/** A thread of the addon's that stays in one namespace and makes tun/tap devices there. */
export interface NativeTunWorker {
  create(specs: TunSpecNative[]): Promise<TunResultNative[]>;
  /** Finishes the job under way, fails queued ones with EBADF, ends the thread. */
  close(): void;
}

export interface KernelAddon {
  NlSocket: new (opts: NlSocketOptions, onRecords: (records: ArrayBuffer) => void) => NativeNlSocket;
  TunWorker: new (netns: string | null) => NativeTunWorker;
  netnsAdd(dir: string, file: string): void;
  netnsDel(file: string): void;
  /** Opens path from a thread in the namespace at nsPath (null: this one); returns the fd. */
  openInNetns(nsPath: string | null, path: string, flags: number, mode?: number): number;
  /** dlopen()s path on a thread of its own and returns at once (native/kernel/preload.cc). */
  preload(path: string): void;
  /** _exit(code): the process ends now, without node's teardown (native/kernel/preload.cc). */
  exitNow(code: number): never;
}

// ---- hostwire_libvirt ---------------------------------------------------------------------

export interface NativeNetworkInfo {
  name: string;
  uuid: string;
  active: boolean;
  autostart: boolean;
  persistent: boolean;
  /** The bridge device, or null for networks without one (e.g. forward mode hostdev). */
  bridge: string | null;
}

export interface NativeDomainInfo {
  name: string;
  uuid: string;
  id: number;
  state: number;
  reason: number;
  active: boolean;
  persistent: boolean;
}

export type NativeEvent =
  | { kind: 'domain-lifecycle' | 'network-lifecycle'; name: string; uuid: string; event: number; detail: number }
  | { kind: NativeDeviceEventKind; name: string; uuid: string; alias: string }
  | { kind: 'close'; reason: number };

export type NativeDeviceEventKind = 'domain-device-added' | 'domain-device-removed' | 'domain-device-removal-failed';

export interface NativeCredential {
  type: number;
  prompt: string;
  challenge: string;
  defresult: string;
}

export type NativeAuth =
  | null
  | { username?: string; password?: string }
  | ((creds: NativeCredential[]) => (string | undefined)[] | Promise<(string | undefined)[]>);

export interface NativeNetwork {
  readonly name: string;
  readonly uuid: string;
  create(): Promise<void>;
  destroy(): Promise<void>;
  undefine(): Promise<void>;
  getAutostart(): Promise<boolean>;
  setAutostart(on: boolean): Promise<void>;
  getXMLDesc(flags: number): Promise<string>;
  isActive(): Promise<boolean>;
  isPersistent(): Promise<boolean>;
  getBridgeName(): Promise<string>;
  free(): void;
}

export interface NativeDomain {
  readonly name: string;
  readonly uuid: string;
  create(flags: number): Promise<void>;
  shutdown(flags: number): Promise<void>;
  destroy(flags: number): Promise<void>;
  undefine(flags: number): Promise<void>;
  isActive(): Promise<boolean>;
  isPersistent(): Promise<boolean>;
  getID(): Promise<number>;
  getState(): Promise<[number, number]>;
  getXMLDesc(flags: number): Promise<string>;
  attachDevice(xml: string, flags: number): Promise<void>;
  detachDevice(xml: string, flags: number): Promise<void>;
  free(): void;
}

export interface NativeConnection {
  close(): Promise<void>;
  release(): void;
  isAlive(): Promise<boolean>;
  setKeepAlive(interval: number, count: number): Promise<number>;
  getHostname(): Promise<string>;
  getURI(): Promise<string>;
  getType(): Promise<string>;
  getLibVersion(): Promise<number>;
  getVersion(): Promise<number>;
  listAllNetworks(flags: number): Promise<NativeNetworkInfo[]>;
  listAllDomains(flags: number): Promise<NativeDomainInfo[]>;
  networkLookupByName(name: string): Promise<NativeNetwork>;
  networkLookupByUUIDString(uuid: string): Promise<NativeNetwork>;
  networkDefineXML(xml: string): Promise<NativeNetwork>;
  domainLookupByName(name: string): Promise<NativeDomain>;
  domainLookupByUUIDString(uuid: string): Promise<NativeDomain>;
  domainLookupByID(id: number): Promise<NativeDomain>;
  domainDefineXML(xml: string, flags: number): Promise<NativeDomain>;
  /** One of events.h's supported ids for the kind (EventSupported). */
  subscribe(kind: 'domain' | 'network', eventID: number): Promise<number>;
  unsubscribe(id: number): Promise<void>;
}

export interface LibvirtAddon {
  open(uri: string, readonly: boolean, emit: (ev: NativeEvent) => void, auth: NativeAuth, inline?: boolean): Promise<NativeConnection>;
  /** For leak tests: event sinks alive, and sink references libvirt holds (callbacks registered). */
  stats(): { sinks: number; libvirtRefs: number };
}

// ---- loading ------------------------------------------------------------------------------

/** Each addon and its directory under native/ (its binding.gyp; in the package, its prebuilds). */
const ADDON_DIRS = { hostwire_kernel: 'kernel', hostwire_libvirt: 'libvirt' } as const;
export type AddonName = keyof typeof ADDON_DIRS;

/**
 * Where the addon NAME is, for the hostwire tree above `from` (this file's directory: src/,
 * dist/src/, or dist/bundle/ for the bundles). The one place that knows the layout:
 * - native/build/Release/NAME.node, when a checkout has built both addons there
 *   (`node-gyp rebuild --directory=native`, as the bootstrap does);
 * - else the prebuilt binary for this platform and libc under native/<addon>/prebuilds (made
 *   by prebuildify, native/prebuild.js): what the package ships, found directly;
 * - else node-gyp-build's choice in native/<addon>/ (its own build/Release, other prebuilds).
 * Throws ENOADDON when there is neither.
 */
export function addonPath(name: AddonName, from = __dirname): string {
  const sub = ADDON_DIRS[name];
  let dir = from;
  for (let i = 0; i < 4 && !fs.existsSync(path.join(dir, 'native', sub)); i++) dir = path.dirname(dir);
  const built = path.join(dir, 'native', 'build', 'Release', `${name}.node`);
  if (fs.existsSync(built)) return built;
  // The package's own prebuild (prebuildify names it NAME.LIBC.node), looked at directly:
  // node-gyp-build would pick the same file, after reading and parsing the directory (~1 ms of
  // every command's start, before the libvirt preload can begin). Its libc rule, mirrored.
  const libc = process.env.LIBC || (fs.existsSync('/etc/alpine-release') ? 'musl' : 'glibc');
  const prebuilt = path.join(dir, 'native', sub, 'prebuilds', `${process.platform}-${process.arch}`, `${name}.${libc}.node`);
  if (fs.existsSync(prebuilt)) return prebuilt;
  try {
    return (require('node-gyp-build') as { resolve(dir: string): string }).resolve(path.join(dir, 'native', sub));
  } catch (e) {
    throw new HostwireError('ENOADDON', `the addon ${name} is not built for this platform: ${(e as Error).message.trim()}`);
  }
}

let kernel: KernelAddon | undefined;
let libvirt: LibvirtAddon | undefined;

/**
 * Ends the process with `code` at once (_exit, through the kernel addon, loaded here if no verb
 * loaded it: the CLI's libvirt commands), skipping node's teardown (joining its threads, V8's
 * heap, every loaded library's destructors: ~1 ms, ~1.5 more with libvirt loaded); without the
 * kernel addon, process.exit(code). Only for a process whose work is done
 * and whose output was written synchronously (the CLI): 'exit' listeners do not run. A node
 * started with options (--cpu-prof, --inspect, NODE_OPTIONS) or collecting coverage
 * (NODE_V8_COVERAGE) writes what they gathered as it exits: it gets process.exit.
 */
export function exitNow(code: number): never {
  if (!process.execArgv.length && !process.env.NODE_OPTIONS && !process.env.NODE_V8_COVERAGE) {
    try {
      kernelAddon().exitNow(code);
    } catch {
      // No kernel addon: node's own exit.
    }
  }
  process.exit(code);
}

/** The kernel addon, loaded by the first kernel verb. */
export function kernelAddon(): KernelAddon {
  return (kernel ??= require(addonPath('hostwire_kernel')) as KernelAddon);
}

/**
 * Starts loading the libvirt addon's file, and with it libvirt.so.0 and its ~55 libraries, on a
 * thread of the kernel addon's, for a process about to call libvirt (the CLI's net, domain and
 * event commands: src/cli/bin.ts). The ~10 ms of dynamic linking then overlaps the command's own
 * start instead of following it. Loading proper, the addon's init and any error (ENOLIBVIRT)
 * stay with libvirtAddon(); if the addon cannot be found, nothing happens here.
 */
export function preloadLibvirt(): void {
  if (libvirt) return;
  try {
    kernelAddon().preload(addonPath('hostwire_libvirt'));
  } catch {
    // libvirtAddon() reports it when it is asked for.
  }
}

/**
 * The libvirt addon, loaded by the first libvirt call. When the dynamic loader cannot load
 * libvirt's library (libvirt.so.0 missing, unreadable, or without a symbol the addon needs),
 * throws ENOLIBVIRT naming the Debian package that provides it; anything else is rethrown as is.
 */
export function libvirtAddon(): LibvirtAddon {
  if (libvirt) return libvirt;
  try {
    return (libvirt = require(addonPath('hostwire_libvirt')) as LibvirtAddon);
  } catch (e) {
    const err = e as { code?: unknown; message?: unknown };
    const message = String(err?.message);
    if (err?.code === 'ERR_DLOPEN_FAILED' && (/\blibvirt\.so/.test(message) || /undefined symbol: vir/.test(message)))
      throw new HostwireError(
        'ENOLIBVIRT',
        `libvirt's shared library (libvirt.so.0) cannot be loaded (${message}): install the Debian package libvirt0 (apt-get install libvirt0)`,
      );
    throw e;
  }
}
