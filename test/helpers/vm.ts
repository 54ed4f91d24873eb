/**
 * What the demo, the e2e test and the real-libvirt tier share: the diskless VM of
 * libvirt-host.md, polling, and removing definitions whatever state they are in.
 */
import type { Connection } from '../../src/libvirt';
import { buildXml, type XmlNode } from '../../src/xml/parser';

/** The diskless q35 VM of libvirt-host.md: starts in about 0.4 s, hot-plugs and unplugs NICs. */
export function vmXml(name: string, network: string): string {
  const doc: XmlNode = {
    domain: {
      '@_type': 'qemu',
      '@_xmlns:qemu': 'http://libvirt.org/schemas/domain/qemu/1.0',
      name,
      memory: { '@_unit': 'MiB', '#text': '64' },
      vcpu: '1',
      os: { type: { '@_arch': 'x86_64', '@_machine': 'q35', '#text': 'hvm' } },
      features: { acpi: '' },
      on_poweroff: 'destroy',
      devices: {
        controller: [
          { '@_type': 'pci', '@_index': '0', '@_model': 'pcie-root' },
          ...Array.from({ length: 4 }, () => ({ '@_type': 'pci', '@_model': 'pcie-root-port' })),
          { '@_type': 'usb', '@_model': 'none' },
        ],
        interface: [{ '@_type': 'network', source: { '@_network': network }, model: { '@_type': 'virtio' } }],
        memballoon: { '@_model': 'none' },
      },
      'qemu:commandline': { 'qemu:arg': [{ '@_value': '-global' }, { '@_value': 'ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off' }] },
    },
  };
  return buildXml(doc);
}

/** Polls fn every 100 ms until ok(value), for at most ms; the last value is in the timeout error. */
export async function waitFor<T>(fn: () => Promise<T>, ok: (v: T) => boolean, what: string, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what} (last: ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Destroys and undefines the named domains, then networks, ignoring what is already gone. */
export async function removeDefinitions(c: Connection, domains: string[], networks: string[]): Promise<void> {
  for (const name of domains) {
    const d = await c.domainLookupByName(name).catch(() => null);
    if (!d) continue;
    await d.destroy().catch(() => undefined);
    await d.undefine().catch(() => undefined);
    d.free();
  }
  for (const name of networks) {
    const n = await c.networkLookupByName(name).catch(() => null);
    if (!n) continue;
    await n.destroy().catch(() => undefined);
    await n.undefine().catch(() => undefined);
    n.free();
  }
}
