#!/usr/bin/env node
// Makes the prebuilt addons the package ships, with prebuildify (N-API, so one binary serves
// every Node version from 20 on):
//
//   native/kernel/prebuilds/linux-x64/hostwire_kernel.napi.glibc.node
//   native/libvirt/prebuilds/linux-x64/hostwire_libvirt.napi.glibc.node
//
// where node-gyp-build finds them (src/native.ts addonPath). Each addon is built from its own
// binding.gyp in its own directory, so native/build (a checkout's `node-gyp rebuild
// --directory=native`) is left alone. Offline: node-gyp is pointed at /usr's headers
// (nodedir=/usr, as .npmrc does for npm's own runs) and never downloads any.
//
//   node native/prebuild.js [--force]     (npm run build:prebuilds; the bootstrap and prepack run it)
//
// An addon is rebuilt only when a file it is built from (its directory, native/common,
// native/common.gypi) is newer than its prebuilt binary, or with --force.
'use strict';

const fs = require('fs');
const path = require('path');

const NATIVE = __dirname;
const ADDONS = { kernel: 'hostwire_kernel', libvirt: 'hostwire_libvirt' };
const TUPLE = `${process.platform}-${process.arch}`;
const force = process.argv.includes('--force');

/** The newest mtime of the files an addon is built from. */
function newestSource(dir) {
  let newest = 0;
  const walk = (p) => {
    const st = fs.statSync(p);
    if (st.isDirectory()) {
      for (const e of fs.readdirSync(p)) if (e !== 'build' && e !== 'prebuilds') walk(path.join(p, e));
    } else newest = Math.max(newest, st.mtimeMs);
  };
  [dir, path.join(NATIVE, 'common'), path.join(NATIVE, 'common.gypi')].forEach(walk);
  return newest;
}

/** The prebuilt binary of the addon in `dir`, if there is one: its path and mtime. */
function prebuilt(dir) {
  const out = path.join(dir, 'prebuilds', TUPLE);
  const file = fs.existsSync(out) ? fs.readdirSync(out).find((f) => f.endsWith('.node')) : undefined;
  return file ? { file: path.join(out, file), mtime: fs.statSync(path.join(out, file)).mtimeMs } : undefined;
}

function build(sub, name) {
  const dir = path.join(NATIVE, sub);
  const have = prebuilt(dir);
  if (have && !force && have.mtime >= newestSource(dir)) return Promise.resolve(false);
  fs.rmSync(path.join(dir, 'prebuilds', TUPLE), { recursive: true, force: true });
  const env = { npm_config_nodedir: '/usr', npm_config_loglevel: 'error', JOBS: process.env.JOBS || '2' };
  const saved = {};
  for (const k of Object.keys(env)) (saved[k] = process.env[k]), (process.env[k] = env[k]);
  return new Promise((resolve, reject) =>
    require('prebuildify')(
      { cwd: dir, name, napi: true, strip: true, tagLibc: true, targets: [process.versions.node] },
      (err) => {
        for (const k of Object.keys(saved)) saved[k] === undefined ? delete process.env[k] : (process.env[k] = saved[k]);
        fs.rmSync(path.join(dir, 'build'), { recursive: true, force: true }); // the objects; the binary was moved out
        if (err) reject(new Error(`prebuildify ${sub}: ${err.message}`));
        else resolve(true);
      },
    ),
  );
}

(async () => {
  for (const [sub, name] of Object.entries(ADDONS)) {
    const made = await build(sub, name);
    const p = prebuilt(path.join(NATIVE, sub));
    if (made) process.stderr.write(`prebuild: ${path.relative(path.dirname(NATIVE), p.file)}\n`);
  }
})().catch((e) => {
  process.stderr.write(`prebuild: ${e.message}\n`);
  process.exit(1);
});
