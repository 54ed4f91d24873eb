/**
 * The typed face of native/build/Release/hostwire_libvirt.node. Nothing here validates: the
 * modules above it do, before calling in. Every method returning a Promise runs its libvirt call
 * on the libuv pool; free() and release() only drop references.
 */
import * as fs from 'fs';
import * as path from 'path';

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
  | { kind: 'close'; reason: number };

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
  subscribe(kind: 'domain' | 'network'): Promise<number>;
  unsubscribe(id: number): Promise<void>;
}

export interface LibvirtAddon {
  open(uri: string, readonly: boolean, emit: (ev: NativeEvent) => void, auth: NativeAuth): Promise<NativeConnection>;
}

let addon: LibvirtAddon | undefined;

/** Loads the addon once (lazily, so modules that never touch libvirt never load libvirt.so). */
export function loadAddon(): LibvirtAddon {
  if (!addon) {
    // dist/src/libvirt -> the repository root; src/libvirt (ts-node) -> likewise.
    const rel = 'native/build/Release/hostwire_libvirt.node';
    const candidates = [path.resolve(__dirname, '../../..', rel), path.resolve(__dirname, '../..', rel)];
    const found = candidates.find((p) => fs.existsSync(p)) ?? candidates[0];
    addon = require(found) as LibvirtAddon;
  }
  return addon;
}
