/**
 * The package, from the outside: `npm pack` (its prepack brings the prebuilt addons, the build
 * and the bundles up to date), then `npm install --ignore-scripts` of the tarball into an empty
 * project in a temporary directory (dependencies from npm's cache where it has them), then what
 * a user does with it: require and a kernel verb in a throwaway namespace, import, a strict
 * TypeScript consumer (moduleResolution node16 and bundler), `npx hostwire`, and the same with
 * libvirt's library missing. Nothing is compiled at install: the addons must come from the
 * tarball's prebuilds. The temporary directory goes, whatever happens.
 */
import { spawnSync, type SpawnSyncOptions } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ipJson, kernelTest, withNetns } from './helpers/kernel';
import { withoutLibvirt } from './helpers/nolibvirt';

const t = suite('package');
const ROOT = path.resolve(__dirname, '..', '..');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** The environment without what `npm test` put in it (npm_config_*, npm_lifecycle_* ...): a user's shell. */
function userEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
}

function run(cmd: string, args: string[], o: SpawnSyncOptions & { prefix?: string[] } = {}) {
  const argv = o.prefix ? [...o.prefix.slice(1), cmd, ...args] : args;
  const r = spawnSync(o.prefix ? o.prefix[0] : cmd, argv, { encoding: 'utf8', env: userEnv(), timeout: 300_000, ...o });
  return { status: r.status, signal: r.signal, stdout: String(r.stdout), stderr: String(r.stderr) };
}

function ok(r: ReturnType<typeof run>, what: string): string {
  assert.is(r.signal, null, `${what}: killed by ${r.signal}`);
  assert.is(r.status, 0, `${what}: ${r.stderr}`);
  return r.stdout;
}

/** Packs the repo and installs the tarball into a new project under tmp; returns the project's directory. */
function install(tmp: string): string {
  const packs = path.join(tmp, 'pack');
  fs.mkdirSync(packs);
  ok(run('npm', ['pack', '--pack-destination', packs, '--loglevel=error'], { cwd: ROOT }), 'npm pack');
  const [tgz] = fs.readdirSync(packs).filter((f) => f.endsWith('.tgz'));
  assert.ok(tgz, 'npm pack made no tarball');

  const listing = ok(run('tar', ['tzf', path.join(packs, tgz)]), 'tar').split('\n');
  for (const want of [
    'package/package.json',
    'package/README.md',
    'package/LICENSE',
    'package/dist/bundle/hostwire.js',
    'package/dist/bundle/hostwire.mjs',
    'package/dist/bundle/cli.js',
    'package/dist/bundle/cli.cache',
    'package/dist/bundle/bin.js',
    'package/dist/src/index.d.ts',
  ])
    assert.ok(listing.includes(want), `the tarball has ${want}`);
  for (const addon of ['kernel', 'libvirt'])
    assert.ok(
      listing.some((f) => f.startsWith(`package/native/${addon}/prebuilds/linux-x64/`) && f.endsWith('.node')),
      `the tarball has the prebuilt ${addon} addon`,
    );
  const unwanted = listing.filter((f) =>
    /^package\/(test|bench|pkg|\.ci|src)\/|^package\/dist\/(test|bench|pkg)\/|\.cc$|\.ts$(?<!\.d\.ts)|binding\.gyp$/.test(f),
  );
  assert.equal(unwanted, [], 'no tests, bench, CI, sources or build files');

  const project = path.join(tmp, 'consumer');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  ok(
    run('npm', ['install', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', path.join(packs, tgz)], {
      cwd: project,
    }),
    'npm install',
  );
  return project;
}

/** The addons a child loaded, from its /proc/self/maps, and whether libvirt came with them. */
const MAPS = `const maps = require('fs').readFileSync('/proc/self/maps', 'utf8');
const addons = [...new Set(maps.split('\\n').filter((l) => l.endsWith('.node')).map((l) => l.slice(l.indexOf('/'))))];
const libvirtMapped = /libvirt\\.so/.test(maps);`;

kernelTest(
  t,
  'npm pack, npm install --ignore-scripts of the tarball, then require, import, TypeScript, npx hostwire; without libvirt too',
  async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hw-package-'));
    try {
      const project = install(tmp);
      const pkg = path.join(project, 'node_modules', 'hostwire');
      assert.not.ok(fs.existsSync(path.join(pkg, 'native', 'build')), 'nothing was built at install');

      await withNetns(async (ns) => {
        // CommonJS: require, a kernel verb in the namespace; the addon is the tarball's prebuilt one, libvirt not loaded.
        fs.writeFileSync(
          path.join(project, 'cjs.js'),
          `const { Handle, HostwireError, libvirt } = require('hostwire');
(async () => {
  const h = new Handle({ netns: process.argv[2] });
  await h.createBridge('hwpkg0', { stp: false });
  const made = await h.getLink('hwpkg0');
  const links = (await h.listLinks()).map((l) => l.name);
  h.close();
  ${MAPS}
  console.log(JSON.stringify({ made: typeof made.index, links, addons, libvirt: libvirtMapped, typed: typeof HostwireError, lv: typeof libvirt.Connection }));
})();`,
        );
        const cjs = JSON.parse(ok(run(process.execPath, ['cjs.js', ns], { cwd: project }), 'require'));
        assert.equal(cjs.links.sort(), ['hwpkg0', 'lo']);
        assert.is(cjs.made, 'number');
        assert.is(cjs.libvirt, false, 'a kernel verb does not load libvirt');
        assert.is(cjs.addons.length, 1);
        assert.ok(cjs.addons[0].startsWith(path.join(pkg, 'native', 'kernel', 'prebuilds') + '/'), cjs.addons[0]);
        assert.equal([cjs.typed, cjs.lv], ['function', 'function']);
        assert.is(ipJson('-n', ns, '-d', 'link', 'show', 'hwpkg0')[0].linkinfo.info_kind, 'bridge');

        // ESM: named and default imports, the same instance as require's.
        fs.writeFileSync(
          path.join(project, 'esm.mjs'),
          `import { Handle, libvirt, runBatch } from 'hostwire';
import hostwire from 'hostwire';
import { createRequire } from 'module';
const same = createRequire(import.meta.url)('hostwire').Handle === Handle && hostwire.Handle === Handle;
const h = new Handle({ netns: process.argv[2] });
const names = (await h.listLinks()).map((l) => l.name).sort();
h.close();
console.log(JSON.stringify({ same, names, types: [typeof libvirt.Connection, typeof runBatch] }));`,
        );
        const esm = JSON.parse(ok(run(process.execPath, ['esm.mjs', ns], { cwd: project }), 'import'));
        assert.equal(esm, { same: true, names: ['hwpkg0', 'lo'], types: ['function', 'function'] });

        // npx hostwire: a bridge made in the namespace, and link show lo as JSON.
        ok(
          run('npx', ['--no-install', 'hostwire', '-n', ns, 'bridge', 'add', 'hwpkg1', '--stp', 'off'], { cwd: project }),
          'npx bridge add',
        );
        assert.is(ipJson('-n', ns, '-d', 'link', 'show', 'hwpkg1')[0].linkinfo.info_kind, 'bridge');
        const lo = JSON.parse(
          ok(run('npx', ['--no-install', 'hostwire', '--json', 'link', 'show', 'lo'], { cwd: project }), 'npx link show'),
        );
        assert.is(lo.length, 1);
        assert.is(lo[0].name, 'lo');
        assert.ok(lo[0].flags.includes('LOOPBACK'));
        // A state document in YAML: the yaml package, bundled apart (dist/bundle/yaml.js), not installed.
        assert.not.ok(fs.existsSync(path.join(project, 'node_modules', 'yaml')), 'yaml is not a dependency of the package');
        const state = ok(run('npx', ['--no-install', 'hostwire', '-n', ns, 'show-state'], { cwd: project }), 'npx show-state');
        assert.match(state, /^version: 1$/m);
        assert.match(state, /^ {2}- name: hwpkg1$/m);

        // Without libvirt.so.0: kernel verbs and the library's kernel side work; libvirt is ENOLIBVIRT, exit 1, no signal.
        const bin = path.join(pkg, 'dist', 'bundle', 'bin.js');
        withoutLibvirt((prefix) => {
          const links = run(process.execPath, [bin, '-n', ns, 'link', 'show'], { cwd: project, prefix });
          assert.match(ok(links, 'link show without libvirt'), /^hwpkg0\b/m);
          for (const args of [
            ['--uri', 'test:///default', 'net', 'list'],
            ['--json', '--uri', 'test:///default', 'net', 'list'],
          ]) {
            const net = run(process.execPath, [bin, ...args], { cwd: project, prefix });
            assert.is(net.signal, null, net.stderr);
            assert.is(net.status, 1, net.stderr);
            if (args[0] === '--json') assert.is(JSON.parse(net.stderr).code, 'ENOLIBVIRT');
            else assert.match(net.stderr, /^hostwire: ENOLIBVIRT: .*libvirt0/);
          }
          const lib = run(
            process.execPath,
            [
              '-e',
              `const hw = require('hostwire');
(async () => {
  const h = new hw.Handle({ netns: process.argv[1] });
  const links = (await h.listLinks()).length;
  h.close();
  const open = await hw.libvirt.Connection.open('test:///default').then(() => 'resolved', (e) => e.code);
  console.log(JSON.stringify({ links, open }));
})();`,
              ns,
            ],
            { cwd: project, prefix },
          );
          assert.equal(JSON.parse(ok(lib, 'library without libvirt')), { links: 3, open: 'ENOLIBVIRT' });
        });
      });

      // A strict TypeScript consumer, under moduleResolution node16 (ESM and CommonJS files) and bundler.
      const consumer = `import { Handle, HostwireError, libvirt, runBatch, type Link, type BatchOp } from 'hostwire';
import hostwire from 'hostwire';
const h: Handle = new Handle({ netns: 'lab' });
const links: Promise<Link[]> = h.listLinks({ master: 'br0' });
const ops: BatchOp[] = [{ op: 'createBridge', name: 'br0', options: { stp: false } }];
const report = runBatch(h, ops, { onError: 'stop' }).then((r) => r.failed);
const conn: Promise<libvirt.Connection> = libvirt.Connection.open('test:///default');
const code: string = new HostwireError('EX', 'message').code;
export const all = [links, report, conn, code, hostwire.Handle === Handle];
`;
      const types = path.join(ROOT, 'node_modules', '@types');
      const tsconfig = (module: string, resolution: string, files: string[]) =>
        JSON.stringify({
          compilerOptions: {
            strict: true,
            module,
            moduleResolution: resolution,
            target: 'ES2022',
            noEmit: true,
            types: ['node'],
            typeRoots: [types],
          },
          files,
        });
      const dirs = { node16: path.join(project, 'ts-node16'), bundler: path.join(project, 'ts-bundler') };
      fs.mkdirSync(dirs.node16);
      fs.writeFileSync(path.join(dirs.node16, 'esm.mts'), consumer);
      fs.writeFileSync(
        path.join(dirs.node16, 'cjs.cts'),
        "import hw = require('hostwire');\nexport const h: hw.Handle = new hw.Handle();\nexport const c: typeof hw.libvirt.Connection = hw.libvirt.Connection;\n",
      );
      fs.writeFileSync(path.join(dirs.node16, 'tsconfig.json'), tsconfig('node16', 'node16', ['esm.mts', 'cjs.cts']));
      fs.mkdirSync(dirs.bundler);
      fs.writeFileSync(path.join(dirs.bundler, 'main.ts'), consumer);
      fs.writeFileSync(path.join(dirs.bundler, 'tsconfig.json'), tsconfig('esnext', 'bundler', ['main.ts']));
      for (const [name, dir] of Object.entries(dirs)) ok(run(process.execPath, [TSC, '-p', dir]), `tsc (${name})`);
      // The types are real: a wrong one is refused.
      fs.writeFileSync(path.join(dirs.bundler, 'main.ts'), consumer + 'export const wrong: number = new Handle().listLinks();\n');
      const bad = run(process.execPath, [TSC, '-p', dirs.bundler]);
      assert.is(bad.status, 2, bad.stdout);
      assert.match(bad.stdout, /main\.ts\(\d+,\d+\): error TS2322/);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  },
);

t.run();
