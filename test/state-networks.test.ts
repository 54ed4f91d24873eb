/**
 * The optional libvirt part of a state document: planNetworks on its own (no libvirt), then
 * apply against test:///default with a namespace for the links (root): defined, started,
 * autostarted, then nothing to do; a network step that fails puts the links back too.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Connection } from '../src/libvirt';
import { ApplyError, apply } from '../src/workflow/state';
import { planNetworks } from '../src/workflow/state-networks';
import { ipJson, kernelTest, withHandle } from './helpers/kernel';

const t = suite('state-networks');
const bridged = (name: string, bridge: string, extra = '') =>
  `<network>${extra}<name>${name}</name><forward mode='bridge'/><bridge name='${bridge}'/></network>`;

t('planNetworks: define, redefine, start, autostart; what libvirt filled in is not a difference', () => {
  const uuid = '6a1f5e8e-3c1d-4b8a-9d5e-0f2f3c4b5a6d';
  const current = [{ name: 'n1', xml: bridged('n1', 'br1', `<uuid>${uuid}</uuid>`), active: true, autostart: false }];
  assert.equal(planNetworks([{ name: 'n1', xml: bridged('n1', 'br1') }], current), [], 'no uuid in the document: the one there is kept');
  const p = planNetworks(
    [
      { name: 'n1', xml: bridged('n1', 'br9'), active: false, autostart: true },
      { name: 'n2', xml: bridged('n2', 'br2'), active: true },
    ],
    current,
  );
  assert.equal(
    p.map((e) => [e.action, e.name, e.changes]),
    [
      ['update', 'n1', { definition: ['defined', 'changed'], active: [true, false], autostart: [false, true] }],
      ['create', 'n2', { definition: [null, 'defined'], active: [null, true] }],
    ],
  );
  assert.match(p[0].network.define as string, new RegExp(`<uuid>${uuid}</uuid>`));
  assert.match(p[0].network.define as string, /<bridge name="br9"/);
  assert.is(p[0].network.previous, current[0].xml, 'what a rollback defines again');
  for (const [xml, code] of [
    ['<network><name>n3</name><forward mode="bogus"/></network>', 'EXMLSCHEMA'],
    ['<netw', 'EXML'],
    [bridged('other', 'br3'), 'EDOCUMENT'],
  ])
    try {
      planNetworks([{ name: 'n3', xml }], []);
      assert.unreachable(xml);
    } catch (e) {
      assert.equal([(e as { code: string }).code, (e as { path: string }).path], [code, 'networks[0].xml'], xml);
    }
});

kernelTest(
  t,
  'apply with networks (test:///default): links first, then the network; again, nothing; a failing network step undoes the links too',
  () =>
    withHandle(async (h, ns) => {
      const c = await Connection.open('test:///default');
      const name = `hwst${process.pid}`;
      try {
        const doc = {
          links: [{ name: 'nbr0', kind: 'bridge', up: true }],
          networks: [{ name, xml: bridged(name, 'nbr0'), active: true, autostart: true }],
        };
        const r = await apply(h, doc, { connection: c });
        assert.equal(
          r.plan.entries.map((e) => `${e.action} ${e.type} ${e.name}`),
          ['create link nbr0', `create network ${name}`],
        );
        assert.is(r.verified, true);
        const info = (await c.listAllNetworks()).find((n) => n.name === name);
        assert.equal([info?.active, info?.autostart, info?.bridge], [true, true, 'nbr0']);
        assert.is((await apply(h, doc, { connection: c })).changes, 0);

        // 'default' exists with another UUID: defining it fails, after nbr1 was made.
        const bad = {
          links: [...doc.links, { name: 'nbr1', kind: 'bridge' }],
          networks: [{ name: 'default', xml: bridged('default', 'nbr1', '<uuid>00000000-0000-4000-8000-000000000001</uuid>') }],
        };
        try {
          await apply(h, bad, { connection: c });
          assert.unreachable();
        } catch (e) {
          assert.instance(e, ApplyError);
          assert.equal(
            [(e as ApplyError).entry?.name, (e as ApplyError).rolledBack, (e as ApplyError).rollbackErrors],
            ['default', true, []],
          );
        }
        assert.equal(
          ipJson('-n', ns, 'link', 'show', 'type', 'bridge').map((l: any) => l.ifname),
          ['nbr0'],
          'nbr1 is gone again',
        );
      } finally {
        const n = await c.networkLookupByName(name).catch(() => undefined);
        if (n) {
          if (await n.isActive()) await n.destroy();
          await n.undefine();
          n.free();
        }
        await c.close();
      }
    }),
);

t.run();
