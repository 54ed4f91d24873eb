/**
 * Builds what the package runs, in dist/bundle/ (npm run build:bundle; the bootstrap and
 * prepack run it after tsc):
 *
 *   hostwire.js     the library, src/index.ts and everything it imports, as one CommonJS file
 *   hostwire.mjs    its ESM face: re-exports hostwire.js (one instance for require and import)
 *   hostwire.d.mts  the types of that face: those of dist/src/index.d.ts
 *   cli.js          the command, src/cli/main.ts and what it loads, as one CommonJS file; the
 *                   lazy require()s of each noun stay lazy (esbuild runs a required module's
 *                   body on first require); without whitespace and with shorter syntax, names
 *                   kept (an error's name is its class's): 430 KB instead of 650 to read at
 *                   every start
 *   cli.cache       V8's code cache of cli.js, made by running a few read-only commands
 *   yaml.js         the yaml package as one file, required by the other bundles (as ./yaml.js)
 *                   only when a state document is read or written: 160 KB that no other
 *                   command reads at its start
 *   bin.js          the launcher (src/cli/bin.ts): cli.js through cli.cache, then the command line
 *
 * fast-xml-parser and node's modules stay outside the bundles, loaded from node_modules when
 * first used (only by XML verbs). node-gyp-build is bundled: every command loads an addon
 * through it, and resolving and compiling it from node_modules cost ~1 ms of each start; its
 * licence goes beside the bundles (THIRD-PARTY-NOTICES), as yaml's does. Why bundles at all:
 * one file to read and one code cache, instead of ~25 modules to resolve, read and compile on
 * every start.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { WRAPPER, loadCached } from '../src/cli/bin';

const ROOT = path.resolve(__dirname, '..', '..');
const OUT = path.join(ROOT, 'dist', 'bundle');

/** Read-only commands run to make the code cache: what they compile arrives compiled. */
const TRAINING = [
  ['help'],
  ['link', 'show', 'lo'],
  ['--json', 'link', 'show', 'lo'],
  ['addr', 'show', 'lo'],
  ['--uri', 'test:///default', 'net', 'list'],
];

/**
 * `import * as fs from 'fs'` of a node built-in becomes `import fs = require('fs')` in the
 * bundles: the same object under the same name, where esbuild's namespace import would copy
 * every export of the module into a new object (__toESM: ~85 us for fs, paid by each module that
 * imports it, as it first runs: several times in every command's start, twice in the launcher
 * before the libvirt preload begins). Sources stay as they are; only what esbuild reads changes.
 */
const builtinNamespaces: import('esbuild').Plugin = {
  name: 'builtin-namespaces',
  setup(build) {
    const builtins = new Set((require('module') as typeof import('module')).builtinModules);
    build.onLoad({ filter: /\.ts$/ }, (args) => {
      const source = fs.readFileSync(args.path, 'utf8');
      const contents = source.replace(/^import \* as (\w+) from '([\w:/]+)';$/gm, (line, name: string, mod: string) =>
        builtins.has(mod.replace(/^node:/, '')) ? `import ${name} = require('${mod}');` : line,
      );
      return { contents, loader: 'ts' };
    });
  },
};

/** `yaml` is ./yaml.js beside the bundle that requires it (made apart: see yaml.js above). */
const yamlApart: import('esbuild').Plugin = {
  name: 'yaml-apart',
  setup(build) {
    build.onResolve({ filter: /^yaml$/ }, () => ({ path: './yaml.js', external: true }));
  },
};

async function bundle(): Promise<void> {
  const esbuild = require('esbuild') as typeof import('esbuild');
  fs.rmSync(OUT, { recursive: true, force: true });
  const common: import('esbuild').BuildOptions = {
    plugins: [builtinNamespaces, yamlApart],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['fast-xml-parser'], // a dependency, loaded from node_modules (package.json)
    logLevel: 'warning',
    legalComments: 'none',
  };
  await esbuild.build({ ...common, entryPoints: [path.join(ROOT, 'src', 'index.ts')], outfile: path.join(OUT, 'hostwire.js') });
  const cli = path.join(OUT, 'cli.js');
  await esbuild.build({
    ...common,
    entryPoints: [path.join(ROOT, 'src', 'cli', 'main.ts')],
    outfile: cli,
    minifyWhitespace: true,
    minifySyntax: true,
  });
  // Written inside the CommonJS wrapper that bin.ts compiles it as (cli.js is never run itself),
  // without main.ts's #! line, which is not valid there; in ASCII, as bin.ts reads it.
  const code = fs.readFileSync(cli, 'utf8').replace(/^#!.*\n/, '');
  // eslint-disable-next-line no-control-regex
  const wide = /[^\x00-\x7f]/.exec(code);
  if (wide) throw new Error(`cli.js is not ASCII (at ${wide.index}): bin.ts reads it as latin1`);
  fs.writeFileSync(cli, WRAPPER[0] + code + WRAPPER[1]);
  await esbuild.build({
    ...common,
    entryPoints: [path.join(ROOT, 'src', 'cli', 'bin.ts')],
    outfile: path.join(OUT, 'bin.js'),
    banner: { js: '#!/usr/bin/env node' },
  });
  fs.chmodSync(path.join(OUT, 'bin.js'), 0o755);
  await esbuild.build({
    ...common,
    plugins: [],
    entryPoints: [require.resolve('yaml')],
    outfile: path.join(OUT, 'yaml.js'),
    minifyWhitespace: true,
    minifySyntax: true,
  });
  const notice = (pkg: string, what: string) =>
    `${what} ${pkg} (${(require(`${pkg}/package.json`) as { version: string }).version}), under this licence:\n\n` +
    fs.readFileSync(path.join(path.dirname(require.resolve(`${pkg}/package.json`)), 'LICENSE'), 'utf8');
  fs.writeFileSync(
    path.join(OUT, 'THIRD-PARTY-NOTICES'),
    notice('node-gyp-build', 'The bundles in this directory include') + '\n\n' + notice('yaml', 'yaml.js is'),
  );
  fs.writeFileSync(
    path.join(OUT, 'hostwire.mjs'),
    "// hostwire as an ES module: the CommonJS bundle's exports, one instance for require and import.\nexport * from './hostwire.js';\nexport { default } from './hostwire.js';\n",
  );
  fs.writeFileSync(
    path.join(OUT, 'hostwire.d.mts'),
    "export * from '../src/index.js';\nimport * as hostwire from '../src/index.js';\nexport default hostwire;\n",
  );
}

/** In a child `node` with no flags (V8 checks the flags a cache was made with): runs TRAINING, writes cli.cache. */
function train(): void {
  const { script, exports } = loadCached(path.join(OUT, 'cli.js'), '');
  const cli = exports as typeof import('../src/cli/main');
  (async () => {
    for (const argv of TRAINING) await cli.main(argv).catch(() => 1); // ENOLIBVIRT on a machine without libvirt: fine
    fs.writeFileSync(path.join(OUT, 'cli.cache'), script.createCachedData());
    process.exit(0);
  })();
}

if (process.argv[2] === 'train') train();
else
  bundle()
    .then(() => {
      const r = spawnSync(process.execPath, [__filename, 'train'], {
        stdio: ['ignore', 'ignore', 'pipe'],
        encoding: 'utf8',
        env: { ...process.env, NODE_OPTIONS: '' },
      });
      if (r.status !== 0) throw new Error(`making the code cache failed (${r.status ?? r.signal}): ${r.stderr}`);
    })
    .catch((e) => {
      process.stderr.write(`build: ${(e as Error).message}\n`);
      process.exit(1);
    });
