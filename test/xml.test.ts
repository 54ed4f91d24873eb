import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ALWAYS_ARRAY, attr, buildXml, child, escapeXml, list, parseXml, text } from '../src/xml/parser';

const DOMAIN = `<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>vm1</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <features><acpi/></features>
  <devices>
    <interface type='network'><source network='n1'/><mac address='52:54:00:00:00:01'/><model type='virtio'/></interface>
    <frobnicator level='11'><gizmo>on</gizmo></frobnicator>
  </devices>
  <qemu:commandline><qemu:arg value='-global'/></qemu:commandline>
</domain>`;

test('attributes are kept, values stay strings', () => {
  const d = parseXml(DOMAIN);
  assert.is(attr(child(d, 'domain'), 'type'), 'qemu');
  assert.is(text(child(d, 'domain', 'memory')), '64');
  assert.is(attr(child(d, 'domain', 'memory'), 'unit'), 'MiB');
  assert.is(child(d, 'domain', 'vcpu'), '1');
});

test('listed paths are always arrays, even with one element', () => {
  assert.ok(ALWAYS_ARRAY.has('domain.devices.interface'));
  const ifs = child(parseXml(DOMAIN), 'domain', 'devices', 'interface');
  assert.ok(Array.isArray(ifs));
  assert.is((ifs as unknown[]).length, 1);
  assert.ok(Array.isArray(child(parseXml(DOMAIN), 'domain', 'qemu:commandline', 'qemu:arg')));
  assert.ok(Array.isArray(child(parseXml(`<network><name>n</name><ip address='10.0.0.1'/></network>`), 'network', 'ip')));
  assert.equal(list(undefined), []);
});

test('unknown elements and namespaced elements survive a parse/build round trip', () => {
  const once = parseXml(DOMAIN);
  const rebuilt = buildXml(once);
  assert.match(rebuilt, /<frobnicator level="11">/);
  assert.match(rebuilt, /<gizmo>on<\/gizmo>/);
  assert.match(rebuilt, /<qemu:arg value="-global"\/>/);
  assert.match(rebuilt, /<acpi\/>/);
  assert.equal(parseXml(rebuilt), once);
});

test('the builder escapes values: a name cannot inject markup', () => {
  const evil = `x</name><evil a='1'/><name>`;
  const xml = buildXml({ network: { name: evil, bridge: { '@_name': `br"/><evil/>` } } });
  assert.not.match(xml, /<evil/);
  const back = parseXml(xml);
  assert.is(child(back, 'network', 'name'), evil);
  assert.is(attr(child(back, 'network', 'bridge'), 'name'), `br"/><evil/>`);
  assert.is(escapeXml(`<a href="x">&'`), '&lt;a href=&quot;x&quot;&gt;&amp;&apos;');
});

test('malformed or empty XML is refused with EXML', () => {
  for (const bad of ['', '   ', '<a><b></a>', 'not xml at all <']) {
    try {
      parseXml(bad);
      assert.unreachable(`accepted ${JSON.stringify(bad)}`);
    } catch (e) {
      assert.is((e as { code?: string }).code, 'EXML');
    }
  }
});

test.run();
