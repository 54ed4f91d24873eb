/** Kernel tier: named namespaces, as iproute2 sees them. */
import { spawnSync } from 'child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { addNetns, deleteNetns, listNetns } from '../src/netns';
import { Handle } from '../src/rtnl/handle';
import { ip, kernelTest, uniqueName } from './helpers/kernel';

const t = suite('netns');

kernelTest(t, 'add: ip netns list shows it and ip netns exec works; del removes it', async () => {
  const ns = uniqueName('nsa');
  try {
    addNetns(ns);
    assert.ok(
      ip('netns', 'list')
        .split('\n')
        .some((l) => l.split(' ')[0] === ns),
    );
    assert.ok(listNetns().includes(ns));
    assert.is(spawnSync('ip', ['netns', 'exec', ns, 'true']).status, 0);
    // It is a new namespace: only lo, and a handle opened there sees the same.
    const h = new Handle({ netns: ns });
    try {
      assert.equal(
        (await h.listLinks()).map((l) => l.name),
        ['lo'],
      );
    } finally {
      h.close();
    }
    const e = (() => {
      try {
        addNetns(ns);
      } catch (x) {
        return x as { code: string };
      }
    })();
    assert.is(e?.code, 'EEXIST');
    deleteNetns(ns);
    assert.not.ok(listNetns().includes(ns));
    assert.not.ok(ip('netns', 'list').includes(ns));
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
});

kernelTest(t, 'the JS thread never leaves its namespace', async () => {
  const mine = require('fs').readlinkSync('/proc/thread-self/ns/net');
  const ns = uniqueName('nsb');
  try {
    addNetns(ns);
    const h = new Handle({ netns: ns });
    await h.createTap('tq0');
    h.close();
    assert.is(require('fs').readlinkSync('/proc/thread-self/ns/net'), mine);
    assert.is(require('fs').readlinkSync('/proc/self/ns/net'), mine);
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
});

kernelTest(t, 'deleting an unknown namespace: ENOENT; a bad name: a validation error', () => {
  const code = (fn: () => void) => {
    try {
      fn();
    } catch (e) {
      return (e as { code: string }).code;
    }
  };
  assert.is(
    code(() => deleteNetns(uniqueName('none'))),
    'ENOENT',
  );
  assert.is(
    code(() => addNetns('../etc')),
    'EINVALIDNETNS',
  );
});

t.run();
