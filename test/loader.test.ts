/**
 * The addon loader (src/native.ts): where it finds the addons, and what happens without libvirt.
 * A machine without libvirt's library is made for one child process at a time: a private mount
 * namespace (unshare -m) in which an empty file is bind-mounted over libvirt.so.0. It goes away
 * with the child; nothing on the host changes.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { addonPath } from '../src/native';
import { hostwire, kernelTest, withNetns } from './helpers/kernel';

const ROOT = path.resolve(__dirname, '..', '..');

test('addonPath finds native/build/Release from src/ and from dist/src/', () => {
  for (const name of ['hostwire_kernel', 'hostwire_libvirt']) {
    const want = path.join(ROOT, 'native', 'build', 'Release', `${name}.node`);
    assert.ok(fs.existsSync(want), `${want} is not built`);
    assert.is(addonPath(name, path.join(ROOT, 'src')), want);
    assert.is(addonPath(name, path.join(ROOT, 'dist', 'src')), want);
    assert.is(addonPath(name), want);
  }
});

/** The file the dynamic loader opens for libvirt.so.0 (symlinks followed). */
function libvirtSo(): string {
  const r = spawnSync('ldconfig', ['-p'], { encoding: 'utf8' });
  const line = (r.stdout ?? '').split('\n').find((l) => l.trim().startsWith('libvirt.so.0 ') && l.includes('x86-64'));
  const found = line?.split('=>')[1]?.trim() ?? '/usr/lib/x86_64-linux-gnu/libvirt.so.0';
  return fs.realpathSync(found);
}

/**
 * Runs CMD ARGS in a private mount namespace where libvirt.so.0 is an empty file. The empty file
 * is removed afterwards, whatever happens; the mount dies with the namespace.
 */
function withoutLibvirt<T>(fn: (prefix: string[]) => T): T {
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

// The child: kernel verbs work and never load libvirt; a libvirt call rejects with ENOLIBVIRT.
const CHILD = `
const fs = require('fs');
const hw = require(${JSON.stringify(path.join(ROOT, 'dist', 'src', 'index.js'))});
const loaded = () => /libvirt/.test(fs.readFileSync('/proc/self/maps', 'utf8'));
(async () => {
  const out = { shadowed: fs.statSync(process.argv[2]).size === 0 };
  const h = new hw.Handle({ netns: process.argv[1] });
  out.links = (await h.listLinks()).map((l) => l.name);
  out.libvirtLoadedByKernelVerbs = loaded();
  try {
    await hw.libvirt.Connection.open('test:///default');
    out.open = 'resolved';
  } catch (e) {
    out.open = { code: e.code, hostwireError: e instanceof hw.HostwireError };
  }
  out.linksAfter = (await h.listLinks()).map((l) => l.name);
  h.close();
  console.log(JSON.stringify(out));
})();
`;

kernelTest(test, 'without libvirt.so.0: kernel verbs work, a libvirt call rejects with ENOLIBVIRT', async () => {
  await withNetns((ns) =>
    withoutLibvirt((prefix) => {
      const r = spawnSync(prefix[0], [...prefix.slice(1), process.execPath, '-e', CHILD, ns, libvirtSo()], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.is(r.signal, null, `child died by a signal: ${r.stderr}`);
      assert.is(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout);
      assert.is(out.shadowed, true, 'libvirt.so.0 was not shadowed in the child');
      assert.equal(out.links, ['lo']);
      assert.is(out.libvirtLoadedByKernelVerbs, false);
      assert.equal(out.open, { code: 'ENOLIBVIRT', hostwireError: true });
      assert.equal(out.linksAfter, ['lo']);
    }),
  );
});

kernelTest(test, 'without libvirt.so.0: the CLI reports ENOLIBVIRT and exits 1; kernel verbs still work', async () => {
  await withNetns((ns) =>
    withoutLibvirt((prefix) => {
      const net = hostwire(['--uri', 'test:///default', 'net', 'list'], undefined, { prefix });
      assert.is(net.signal, null, net.stderr);
      assert.is(net.status, 1, net.stderr);
      assert.match(net.stderr, /^hostwire: ENOLIBVIRT: /);

      const json = hostwire(['--json', '--uri', 'test:///default', 'domain', 'list'], undefined, { prefix });
      assert.is(json.status, 1, json.stderr);
      assert.is(JSON.parse(json.stderr).code, 'ENOLIBVIRT');

      const links = hostwire(['-n', ns, 'link', 'show'], undefined, { prefix });
      assert.is(links.status, 0, links.stderr);
      assert.match(links.stdout, /^lo\b/m);
    }),
  );
});

test.run();
