/**
 * A machine without libvirt's library, for one child process at a time: a private mount
 * namespace (unshare -m) in which an empty file is bind-mounted over libvirt.so.0. It goes away
 * with the child; nothing on the host changes.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** The file the dynamic loader opens for libvirt.so.0 (symlinks followed). */
export function libvirtSo(): string {
  const r = spawnSync('ldconfig', ['-p'], { encoding: 'utf8' });
  const line = (r.stdout ?? '').split('\n').find((l) => l.trim().startsWith('libvirt.so.0 ') && l.includes('x86-64'));
  const found = line?.split('=>')[1]?.trim() ?? '/usr/lib/x86_64-linux-gnu/libvirt.so.0';
  return fs.realpathSync(found);
}

/**
 * Calls fn with a command prefix (`[...prefix, CMD, ARGS]`) that runs CMD ARGS in a private mount
 * namespace where libvirt.so.0 is an empty file. The empty file is removed afterwards, whatever
 * happens; the mount dies with the namespace.
 */
export function withoutLibvirt<T>(fn: (prefix: string[]) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hw-nolibvirt-'));
  const empty = path.join(dir, 'libvirt.so.0');
  fs.writeFileSync(empty, '');
  try {
    const script = 'mount --bind "$1" "$2" && shift 2 && exec "$@"';
    return fn(['unshare', '-m', '--', 'sh', '-c', script, 'sh', empty, libvirtSo()]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
