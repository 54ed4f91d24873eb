/**
 * `npm run demo`: the bridged-networking tutorial, end to end, in throwaway namespaces.
 *
 * It starts its own libvirtd + QEMU inside a namespace (test/helpers/libvirtd.ts) when none is
 * running, prints the URI it uses, and walks the tutorial in its order with hostwire commands,
 * printing each the way a terminal shows it (a `$ ...` line, then the output):
 *
 *  1. libvirt's default NAT network, defined as Debian's libvirt ships it (virbr0,
 *     192.168.122.1/24, DHCP .2-.254), started and listed; the bridges (ip link show type bridge)
 *     and virbr0's ports (ip link show master virbr0).
 *  2. A stand-in physical NIC: eth0, a veth whose far end sits in a second namespace that plays the
 *     LAN (192.168.50.1); eth0 has 192.168.50.10/24 and the default route; the LAN answers ping.
 *  3. `link set eth0 master virbr0`: refused with ENATBRIDGE (the uplink onto a NAT bridge).
 *  4. `bridge uplink eth0 --bridge br0`: eth0's address and default route move to the new br0;
 *     the LAN still answers ping.
 *  5. `bridge persist br0 --format networkd` prints the systemd-networkd files; `firewall show`.
 *  6. The bridged network on br0, a diskless VM on it (its vnet on br0, beside eth0), a second NIC
 *     hot-plugged (a second vnet) and unplugged, then everything destroyed and undefined.
 *
 * Nothing is left behind (namespaces, daemon, dnsmasq, qemu, definitions, temporary files), also
 * on failure, on Ctrl-C (SIGTERM, SIGHUP) and when stdout is closed (`| head`): the first signal
 * stops the walk before its next command and lets each step undo itself; a second one runs the
 * undo list at once. When a libvirtd is already running,
 * or none can start, it says why and walks what test:///default can do instead. (Demo code lives
 * outside src/: it may spawn daemons.)
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Connection } from '../src/libvirt';
import { run } from '../src/cli/main';
import type { CliContext } from '../src/cli/context';
import { addNetns, deleteNetns, listNetns } from '../src/netns';
import { Handle } from '../src/rtnl/handle';
import { randomMac } from '../src/workflow/domain';
import { SYSTEM_URI, pgrep, startLibvirtd, type Libvirtd } from './helpers/libvirtd';
import { removeDefinitions, vmXml, waitFor } from './helpers/vm';

const DEMO_DOM = `hwdemo-vm${process.pid}`;
const LAN_NS = `hwdemo-lan${process.pid}`;
/** Whether a network named default was defined before the demo started (then it is not undefined). */
let hadDefault = false;

/** libvirt's default NAT network as Debian ships it (/usr/share/libvirt/networks/default.xml). */
export const DEFAULT_NETWORK_XML = `<network>
  <name>default</name>
  <bridge name='virbr0'/>
  <forward/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>
`;

/**
 * What an interrupted demo must still undo, newest first; each step of the normal path removes
 * its entry once it has cleaned up itself.
 */
const pending = new Map<string, () => Promise<unknown> | unknown>();
let interrupted = false;

class Interrupted extends Error {
  constructor() {
    super('interrupted');
  }
}

/** First Ctrl-C: stop before the next command, the steps undo themselves. Second: undo now. */
function onInterrupt(): void {
  if (!interrupted) {
    interrupted = true;
    process.stdout.write('\ninterrupted: cleaning up (Ctrl-C again to hurry)\n');
    return;
  }
  void (async () => {
    for (const [what, fn] of [...pending].reverse()) {
      try {
        await fn();
      } catch (e) {
        console.error(`cleanup of ${what} failed: ${(e as Error).message}`);
      }
    }
    process.exit(130);
  })();
}

const say = (s: string): void => void process.stdout.write(s.endsWith('\n') ? s : s + '\n');

const line = (base: Omit<CliContext, 'out'>, words: string[], note: string): string => {
  const g = [...(base.uri ? ['--uri', base.uri] : []), ...(base.netns ? ['-n', base.netns] : [])];
  return `\n$ hostwire ${[...g, ...words].join(' ')}${note ? `      # ${note}` : ''}`;
};

/** Runs one hostwire command in-process, printing it and its output as a terminal would. */
async function hw(base: Omit<CliContext, 'out'>, words: string[], note = ''): Promise<string> {
  if (interrupted) throw new Interrupted();
  say(line(base, words, note));
  let out = '';
  const code = await run({ ...base, out: (t) => void (out += t.endsWith('\n') ? t : t + '\n') }, words);
  if (out.trim() !== '') process.stdout.write(out.replace(/\n+$/, '\n'));
  if (code !== 0) throw new Error(`hostwire ${words.join(' ')} exited ${code}`);
  return out;
}

/** A hostwire command that must be refused with `code`: prints the error as the CLI does. */
async function hwRefused(base: Omit<CliContext, 'out'>, words: string[], code: string, note = ''): Promise<void> {
  if (interrupted) throw new Interrupted();
  say(line(base, words, note));
  try {
    await run({ ...base, out: (t) => void process.stdout.write(t.endsWith('\n') ? t : t + '\n') }, words);
  } catch (e) {
    const got = (e as { code?: string }).code;
    say(`hostwire: ${got}: ${(e as Error).message}`);
    if (got === code) return;
    throw e;
  }
  throw new Error(`hostwire ${words.join(' ')} was not refused with ${code}`);
}

/** Another program (a test may spawn; src/ never does), printed like the hostwire commands. */
function sh(argv: string[], note = ''): string {
  if (interrupted) throw new Interrupted();
  say(`\n$ ${argv.join(' ')}${note ? `      # ${note}` : ''}`);
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  process.stdout.write(r.stdout + r.stderr);
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}`);
  return r.stdout;
}

const ping = (ns: string, to: string, note: string): string =>
  sh(['ip', 'netns', 'exec', ns, 'ping', '-q', '-c', '1', '-W', '2', to], note);

/** Removes what the walk defined, whatever state it is in. */
async function undefineAll(uri: string, domains: string[], networks: string[]): Promise<void> {
  const c = await Connection.open(uri);
  try {
    await removeDefinitions(c, domains, networks);
  } finally {
    await c.close();
  }
}

/** The walk against the real daemon in namespace `ns`. */
async function realWalk(ns: string, tmp: string): Promise<void> {
  const base = { uri: SYSTEM_URI, netns: ns, json: false };
  const lan = { netns: LAN_NS, json: false };
  const NET = 'host-bridge';
  const DOM = DEMO_DOM;
  // A `default` network defined before the demo (a machine's own) is used, never undefined.
  const probe = await Connection.open(SYSTEM_URI);
  hadDefault = await probe
    .networkLookupByName('default')
    .then((n) => (n.free(), true))
    .catch(() => false);
  await probe.close();
  const networks = hadDefault ? [NET] : [NET, 'default'];
  pending.set('definitions', () => undefineAll(SYSTEM_URI, [DOM], networks));
  try {
    // 1. libvirt's default NAT network.
    const defaultXml = path.join(tmp, 'default.xml');
    fs.writeFileSync(defaultXml, DEFAULT_NETWORK_XML);
    say(`\n$ cat default.xml      # /usr/share/libvirt/networks/default.xml, as Debian ships it\n${DEFAULT_NETWORK_XML.trimEnd()}`);
    if (hadDefault) say('\n(a network named default is already defined here: the demo uses it and leaves it defined)');
    else await hw(base, ['net', 'define', defaultXml], 'virsh net-define default.xml');
    await hw(base, ['net', 'start', 'default'], 'virsh net-start default: virbr0, dnsmasq, NAT rules');
    await hw(base, ['net', 'list', '--all'], 'virsh net-list --all');
    await hw(base, ['link', 'show', 'type', 'bridge'], 'ip link show type bridge');
    await hw(base, ['addr', 'show', 'virbr0'], 'ip addr show virbr0');
    await hw(base, ['link', 'show', 'master', 'virbr0'], 'ip link show master virbr0: no ports yet');

    // 2. A stand-in physical NIC, eth0, whose far end is the LAN (a namespace of its own).
    pending.set('LAN namespace', () => listNetns().includes(LAN_NS) && deleteNetns(LAN_NS));
    await hw({ json: false }, ['netns', 'add', LAN_NS], 'ip netns add: the LAN, with its router at 192.168.50.1');
    await hw(base, ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'lan0'], "the host's NIC, a veth to the LAN");
    await hw(base, ['link', 'set', 'lan0', 'netns', LAN_NS]);
    await hw(lan, ['addr', 'add', '192.168.50.1/24', 'dev', 'lan0']);
    await hw(lan, ['link', 'set', 'lan0', 'up']);
    await hw(base, ['addr', 'add', '192.168.50.10/24', 'dev', 'eth0']);
    await hw(base, ['link', 'set', 'eth0', 'up']);
    await hw(base, ['route', 'add', 'default', 'via', '192.168.50.1', 'dev', 'eth0']);
    await hw(base, ['route', 'show'], 'ip route show');
    ping(ns, '192.168.50.1', 'the LAN answers');

    // 3. The tutorial's warning: not the uplink onto libvirt's NAT bridge.
    await hwRefused(base, ['link', 'set', 'eth0', 'master', 'virbr0'], 'ENATBRIDGE', 'refused: virbr0 is NAT, eth0 the uplink');

    // 4. A bridge of its own: eth0's address and default route move to br0.
    await hw(
      base,
      ['bridge', 'uplink', 'eth0', '--bridge', 'br0'],
      'ip link add br0 type bridge; move addresses and routes; eth0 master br0',
    );
    await hw(base, ['addr', 'show', 'br0'], 'ip addr show br0');
    await hw(base, ['route', 'show'], 'the default route now leaves by br0');
    await hw(base, ['bridge', 'show'], 'brctl show');
    ping(ns, '192.168.50.1', 'the LAN still answers, through br0');

    // 5. Boot-time configuration, and whether bridged traffic meets iptables.
    await hw(base, ['bridge', 'persist', 'br0', '--format', 'networkd'], 'the files for /etc/systemd/network (--dir writes them)');
    await hw(base, ['firewall', 'show'], 'sysctl net.bridge.bridge-nf-call-*');

    // 6. The bridged network, a VM on it, a NIC hot-plugged and unplugged.
    await hw(
      base,
      ['net', 'define-bridge', NET, '--bridge', 'br0', '--start', '--autostart'],
      "<forward mode='bridge'/><bridge name='br0'/>",
    );
    await hw(base, ['net', 'list', '--all']);
    const file = path.join(tmp, 'vm.xml');
    fs.writeFileSync(file, vmXml(DOM, NET));
    await hw(base, ['domain', 'define', file], 'virsh define vm.xml (diskless q35, one NIC on host-bridge)');
    await hw(base, ['domain', 'start', DOM], 'virsh start');
    await hw(base, ['domain', 'list']);
    await hw(base, ['link', 'show', 'master', 'br0'], "ip link show master br0: eth0 and the VM's tap");
    await hw(base, ['domain', 'iflist', DOM], 'virsh domiflist + the bridge each tap is on now');
    const mac = randomMac();
    await hw(
      base,
      ['domain', 'attach-interface', DOM, '--network', NET, '--mac', mac, '--model', 'virtio', '--live'],
      'virsh attach-interface --live',
    );
    await hw(base, ['link', 'show', 'master', 'br0'], 'a second tap appears');
    await hw(base, ['domain', 'detach-interface', DOM, '--mac', mac, '--live'], 'virsh detach-interface --mac');
    const h = new Handle({ netns: ns });
    try {
      await waitFor(
        () => h.listLinks({ master: 'br0' }),
        (l) => l.filter((x) => x.name.startsWith('vnet')).length === 1,
        'the unplugged tap to leave br0',
      );
    } finally {
      h.close();
    }
    await hw(base, ['link', 'show', 'master', 'br0'], 'back to one tap');
    await hw(base, ['domain', 'destroy', DOM]);
    await hw(base, ['domain', 'undefine', DOM]);
    await hw(base, ['net', 'destroy', NET]);
    await hw(base, ['net', 'undefine', NET]);
    await hw(base, ['net', 'destroy', 'default']);
    if (!hadDefault) await hw(base, ['net', 'undefine', 'default']);
    await hw(base, ['net', 'list', '--all']);
    await hw({ json: false }, ['netns', 'del', LAN_NS]);
  } finally {
    await undefineAll(SYSTEM_URI, [DOM], networks);
    if (hadDefault) {
      const c = await Connection.open(SYSTEM_URI);
      const n = await c.networkLookupByName('default').catch(() => null);
      if (n) {
        await n.destroy().catch(() => undefined);
        n.free();
      }
      await c.close();
    }
    pending.delete('definitions');
    if (listNetns().includes(LAN_NS)) deleteNetns(LAN_NS);
    pending.delete('LAN namespace');
  }
}

/** What test:///default can show: it has no real taps and cannot hot-plug. */
export async function fallbackWalk(): Promise<void> {
  const ns = `hwdemo${process.pid}`;
  addNetns(ns);
  pending.set('namespace', () => deleteNetns(ns));
  const base = { uri: 'test:///default', netns: ns, json: false };
  try {
    // The test driver's state lives as long as one connection holds it: keep one open.
    const keep = await Connection.open('test:///default');
    try {
      await hw(base, ['net', 'list', '--all']);
      await hw(base, ['bridge', 'show']);
      await hw(base, ['bridge', 'add', 'br0', '--stp', 'off']);
      await hw(base, ['net', 'define-bridge', 'host-bridge', '--bridge', 'br0', '--start', '--autostart']);
      await hw(base, ['net', 'list', '--all']);
      say('\n(test:///default cannot run a VM or hot-plug NICs: the walk stops here)');
      await hw(base, ['net', 'undefine', 'host-bridge']).catch(() => undefined);
    } finally {
      await keep.close();
    }
  } finally {
    deleteNetns(ns);
    pending.delete('namespace');
  }
}

/** stdout closed under the demo (`npm run demo | head`): stop and clean up, as on Ctrl-C. */
function onStdoutError(): void {
  interrupted = true;
}

async function main(): Promise<void> {
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', onInterrupt);
  process.on('SIGHUP', onInterrupt);
  process.stdout.on('error', onStdoutError);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hostwire-demo-'));
  pending.set('temporary files', () => fs.rmSync(tmp, { recursive: true, force: true }));
  let daemon: Libvirtd | null = null;
  let reason = '';
  let failure: unknown = null;
  try {
    const running = pgrep('libvirtd');
    if (running.length) reason = `a libvirtd is already running (pid ${running.join(', ')}); the demo only uses a daemon it started itself`;
    else {
      try {
        daemon = await startLibvirtd({ own: true });
        const d = daemon;
        pending.set('daemon', () => d.stop());
      } catch (e) {
        reason = `libvirtd could not start here: ${(e as Error).message}`;
      }
    }
    if (daemon && daemon.ns) {
      say(`URI: ${SYSTEM_URI}   (libvirtd + QEMU started by the demo in namespace ${daemon.ns})`);
      await realWalk(daemon.ns, tmp);
    } else {
      say(`URI: test:///default   (falling back: ${reason || 'the daemon found is not one the demo started'})`);
      await fallbackWalk();
    }
  } catch (e) {
    failure = e;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (daemon) {
      say('\n$ stop libvirtd, virtlogd and dnsmasq (by PID), delete the namespace');
      await daemon.stop();
    }
    pending.clear();
    process.removeListener('SIGINT', onInterrupt);
    process.removeListener('SIGTERM', onInterrupt);
    process.removeListener('SIGHUP', onInterrupt);
  }
  const left: string[] = [];
  if (daemon) {
    if (pgrep('libvirtd').length) left.push('libvirtd still running');
    if (daemon.ns && listNetns().includes(daemon.ns)) left.push(`namespace ${daemon.ns}`);
  }
  if (listNetns().includes(LAN_NS)) left.push(`namespace ${LAN_NS}`);
  if (spawnSync('pgrep', ['-f', `guest=${DEMO_DOM}`]).status === 0) left.push('qemu still running');
  if (fs.existsSync('/etc/libvirt/qemu') && fs.readdirSync('/etc/libvirt/qemu').some((f) => f.startsWith('hwdemo-vm')))
    left.push('domain definition');
  if (fs.existsSync('/etc/libvirt/qemu/networks/host-bridge.xml')) left.push('network definition host-bridge');
  if (!hadDefault && fs.existsSync('/etc/libvirt/qemu/networks/default.xml')) left.push('network definition default');
  if (fs.existsSync(tmp)) left.push(tmp);
  if (left.length) throw new Error(`left behind: ${left.join(', ')}`);
  if (failure) throw failure;
  say('\nNothing left behind: no namespace, no daemon, no qemu, no definitions.');
}

if (require.main === module) {
  main().catch((e) => {
    if (e instanceof Interrupted) {
      say('\ninterrupted; nothing left behind: no namespace, no daemon, no qemu, no definitions.');
      process.exitCode = 130;
      return;
    }
    console.error(`demo failed: ${e.code ?? ''} ${e.message}`);
    process.exitCode = 1;
  });
}
