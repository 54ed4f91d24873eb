/**
 * `npm run demo`: the bridged-networking tutorial, end to end, in a throwaway namespace.
 *
 * It starts its own libvirtd + QEMU inside a namespace (test/helpers/libvirtd.ts) when none is
 * running, prints the URI it uses, and walks the tutorial with hostwire commands, printing each
 * the way the CLI shows it: the networks with --all, the bridges, br0 created, a bridged network
 * defined/started/autostarted, a diskless VM started on it, `master br0` listing its vnet0, a
 * second NIC hot-plugged (vnet1 appears) and unplugged, then everything destroyed, undefined and
 * the daemon stopped. Nothing is left behind (namespace, daemon, qemu, definitions), also on
 * failure. When a libvirtd is already running, or none can start, it says why and walks what
 * test:///default can do instead. (Demo code lives outside src/: it may spawn daemons.)
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

/**
 * What an interrupted demo (Ctrl-C) must still undo, newest first; each step of the normal
 * path removes its entry once it has cleaned up itself.
 */
const pending = new Map<string, () => Promise<unknown> | unknown>();
function onInterrupt(): void {
  process.stdout.write('\ninterrupted: cleaning up\n');
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

/** Runs one hostwire command in-process, printing it and its output as a terminal would. */
async function hw(base: Omit<CliContext, 'out'>, words: string[], note = ''): Promise<string> {
  const g = [...(base.uri ? ['--uri', base.uri] : []), ...(base.netns ? ['-n', base.netns] : [])];
  say(`\n$ hostwire ${[...g, ...words].join(' ')}${note ? `      # ${note}` : ''}`);
  let out = '';
  const code = await run({ ...base, out: (t) => void (out += t.endsWith('\n') ? t : t + '\n') }, words);
  process.stdout.write(out.replace(/\n+$/, '\n'));
  if (code !== 0) throw new Error(`hostwire ${words.join(' ')} exited ${code}`);
  return out;
}

/** Removes what the walk defined, whatever state it is in. */
async function undefineAll(uri: string, dom: string, net: string): Promise<void> {
  const c = await Connection.open(uri);
  try {
    await removeDefinitions(c, [dom], [net]);
  } finally {
    await c.close();
  }
}

/** The walk against the real daemon in namespace `ns`. */
async function realWalk(ns: string, tmp: string): Promise<void> {
  const base = { uri: SYSTEM_URI, netns: ns, json: false };
  const NET = 'host-bridge';
  const DOM = DEMO_DOM;
  pending.set('definitions', () => undefineAll(SYSTEM_URI, DOM, NET));
  try {
    await hw(base, ['net', 'list', '--all'], 'virsh net-list --all');
    await hw(base, ['bridge', 'show'], 'brctl show: no bridges yet');
    await hw(base, ['bridge', 'add', 'br0', '--stp', 'off'], 'ip link add br0 type bridge');
    await hw(base, ['link', 'set', 'br0', 'up'], 'ip link set br0 up');
    await hw(base, ['bridge', 'show'], 'brctl show');
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
    await hw(base, ['link', 'show', 'master', 'br0'], "ip link show master br0: the VM's tap");
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
        (l) => l.length === 1,
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
    await hw(base, ['bridge', 'del', 'br0']);
    await hw(base, ['net', 'list', '--all']);
  } finally {
    await undefineAll(SYSTEM_URI, DOM, NET);
    pending.delete('definitions');
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

async function main(): Promise<void> {
  process.once('SIGINT', onInterrupt);
  process.once('SIGTERM', onInterrupt);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hostwire-demo-'));
  pending.set('temporary files', () => fs.rmSync(tmp, { recursive: true, force: true }));
  let daemon: Libvirtd | null = null;
  let reason = '';
  try {
    const running = pgrep('libvirtd');
    if (running.length) reason = `a libvirtd is already running (pid ${running.join(', ')}); the demo only uses a daemon it started itself`;
    else {
      try {
        daemon = await startLibvirtd();
        const d = daemon;
        pending.set('daemon', () => d.stop());
      } catch (e) {
        reason = `libvirtd could not start here: ${(e as Error).message}`;
      }
    }
    if (daemon && !daemon.external && daemon.ns) {
      say(`URI: ${SYSTEM_URI}   (libvirtd + QEMU started by the demo in namespace ${daemon.ns})`);
      await realWalk(daemon.ns, tmp);
    } else {
      say(`URI: test:///default   (falling back: ${reason || 'the daemon found is not one the demo started'})`);
      await fallbackWalk();
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (daemon) {
      say('\n$ stop libvirtd and virtlogd (by PID), delete the namespace');
      await daemon.stop();
    }
    pending.clear();
    process.removeListener('SIGINT', onInterrupt);
    process.removeListener('SIGTERM', onInterrupt);
  }
  const left: string[] = [];
  if (daemon && !daemon.external) {
    if (pgrep('libvirtd').length) left.push('libvirtd still running');
    if (daemon.ns && listNetns().includes(daemon.ns)) left.push(`namespace ${daemon.ns}`);
  }
  if (spawnSync('pgrep', ['-f', `guest=${DEMO_DOM}`]).status === 0) left.push('qemu still running');
  if (fs.existsSync('/etc/libvirt/qemu') && fs.readdirSync('/etc/libvirt/qemu').some((f) => f.startsWith('hwdemo-vm')))
    left.push('domain definition');
  if (fs.existsSync('/etc/libvirt/qemu/networks/host-bridge.xml')) left.push('network definition');
  if (left.length) throw new Error(`left behind: ${left.join(', ')}`);
  say('\nNothing left behind: no namespace, no daemon, no qemu, no definitions.');
}

if (require.main === module) {
  main().catch((e) => {
    console.error(`demo failed: ${e.code ?? ''} ${e.message}`);
    process.exitCode = 1;
  });
}
