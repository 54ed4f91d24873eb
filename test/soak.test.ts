/**
 * The soak (bench/soak.ts) for one minute, as npm test runs it: taps, veths across namespaces,
 * addresses and routes, a Watcher, libvirt on test:///default (and a NIC hot-plug on its own
 * libvirtd when it can start one). Its targets must hold: RSS growth <= 10 MB after the warm-up,
 * fds and threads back to their start, no device left, no unexpected error, loop p99 <= 50 ms.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { kernelTest } from './helpers/kernel';

const t = suite('soak');

kernelTest(t, 'one minute of mixed churn: nothing lost, leaked, left or crashed', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hwsoak-'));
  const json = path.join(dir, 'soak.json');
  try {
    const soak = path.resolve(__dirname, '..', 'bench', 'soak.js');
    const r = spawnSync(process.execPath, ['--expose-gc', soak, '--minutes', '1', '--warmup', '10', '--json', json], {
      encoding: 'utf8',
      timeout: 240_000,
    });
    assert.is(r.status, 0, `soak exited ${r.status} ${r.signal ?? ''}: ${r.stderr.slice(-2000)}`);
    const out = JSON.parse(fs.readFileSync(json, 'utf8'));
    for (const k of [
      'minutes',
      'ops',
      'rss_mb_start',
      'rss_mb_end',
      'fds_start',
      'fds_end',
      'threads_start',
      'threads_end',
      'leftover_devices',
      'unexpected_errors',
      'loop_delay_p99_ms',
    ])
      assert.ok(k in out, `${k} in the JSON`);
    assert.ok(out.ops > 10_000, `${out.ops} operations`);
    assert.ok(out.rss_mb_end - out.rss_mb_start <= 10, `RSS ${out.rss_mb_start} -> ${out.rss_mb_end} MB`);
    assert.is(out.fds_end, out.fds_start, 'fds back to their start');
    assert.is(out.threads_end, out.threads_start, 'threads back to their start');
    assert.is(out.leftover_devices, 0);
    assert.is(out.unexpected_errors, 0, JSON.stringify(out.errors));
    assert.ok(out.loop_delay_p99_ms <= 50, `loop p99 ${out.loop_delay_p99_ms} ms`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
