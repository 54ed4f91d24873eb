/**
 * Workflow library and CLI against test:///default, with bridges in throwaway namespaces:
 * define-bridge (bridge must exist, in -n NS), net edit (library and $EDITOR), and the checks
 * of attach/detach/iflist that run before libvirt is asked (the test driver cannot hot-plug;
 * the real tier in e2e.test.ts does).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Connection } from '../src/libvirt';
import { Handle } from '../src/rtnl/handle';
import { attachInterface, detachInterface, interfaceList } from '../src/workflow/domain';
import { defineBridgedNetwork, editNetwork, editNetworkXml, networkDefinition } from '../src/workflow/network';
import { parseNetwork } from '../src/xml/network';
import { hostwire, ip, kernelTest, uniqueName, withNetns } from './helpers/kernel';

const T = 'test:///default';
const test = suite('workflow');

async function rejects(p: Promise<unknown>, code: string, field?: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.is((e as { code?: string }).code, code, (e as Error).message);
    if (field !== undefined) assert.is((e as { field?: string }).field, field);
    return;
  }
  assert.unreachable(`expected ${code}`);
}

async function withConn<T>(fn: (c: Connection) => Promise<T>): Promise<T> {
  const c = await Connection.open(T);
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

kernelTest(test, 'define-bridge: the bridge must exist, as a bridge, in the namespace given', async () => {
  await withNetns(async (ns) => {
    ip('-n', ns, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', ns, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v0p');
    await withConn(async (c) => {
      const name = uniqueName('net');
      await rejects(defineBridgedNetwork(c, name, { bridge: 'nosuchbr', netns: ns }), 'ENOBRIDGE', 'bridge');
      await rejects(defineBridgedNetwork(c, name, { bridge: 'v0', netns: ns }), 'ENOTBRIDGE', 'bridge');
      // br0 exists only in the namespace: without it the check looks in this one.
      await rejects(defineBridgedNetwork(c, name, { bridge: 'br0' }), 'ENOBRIDGE');
      await rejects(defineBridgedNetwork(c, `x'/><y`, { bridge: 'br0', netns: ns }), 'EXMLSCHEMA', 'network.name');
      assert.not.ok(
        (await c.listAllNetworks()).some((n) => n.name === name),
        'nothing defined by refused calls',
      );
      const r = await defineBridgedNetwork(c, name, { bridge: 'br0', netns: ns, start: true, autostart: true });
      try {
        assert.equal({ started: r.started, autostart: r.autostart, bridge: r.bridge }, { started: true, autostart: true, bridge: 'br0' });
        const info = (await c.listAllNetworks()).find((n) => n.name === name)!;
        assert.equal(
          { active: info.active, autostart: info.autostart, bridge: info.bridge },
          { active: true, autostart: true, bridge: 'br0' },
        );
        const m = parseNetwork(await networkDefinition(c, name));
        assert.equal(m.forward, { mode: 'bridge' });
        assert.is(m.bridge?.name, 'br0');
        await rejects(defineBridgedNetwork(c, name, { bridge: 'br0', netns: ns }), 'ENETEXISTS');
      } finally {
        const n = await c.networkLookupByName(name);
        await n.destroy().catch(() => undefined);
        await n.undefine();
        n.free();
      }
    });
  }, 'wf');
});

kernelTest(test, 'CLI define-bridge honors -n and refuses a missing bridge with ENOBRIDGE', async () => {
  await withNetns(async (ns) => {
    ip('-n', ns, 'link', 'add', 'br7', 'type', 'bridge');
    const ok = hostwire(['--uri', T, '-n', ns, 'net', 'define-bridge', 'hb', '--bridge', 'br7', '--start', '--autostart']);
    assert.is(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /Network hb defined on bridge br7\nNetwork hb started\nNetwork hb marked as autostarted/);
    const bad = hostwire(['--uri', T, '--json', '-n', ns, 'net', 'define-bridge', 'hb', '--bridge', 'br8']);
    assert.is(bad.status, 1);
    assert.is(JSON.parse(bad.stderr).code, 'ENOBRIDGE');
    for (const evil of [`x'/><y`, 'a\x01b', '<', '"']) {
      const r = hostwire(['--uri', T, '--json', '-n', ns, 'net', 'define-bridge', evil, '--bridge', 'br7']);
      assert.ok(r.status === 0 || r.status === 1, `exit ${r.status} for ${JSON.stringify(evil)}`);
      if (r.status === 1) assert.ok(JSON.parse(r.stderr).code, 'a typed error, not a crash');
    }
  }, 'wf');
});

test('net edit (library): a change is redefined, no change changes nothing, a bad edit keeps the old definition', async () => {
  await withConn(async (c) => {
    // An inactive network: the test driver has no VIR_NETWORK_XML_INACTIVE, so its plain XML is the definition.
    const name = uniqueName('edit');
    const uuid = 'a1b2c3d4-0000-4000-8000-000000000001';
    const n =
      await c.networkDefineXML(`<network><name>${name}</name><uuid>${uuid}</uuid><forward mode='nat'/><bridge name='hwe0' stp='on' delay='0'/>
      <ip address='10.9.0.1' netmask='255.255.255.0'><dhcp><range start='10.9.0.2' end='10.9.0.254'/></dhcp></ip></network>`);
    n.free();
    try {
      const before = await networkDefinition(c, name);
      const same = await editNetwork(c, name, () => undefined);
      assert.is(same.changed, false);
      assert.is(await networkDefinition(c, name), before);

      await rejects(
        editNetwork(c, name, (m) => {
          m.ips[0].address = '999.1.1.1';
        }),
        'EXMLSCHEMA',
        'network.ip[0].@address',
      );
      await rejects(
        editNetwork(c, name, (m) => {
          m.name = 'renamed';
        }),
        'EEDITIDENTITY',
        'network.name',
      );
      await rejects(editNetworkXml(c, name, before, '<network><name>'), 'EXML');
      await rejects(
        editNetworkXml(c, name, before, before.replace('<network', '<netwerk').replace('</network>', '</netwerk>')),
        'EXMLSCHEMA',
        'network',
      );
      await rejects(
        editNetwork(c, name, (m) => {
          m.forward = { mode: 'bogus' as 'nat' };
        }),
        'EXMLSCHEMA',
        'network.forward.@mode',
      );
      assert.is(await networkDefinition(c, name), before, 'old definition untouched');

      const r = await editNetwork(c, name, (m) => {
        m.ips[0].dhcp!.ranges[0].end = '10.9.0.100';
        m.bridge!.stp = false;
      });
      assert.is(r.changed, true);
      const after = parseNetwork(await networkDefinition(c, name));
      assert.is(after.ips[0].dhcp!.ranges[0].end, '10.9.0.100');
      assert.is(after.bridge!.stp, false);
      assert.is(after.uuid, uuid);
      assert.is((await c.listAllNetworks()).filter((x) => x.name === name).length, 1);
    } finally {
      const x = await c.networkLookupByName(name);
      await x.undefine();
      x.free();
    }
  });
});

function editorScript(body: string): { env: string; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hw-editor-'));
  const file = path.join(dir, 'ed.sh');
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return { env: file, dir };
}

function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const old: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(vars)) {
    old[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return fn();
  } finally {
    for (const [k, v] of Object.entries(old)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

test('net edit (CLI): EDITOR=true succeeds and changes nothing; VISUAL wins; a broken edit fails typed', () => {
  const r = withEnv({ EDITOR: 'true', VISUAL: undefined }, () => hostwire(['--uri', T, 'net', 'edit', 'default']));
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /not changed/);
  const sed = editorScript(`sed -i "s/virbr0/virbr5/" "$1"`);
  const bad = editorScript(`sed -i "s/<uuid>.*<\\/uuid>/<uuid>nope<\\/uuid>/" "$1"`);
  try {
    const edited = withEnv({ EDITOR: 'false', VISUAL: sed.env }, () => hostwire(['--uri', T, 'net', 'edit', 'default']));
    assert.is(edited.status, 0, edited.stderr);
    assert.match(edited.stdout, /configuration edited/);
    const broken = withEnv({ EDITOR: bad.env, VISUAL: undefined }, () => hostwire(['--uri', T, '--json', 'net', 'edit', 'default']));
    assert.is(broken.status, 1);
    assert.equal([JSON.parse(broken.stderr).code, JSON.parse(broken.stderr).field], ['EXMLSCHEMA', 'network.uuid']);
    const failing = withEnv({ EDITOR: 'false', VISUAL: undefined }, () => hostwire(['--uri', T, '--json', 'net', 'edit', 'default']));
    assert.is(JSON.parse(failing.stderr).code, 'EEDITOR');
  } finally {
    fs.rmSync(sed.dir, { recursive: true, force: true });
    fs.rmSync(bad.dir, { recursive: true, force: true });
  }
});

test('attach/detach: arguments checked before libvirt; detach matches by MAC (ENOIFACE)', async () => {
  await withConn(async (c) => {
    await rejects(attachInterface(c, 'test', { network: 'default', bridge: 'br0' }), 'EINVALIDARG');
    await rejects(attachInterface(c, 'test', {}), 'EINVALIDARG');
    await rejects(attachInterface(c, 'test', { network: 'default', mac: 'zz:00:00:00:00:00' }), 'EINVALIDMAC', 'mac');
    await rejects(attachInterface(c, 'test', { bridge: 'bad/name' }), 'EINVALIDNAME', 'bridge');
    await rejects(attachInterface(c, 'test', { network: 'default', model: `virtio'/><x` }), 'EINVALIDARG', 'model');
    await rejects(detachInterface(c, 'test', { mac: '52:54:00:00:00:99', live: true }), 'ENOIFACE', 'mac');
    await rejects(detachInterface(c, 'test', { mac: 'nope' }), 'EINVALIDMAC');
    await rejects(attachInterface(c, 'nosuchdomain', { network: 'default' }), 'VIR_ERR_NO_DOMAIN');
  });
  const r = hostwire(['--uri', T, '--json', 'domain', 'attach-interface', 'test', '--network', 'default', '--bridge', 'x']);
  assert.is(JSON.parse(r.stderr).code, 'EINVALIDARG');
  const u = hostwire(['--uri', T, 'domain', 'attach-interface', 'test', '--frob']);
  assert.is(u.status, 2);
});

test('hostile names on every workflow verb: refused or escaped with a typed error, never a crash', () => {
  const cmds = [
    ['net', 'edit'],
    ['net', 'define-bridge', 'n', '--bridge'],
    ['domain', 'attach-interface', 'test', '--network'],
    ['domain', 'attach-interface', 'test', '--bridge'],
    ['domain', 'detach-interface', 'test', '--mac'],
    ['domain', 'iflist'],
    ['bridge', 'persist', '--format', 'nm'],
    ['bridge', 'uplink', 'lo', '--bridge'],
  ];
  for (const evil of [`x'/><y`, 'a\x01b', '<', '"q"', 'a]]>b', '&amp;']) {
    for (const cmd of cmds) {
      const r = withEnv({ EDITOR: 'true', VISUAL: undefined }, () => hostwire(['--uri', T, '--json', ...cmd, evil]));
      assert.ok(r.status === 1 || r.status === 2, `${cmd.join(' ')} ${JSON.stringify(evil)}: exit ${r.status} ${r.stderr}`);
      assert.type(JSON.parse(r.stderr).code, 'string');
      assert.not.match(r.stderr, /EINTERNAL/);
    }
  }
});

kernelTest(test, 'iflist joins libvirt with the kernel: a tap named like the NIC target, on a bridge', async () => {
  await withNetns(async (ns) => {
    // test:///default's domain `test` has one NIC with target testnet0: make that tap a bridge port here.
    ip('-n', ns, 'link', 'add', 'brx', 'type', 'bridge');
    ip('-n', ns, 'link', 'add', 'testnet0', 'type', 'veth', 'peer', 'name', 'tp0');
    ip('-n', ns, 'link', 'set', 'testnet0', 'master', 'brx');
    const rows = await withConn((c) => interfaceList(c, 'test', { netns: ns }));
    assert.equal(rows, [
      { target: 'testnet0', type: 'network', source: 'default', model: null, mac: 'aa:bb:cc:dd:ee:ff', master: 'brx', state: 'DOWN' },
    ]);
    const h = new Handle({ netns: ns });
    try {
      await h.setNoMaster('testnet0');
      assert.is((await withConn((c) => interfaceList(c, 'test', { handle: h })))[0].master, null);
    } finally {
      h.close();
    }
    const cli = hostwire(['--uri', T, '-n', ns, 'domain', 'iflist', 'test']);
    assert.is(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, /Interface\s+Type\s+Source\s+Model\s+MAC\s+Master/);
    assert.match(cli.stdout, /testnet0\s+network\s+default\s+-\s+aa:bb:cc:dd:ee:ff\s+-/);
  }, 'wf');
  // Outside the namespace the tap does not exist: no master, no state, no error.
  const rows = await withConn((c) => interfaceList(c, 'test'));
  assert.is(rows[0].master, null);
});

test.run();
