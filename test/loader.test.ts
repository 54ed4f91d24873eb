/**
 * The addon loader (src/native.ts): where it finds the addons, and what happens without libvirt
 * (a private mount namespace where libvirt.so.0 is an empty file: helpers/nolibvirt.ts).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { addonPath } from '../src/native';
import { hostwire, kernelTest, withNetns } from './helpers/kernel';
import { libvirtSo, withoutLibvirt } from './helpers/nolibvirt';

const ROOT = path.resolve(__dirname, '..', '..');

test('addonPath finds native/build/Release from src/ and from dist/src/', () => {
  for (const name of ['hostwire_kernel', 'hostwire_libvirt'] as const) {
    const want = path.join(ROOT, 'native', 'build', 'Release', `${name}.node`);
    assert.ok(fs.existsSync(want), `${want} is not built`);
    assert.is(addonPath(name, path.join(ROOT, 'src')), want);
    assert.is(addonPath(name, path.join(ROOT, 'dist', 'src')), want);
    assert.is(addonPath(name), want);
  }
});

test('addonPath without native/build: node-gyp-build picks the prebuilt binary in native/<addon>/prebuilds; else ENOADDON', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hw-addonpath-'));
  try {
    const from = path.join(root, 'dist', 'bundle');
    fs.mkdirSync(from, { recursive: true });
    fs.mkdirSync(path.join(root, 'native', 'kernel'), { recursive: true });
    let code: unknown;
    try {
      addonPath('hostwire_kernel', from);
    } catch (e) {
      code = (e as { code?: unknown }).code;
    }
    assert.is(code, 'ENOADDON');
    const dir = path.join(root, 'native', 'kernel', 'prebuilds', `${process.platform}-${process.arch}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'hostwire_kernel.glibc.node'), '');
    assert.is(addonPath('hostwire_kernel', from), path.join(dir, 'hostwire_kernel.glibc.node'));
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test("addonPath's direct look at the package's prebuild picks what node-gyp-build picks, for either libc", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hw-addonpath-'));
  const before = process.env.LIBC;
  try {
    const from = path.join(root, 'dist', 'bundle');
    fs.mkdirSync(from, { recursive: true });
    const dir = path.join(root, 'native', 'kernel', 'prebuilds', `${process.platform}-${process.arch}`);
    fs.mkdirSync(dir, { recursive: true });
    for (const libc of ['glibc', 'musl']) fs.writeFileSync(path.join(dir, `hostwire_kernel.${libc}.node`), '');
    // node-gyp-build reads LIBC when it is loaded: a fresh copy for each.
    const freshGyp = () => {
      for (const k of Object.keys(require.cache)) if (k.includes(`${path.sep}node-gyp-build${path.sep}`)) delete require.cache[k];
      return require('node-gyp-build') as { resolve(dir: string): string };
    };
    for (const libc of ['glibc', 'musl']) {
      process.env.LIBC = libc;
      const gyp = freshGyp();
      const got = addonPath('hostwire_kernel', from);
      assert.is(got, path.join(dir, `hostwire_kernel.${libc}.node`));
      assert.is(got, gyp.resolve(path.join(root, 'native', 'kernel')), `node-gyp-build agrees for ${libc}`);
    }
  } finally {
    if (before === undefined) delete process.env.LIBC;
    else process.env.LIBC = before;
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('preloadLibvirt loads the libvirt addon on another thread; libvirtAddon() then only initialises it', () => {
  const native = JSON.stringify(path.join(ROOT, 'dist', 'src', 'native.js'));
  const script = `
    const fs = require('fs');
    const n = require(${native});
    const mapped = () => /hostwire_libvirt/.test(fs.readFileSync('/proc/self/maps', 'utf8'));
    const before = mapped();
    n.preloadLibvirt();
    const t = Date.now();
    while (!mapped() && Date.now() - t < 5000);
    const after = mapped();
    n.libvirtAddon().open('test:///default', true, () => {}, null).then(async (c) => {
      const nets = await c.listAllNetworks(0);
      await c.close();
      console.log(JSON.stringify({ before, after, nets: nets.map((x) => x.name) }));
    });`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.is(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout), { before: false, after: true, nets: ['default'] });
});

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
