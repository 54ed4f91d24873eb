/**
 * The typed network and domain models (src/xml/network.ts, domain.ts): fields read from the XML
 * of test:///default, unknown elements and attributes kept through parse -> build, hostile values
 * escaped, and schema errors naming the wrong path.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Connection } from '../src/libvirt';
import { buildDomain, buildInterface, parseDomain } from '../src/xml/domain';
import { bridgedNetwork, buildNetwork, parseNetwork } from '../src/xml/network';
import { parseXml } from '../src/xml/parser';

async function testXml(): Promise<{ net: string; dom: string }> {
  const c = await Connection.open('test:///default');
  try {
    const n = await c.networkLookupByName('default');
    const d = await c.domainLookupByName('test');
    const r = { net: await n.getXMLDesc(), dom: await d.getXMLDesc() };
    n.free();
    d.free();
    return r;
  } finally {
    await c.close();
  }
}

function code(fn: () => unknown): { code?: string; field?: string } {
  try {
    fn();
  } catch (e) {
    return e as { code?: string; field?: string };
  }
  assert.unreachable('did not throw');
  return {};
}

test('network model: fields of test:///default network default', async () => {
  const m = parseNetwork((await testXml()).net);
  assert.is(m.name, 'default');
  assert.is(m.uuid, 'dd8fe884-6c02-601e-7551-cca97df1c5df');
  assert.equal(m.forward, { mode: 'nat' });
  assert.equal(m.bridge, { name: 'virbr0', stp: true, delay: 0 });
  assert.is(m.ips.length, 1);
  assert.is(m.ips[0].address, '192.168.122.1');
  assert.is(m.ips[0].netmask, '255.255.255.0');
  assert.equal(
    m.ips[0].dhcp!.ranges.map((r) => [r.start, r.end]),
    [['192.168.122.2', '192.168.122.254']],
  );
});

test('network model: parse -> build is lossless on test:///default and keeps unknown parts', async () => {
  const { net } = await testXml();
  assert.equal(parseXml(buildNetwork(parseNetwork(net))), parseXml(net));
  const odd = `<network connections='2' frob='x'><name>n1</name><forward mode='route' dev='eth9'><frob/></forward>
    <bridge name='br9' macTableManager='libvirt'/><dns><host ip='10.0.0.5'><hostname>h</hostname></host></dns>
    <ip address='10.0.0.1' prefix='24' localPtr='yes'><dhcp><range start='10.0.0.2' end='10.0.0.9'><lease expiry='1' unit='hours'/></range>
    <host mac='52:54:00:00:00:01' name='vm' ip='10.0.0.3'/><bootp file='pxe'/></dhcp><tftp root='/t'/></ip><portgroup name='pg'/></network>`;
  const m = parseNetwork(odd);
  assert.equal(m.forward, { mode: 'route' });
  assert.is(m.ips[0].prefix, 24);
  assert.equal(
    m.ips[0].dhcp!.hosts.map((h) => [h.mac, h.name, h.ip]),
    [['52:54:00:00:00:01', 'vm', '10.0.0.3']],
  );
  assert.equal(parseXml(buildNetwork(m)), parseXml(odd));
  // A change to typed fields keeps everything else.
  m.bridge!.stp = false;
  m.ips[0].dhcp!.ranges[0].end = '10.0.0.50';
  const back = parseXml(buildNetwork(m)) as any;
  assert.is(back.network.bridge['@_stp'], 'off');
  assert.is(back.network.bridge['@_macTableManager'], 'libvirt');
  assert.is(back.network.ip[0].dhcp.range[0]['@_end'], '10.0.0.50');
  assert.is(back.network.ip[0].dhcp.range[0].lease['@_expiry'], '1');
  assert.is(back.network.ip[0].dhcp.bootp['@_file'], 'pxe');
  assert.is(back.network['@_frob'], 'x');
  assert.ok(back.network.portgroup);
});

test('network model: the bridged network of the tutorial, elements in libvirt order', () => {
  const xml = buildNetwork(bridgedNetwork('host-bridge', 'br0'));
  assert.match(xml, /<name>host-bridge<\/name>\s*<forward mode="bridge"\/>\s*<bridge name="br0"\/>/);
});

test('domain model: fields of test:///default domain test, lossless round trip', async () => {
  const { dom } = await testXml();
  const m = parseDomain(dom);
  assert.is(m.name, 'test');
  assert.is(m.uuid, '6695eb01-f6a4-8304-79aa-97f2502e193f');
  assert.equal(
    m.interfaces.map(({ type, source, mac, model, target }) => ({ type, source, mac, model, target })),
    [{ type: 'network', source: { network: 'default' }, mac: 'aa:bb:cc:dd:ee:ff', model: undefined, target: 'testnet0' }],
  );
  assert.equal(parseXml(buildDomain(m)), parseXml(dom));
  m.interfaces.push({ type: 'bridge', source: { bridge: 'br0' }, mac: '52:54:00:aa:bb:cc', model: 'virtio' });
  const back = parseDomain(buildDomain(m));
  assert.is(back.interfaces.length, 2);
  assert.equal(back.interfaces[1].source, { bridge: 'br0' });
  assert.ok((back.raw.devices as any).disk, 'the disk survives');
  assert.ok((back.raw.devices as any).interface[0].address, 'the first NIC keeps its PCI address');
});

test('hostile names are escaped, never injected', () => {
  // libvirt refuses '/' in names: so does the model, before any XML is written.
  const slash = code(() => buildNetwork(bridgedNetwork(`x'/><y`, 'br0')));
  assert.is(slash.code, 'EXMLSCHEMA');
  assert.is(slash.field, 'network.name');
  for (const evil of [`x'><y`, `a"b`, `<c>`, `d&e`, `f]]>g`]) {
    const xml = buildNetwork(bridgedNetwork(evil, 'br0'));
    assert.not.match(xml, /<y/);
    assert.is(parseNetwork(xml).name, evil);
    assert.is(Object.keys((parseXml(xml) as any).network).join(','), 'name,forward,bridge');
    const ifx = buildInterface({ type: 'network', source: { network: evil } });
    assert.is((parseXml(ifx) as any).interface.source['@_network'], evil);
  }
  // Control characters cannot be written in XML 1.0: refused, with the path.
  const e = code(() => buildNetwork(bridgedNetwork('a\x01b', 'br0')));
  assert.is(e.code, 'EXMLSCHEMA');
  assert.is(e.field, 'network.name');
});

test('documents that do not fit the schema name the wrong path', () => {
  const cases: [string, string][] = [
    ['<domain><name>x</name></domain>', 'network'],
    ['<network><uuid>nope</uuid><name>n</name></network>', 'network.uuid'],
    ['<network></network>', 'network.name'],
    [`<network><name>n</name><forward mode='teleport'/></network>`, 'network.forward.@mode'],
    [`<network><name>n</name><bridge name='b' stp='maybe'/></network>`, 'network.bridge.@stp'],
    [`<network><name>n</name><bridge name='b' delay='-1'/></network>`, 'network.bridge.@delay'],
    [`<network><name>n</name><mac address='zz'/></network>`, 'network.mac.@address'],
    [`<network><name>n</name><ip address='10.0.0.1'/><ip address='300.1.1.1'/></network>`, 'network.ip[1].@address'],
    [`<network><name>n</name><ip address='10.0.0.1' prefix='33'/></network>`, 'network.ip[0].@prefix'],
    [
      `<network><name>n</name><ip address='10.0.0.1'><dhcp><range start='10.0.0.2' end='x'/></dhcp></ip></network>`,
      'network.ip[0].dhcp.range[0].@end',
    ],
    [
      `<network><name>n</name><ip address='10.0.0.1'><dhcp><host mac='1' ip='10.0.0.3'/></dhcp></ip></network>`,
      'network.ip[0].dhcp.host[0].@mac',
    ],
  ];
  for (const [xml, path] of cases) {
    const e = code(() => parseNetwork(xml));
    assert.is(e.code, 'EXMLSCHEMA', xml);
    assert.is(e.field, path, xml);
  }
  const d = code(() =>
    parseDomain(`<domain><name>d</name><devices><interface type='network'><mac address='nope'/></interface></devices></domain>`),
  );
  assert.is(d.code, 'EXMLSCHEMA');
  assert.is(d.field, 'domain.devices.interface[0].mac.@address');
  assert.is(
    code(() => parseDomain(`<domain><name>d</name><devices><interface/></devices></domain>`)).field,
    'domain.devices.interface[0].@type',
  );
  assert.is(code(() => parseNetwork('<network><name>')).code, 'EXML');
});

test.run();
