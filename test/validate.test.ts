/** Input checks: typed errors with stable codes, before anything is sent. No root. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkIfName, checkMac, checkMtu, checkNetnsName } from '../src/rtnl/validate';
import { Handle } from '../src/rtnl/handle';
import { runBatch } from '../src/rtnl/batch';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as { code: string }).code;
  }
  return 'ok';
};

test('interface names: 1-15 bytes, no slash, colon, whitespace or control characters', () => {
  assert.is(
    code(() => checkIfName('br0')),
    'ok',
  );
  assert.is(
    code(() => checkIfName('abcdefghijklmno')),
    'ok',
  );
  // ASCII is checked by code point, the rest by the Unicode regex: both sides of that split.
  for (const good of ['é0', 'ünïcode', 'a-b_c.d@e', '~'])
    assert.is(
      code(() => checkIfName(good)),
      'ok',
      JSON.stringify(good),
    );
  for (const bad of ['', 'abcdefghijklmnop', 'a/b', 'a b', 'a:b', '.', '..', 'x\n', 'x\t', '\x7f', '\0', 'é'.repeat(8)])
    assert.is(
      code(() => checkIfName(bad)),
      'EINVALIDNAME',
      JSON.stringify(bad),
    );
  for (const bad of ["x'/><y", 'é/', 'é:', 'é\u00a0', 'é\u2028', 'x\u0085', '\u3000'])
    assert.is(
      code(() => checkIfName(bad)),
      'EINVALIDNAME',
      JSON.stringify(bad),
    );
});

test('MACs: six hex pairs, unicast, not all zero', () => {
  assert.is(checkMac('02:00:00:00:00:AA'), '02:00:00:00:00:aa');
  for (const bad of ['02:00:00:00:00', '0g:00:00:00:00:01', '01:00:5e:00:00:01', '00:00:00:00:00:00', '02-00-00-00-00-01'])
    assert.is(
      code(() => checkMac(bad)),
      'EINVALIDMAC',
      bad,
    );
});

test('MTU and namespace names', () => {
  assert.is(checkMtu('9000'), 9000);
  assert.is(
    code(() => checkMtu(67)),
    'EINVALIDMTU',
  );
  assert.is(
    code(() => checkMtu(70000)),
    'EINVALIDMTU',
  );
  assert.is(
    code(() => checkNetnsName('a/b')),
    'EINVALIDNETNS',
  );
  assert.is(
    code(() => checkNetnsName('..')),
    'EINVALIDNETNS',
  );
});

test('a bad request never reaches the transport', async () => {
  let sent = 0;
  const h = new Handle({
    transport: () => ({ port: 1, send: () => void sent++, close() {}, ref() {}, unref() {} }),
  });
  for (const p of [
    h.createBridge('abcdefghijklmnop'),
    h.createBridge('br0', { address: 'zz' }),
    h.setLink('a/b', { up: true }),
    h.createVeth('v0', 'p/0'),
    h.setLink('v0', { master: 'x y' }),
    h.createTap('t0', { queues: 2 }),
  ])
    assert.ok(
      (
        await p.then(
          () => 'ok',
          (e) => e.code,
        )
      ).startsWith('EINVALID'),
    );
  // A batch with one bad line and onError 'stop' sends nothing at all.
  const r = await runBatch(
    h,
    [
      { op: 'createBridge', name: 'ok0' },
      { op: 'delete', dev: 'bad/name' },
    ],
    { onError: 'stop' },
  );
  assert.equal(
    r.results.map((x) => (x.ok ? 'ok' : (x.error as any).code)),
    ['ESKIPPED', 'EINVALIDNAME'],
  );
  await new Promise((r) => setImmediate(r));
  assert.is(sent, 0);
  h.close();
});

test.run();
