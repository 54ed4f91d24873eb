/** A libvirt domain (virDomainPtr): methods mirror virDomain* without the prefix, flags last. */
import type { NativeDomain } from '../native';
import {
  VIR_DOMAIN_AFFECT_CONFIG,
  VIR_DOMAIN_AFFECT_LIVE,
  VIR_DOMAIN_DESTROY_GRACEFUL,
  VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN,
  VIR_DOMAIN_SHUTDOWN_GUEST_AGENT,
  VIR_DOMAIN_START_AUTODESTROY,
  VIR_DOMAIN_START_PAUSED,
  VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA,
  VIR_DOMAIN_UNDEFINE_KEEP_NVRAM,
  VIR_DOMAIN_UNDEFINE_KEEP_TPM,
  VIR_DOMAIN_UNDEFINE_MANAGED_SAVE,
  VIR_DOMAIN_UNDEFINE_NVRAM,
  VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA,
  VIR_DOMAIN_UNDEFINE_TPM,
  VIR_DOMAIN_XML_INACTIVE,
  VIR_DOMAIN_XML_MIGRATABLE,
  VIR_DOMAIN_XML_SECURE,
  VIR_DOMAIN_XML_UPDATE_CPU,
} from './constants';
import { DOMAIN_STATE, enumName } from './names';
import { call } from './errors';
import { interfacesFromXml, type DomainInterface } from './interfaces';
import { checkFlags, checkXml } from './validate';

/** One row of listAllDomains(). */
export interface DomainInfo {
  name: string;
  uuid: string;
  /** The hypervisor id while running, else -1 (virsh shows '-'). */
  id: number;
  /** As virsh prints it: 'running', 'shut off', 'paused' ... */
  state: string;
  persistent: boolean;
}

/** What getState() resolves. */
export interface DomainState {
  /** As virsh prints it: 'running', 'shut off' ... */
  state: string;
  /** virDomainState. */
  number: number;
  /** The reason enum of that state (virDomainRunningReason ...). */
  reason: number;
}

const UNDEFINE_FLAGS =
  VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
  VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
  VIR_DOMAIN_UNDEFINE_NVRAM |
  VIR_DOMAIN_UNDEFINE_KEEP_NVRAM |
  VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA |
  VIR_DOMAIN_UNDEFINE_TPM |
  VIR_DOMAIN_UNDEFINE_KEEP_TPM;
const XML_FLAGS = VIR_DOMAIN_XML_SECURE | VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_UPDATE_CPU | VIR_DOMAIN_XML_MIGRATABLE;
const AFFECT_FLAGS = VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG;

export class Domain {
  /** Equivalent to: virDomainGetName. */
  readonly name: string;
  /** Equivalent to: virDomainGetUUIDString. */
  readonly uuid: string;
  readonly #native: NativeDomain;

  /** @internal Made by Connection lookups. */
  constructor(native: NativeDomain) {
    this.#native = native;
    this.name = native.name;
    this.uuid = native.uuid;
  }

  /** Boots a defined domain. Equivalent to: virsh start NAME (virDomainCreateWithFlags). */
  async create(flags = 0): Promise<void> {
    checkFlags(flags, VIR_DOMAIN_START_PAUSED | VIR_DOMAIN_START_AUTODESTROY);
    return call('domainCreate', () => this.#native.create(flags));
  }

  /** Asks the guest to shut down. Equivalent to: virsh shutdown NAME (virDomainShutdownFlags). */
  async shutdown(flags = 0): Promise<void> {
    checkFlags(flags, VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN | VIR_DOMAIN_SHUTDOWN_GUEST_AGENT);
    return call('domainShutdown', () => this.#native.shutdown(flags));
  }

  /** Stops the domain at once. Equivalent to: virsh destroy NAME (virDomainDestroyFlags). */
  async destroy(flags = 0): Promise<void> {
    checkFlags(flags, VIR_DOMAIN_DESTROY_GRACEFUL);
    return call('domainDestroy', () => this.#native.destroy(flags));
  }

  /** Removes the persistent definition. Equivalent to: virsh undefine NAME (virDomainUndefineFlags). */
  async undefine(flags = 0): Promise<void> {
    checkFlags(flags, UNDEFINE_FLAGS);
    return call('domainUndefine', () => this.#native.undefine(flags));
  }

  /** Equivalent to: virDomainIsActive. */
  isActive(): Promise<boolean> {
    return call('domainIsActive', () => this.#native.isActive());
  }

  /** Equivalent to: virDomainIsPersistent. */
  isPersistent(): Promise<boolean> {
    return call('domainIsPersistent', () => this.#native.isPersistent());
  }

  /** The hypervisor id, -1 when not running. Equivalent to: virsh domid NAME (virDomainGetID). */
  getID(): Promise<number> {
    return call('domainGetID', () => this.#native.getID());
  }

  /** Equivalent to: virsh domstate NAME --reason (virDomainGetState). */
  async getState(): Promise<DomainState> {
    const [number, reason] = await call('domainGetState', () => this.#native.getState());
    return { state: enumName(DOMAIN_STATE, number), number, reason };
  }

  /** Equivalent to: virsh dumpxml NAME [--inactive] (virDomainGetXMLDesc). */
  async getXMLDesc(flags = 0): Promise<string> {
    checkFlags(flags, XML_FLAGS);
    return call('domainGetXMLDesc', () => this.#native.getXMLDesc(flags));
  }

  /**
   * Hot-plugs (VIR_DOMAIN_AFFECT_LIVE) and/or adds to the definition (VIR_DOMAIN_AFFECT_CONFIG)
   * a device. Equivalent to: virsh attach-device NAME FILE [--live] [--config]
   * (virDomainAttachDeviceFlags).
   */
  async attachDevice(xml: string, flags = 0): Promise<void> {
    checkXml(xml);
    checkFlags(flags, AFFECT_FLAGS);
    return call('domainAttachDevice', () => this.#native.attachDevice(xml, flags));
  }

  /**
   * Unplugs a device, matched by libvirt on the XML given (for a NIC: its MAC).
   * Equivalent to: virsh detach-device NAME FILE [--live] [--config] (virDomainDetachDeviceFlags).
   * Resolves once QEMU accepted the request; the guest may finish the unplug a little later.
   */
  async detachDevice(xml: string, flags = 0): Promise<void> {
    checkXml(xml);
    checkFlags(flags, AFFECT_FLAGS);
    return call('domainDetachDevice', () => this.#native.detachDevice(xml, flags));
  }

  /**
   * The domain's network interfaces (type, MAC, target vnetN, source, model) from its live XML,
   * or its inactive XML with VIR_DOMAIN_XML_INACTIVE. Equivalent to: virsh domiflist NAME.
   */
  async interfaces(flags = 0): Promise<DomainInterface[]> {
    return interfacesFromXml(await this.getXMLDesc(flags));
  }

  /** Releases the handle now rather than at garbage collection. Equivalent to: virDomainFree. */
  free(): void {
    this.#native.free();
  }
}
