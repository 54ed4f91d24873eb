/** A libvirt virtual network (virNetworkPtr): methods mirror virNetwork* without the prefix. */
import type { NativeNetwork, NativeNetworkInfo } from '../native';
import { VIR_NETWORK_XML_INACTIVE } from './constants';
import { ValidationError } from '../errors';
import { call } from './errors';
import { checkFlags } from './validate';

/** One row of listAllNetworks(): the addon's record, as is. */
export type NetworkInfo = NativeNetworkInfo;

export class Network {
  /** The network's name. Equivalent to: virNetworkGetName. */
  readonly name: string;
  /** The network's UUID. Equivalent to: virNetworkGetUUIDString. */
  readonly uuid: string;
  readonly #native: NativeNetwork;

  /** @internal Made by Connection lookups. */
  constructor(native: NativeNetwork) {
    this.#native = native;
    this.name = native.name;
    this.uuid = native.uuid;
  }

  /** Starts a defined network. Equivalent to: virsh net-start NAME (virNetworkCreate). */
  create(): Promise<void> {
    return call('networkCreate', () => this.#native.create());
  }

  /** Stops a running network. Equivalent to: virsh net-destroy NAME (virNetworkDestroy). */
  destroy(): Promise<void> {
    return call('networkDestroy', () => this.#native.destroy());
  }

  /** Removes a persistent definition. Equivalent to: virsh net-undefine NAME (virNetworkUndefine). */
  undefine(): Promise<void> {
    return call('networkUndefine', () => this.#native.undefine());
  }

  /** Equivalent to: virNetworkGetAutostart (the Autostart column of virsh net-list). */
  getAutostart(): Promise<boolean> {
    return call('networkGetAutostart', () => this.#native.getAutostart());
  }

  /** Equivalent to: virsh net-autostart NAME [--disable] (virNetworkSetAutostart). */
  async setAutostart(on: boolean): Promise<void> {
    if (typeof on !== 'boolean') throw new ValidationError('EINVALIDARG', 'on must be a boolean', 'on');
    return call('networkSetAutostart', () => this.#native.setAutostart(on));
  }

  /**
   * The network's XML; flags VIR_NETWORK_XML_INACTIVE for the persistent definition.
   * Equivalent to: virsh net-dumpxml NAME [--inactive] (virNetworkGetXMLDesc).
   */
  async getXMLDesc(flags = 0): Promise<string> {
    checkFlags(flags, VIR_NETWORK_XML_INACTIVE);
    return call('networkGetXMLDesc', () => this.#native.getXMLDesc(flags));
  }

  /** Equivalent to: virNetworkIsActive. */
  isActive(): Promise<boolean> {
    return call('networkIsActive', () => this.#native.isActive());
  }

  /** Equivalent to: virNetworkIsPersistent. */
  isPersistent(): Promise<boolean> {
    return call('networkIsPersistent', () => this.#native.isPersistent());
  }

  /** The bridge device of the network. Equivalent to: virNetworkGetBridgeName. */
  getBridgeName(): Promise<string> {
    return call('networkGetBridgeName', () => this.#native.getBridgeName());
  }

  /** Releases the handle now rather than at garbage collection. Equivalent to: virNetworkFree. */
  free(): void {
    this.#native.free();
  }
}
