/**
 * The package's `hostwire` command (bundled by .ci/bundle.ts into dist/bundle/bin.js, the `bin`
 * of package.json). It loads the CLI's bundle, dist/bundle/cli.js, through V8's code cache,
 * dist/bundle/cli.cache, made when the package was built by running the CLI: the functions a
 * command runs arrive compiled, instead of being parsed and compiled on every start. Then it runs
 * the command line (src/cli/main.ts start).
 *
 * V8 refuses a cache made by another V8 version or with other V8 flags (cachedDataRejected):
 * the bundle is then compiled as any script is, only slower to start. Nothing is written at run
 * time.
 *
 * A command that names a libvirt noun first starts loading libvirt on another thread
 * (preloadLibvirt), so that its ~10 ms of dynamic linking overlaps loading the CLI.
 */
import * as fs from 'fs';
import * as path from 'path';
import { preloadLibvirt } from '../native';

/** The nouns whose verbs call libvirt (src/cli/verbs.ts, section LIBVIRT; test/cli-args.test.ts checks the two agree). */
export const LIBVIRT_NOUNS: ReadonlySet<string> = new Set(['net', 'domain', 'event']);

/**
 * The CommonJS wrapper, as node's loader puts around a module. The bundle is written inside it
 * (.ci/bundle.ts), so the file is compiled as read: no copy of 650 KB to join the pieces.
 */
export const WRAPPER = ['(function (exports, require, module, __filename, __dirname) { ', '\n});'] as const;

/**
 * Compiles `file`, a CommonJS module already inside WRAPPER and in ASCII (esbuild's default:
 * anything else is escaped), with the code cache `cache` (if readable), and runs it; returns
 * the script and its exports. Read as latin1: ASCII as is, without UTF-8 decoding.
 */
export function loadCached(file: string, cache: string): { script: import('vm').Script; exports: unknown } {
  // Required here, not above: a libvirt command's preload starts before they are loaded.
  const vm = require('vm') as typeof import('vm');
  const { createRequire } = require('module') as typeof import('module');
  const source = fs.readFileSync(file, 'latin1');
  let cachedData: Buffer | undefined;
  try {
    cachedData = fs.readFileSync(cache);
  } catch {
    cachedData = undefined;
  }
  const script = new vm.Script(source, { filename: file, cachedData });
  const module = { exports: {} as unknown };
  const fn = script.runInThisContext() as (e: unknown, r: NodeJS.Require, m: unknown, f: string, d: string) => void;
  fn(module.exports, createRequire(file), module, file, path.dirname(file));
  return { script, exports: module.exports };
}

if (require.main === module) {
  // Any word will do (a device called 'net' costs a load on another thread, no more).
  if (process.argv.slice(2).some((w) => LIBVIRT_NOUNS.has(w))) preloadLibvirt();
  const cli = loadCached(path.join(__dirname, 'cli.js'), path.join(__dirname, 'cli.cache')).exports as typeof import('./main');
  cli.start(process.argv.slice(2));
}
