/**
 * The CLI's one argument parser (src/cli/args.ts) and the verb declarations on top of it: each
 * kind of argument, each refusal with its code, batch lines, and what a verb loads. No root, no
 * kernel, no libvirt: nothing here is run, only parsed.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { choice, flag, integer, loose, number, onOff, oneOf, parse, pos, seconds, splitLine, usageLine, value } from '../src/cli/args';
import { parseLine } from '../src/cli/batch';
import { natBridge } from '../src/cli/guards';
import { helpText, parseGlobal } from '../src/cli/main';
import { findVerb, verb, type Action, type Change } from '../src/cli/verb';
import { lookup, NOUNS } from '../src/cli/verbs';
import { LIBVIRT_NOUNS } from '../src/cli/bin';

/** The code of what fn throws ('ok' when it does not throw). */
const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code ?? 'untyped';
  }
  return 'ok';
};

/** A command line as the CLI parses it: its verb, then its words. */
const act = (...words: string[]): Action => {
  const { verb, rest } = lookup(words);
  return verb.parse(rest);
};
const change = (...words: string[]): Change => {
  const a = act(...words);
  assert.ok('change' in a, `${words.join(' ')} is a change`);
  return a as Change;
};

test('positionals: in order, required unless optional, also by keyword (ip dev DEV)', () => {
  const spec = { dev: pos('DEV', { keyword: 'dev' }), other: pos('X', { optional: true }) };
  assert.equal(parse(spec, ['eth0']).values, { dev: 'eth0', other: undefined });
  assert.equal(parse(spec, ['eth0', 'y']).values, { dev: 'eth0', other: 'y' });
  assert.equal(parse(spec, ['dev', 'eth0']).values, { dev: 'eth0', other: undefined });
  assert.equal(parse(spec, ['y', 'dev', 'eth0']).values, { dev: 'eth0', other: 'y' }, 'the keyword fills its own slot');
  assert.is(
    code(() => parse({ dev: pos('DEV', { keyword: 'dev' }) }, ['lo', 'dev', 'eth0'])),
    'EUSAGE',
    'never a word dropped',
  );
  assert.equal(parse(spec, ['--', '-weird']).values, { dev: '-weird', other: undefined }, '-- ends the options');
  assert.equal(parse({ file: pos('FILE|-') }, ['-']).values, { file: '-' }, "'-' alone is a positional (stdin)");
  assert.is(
    code(() => parse(spec, [])),
    'EUSAGE',
  );
  assert.is(
    code(() => parse(spec, ['a', 'b', 'c'])),
    'EUSAGE',
  );
  assert.is(
    code(() => parse(spec, ['dev'])),
    'EUSAGE',
  );
});

test('flags and choices: ip words and --options, in any spelling; the last choice wins', () => {
  const spec = { all: flag('--all'), force: flag('--force', '-f'), state: choice('up', 'down'), family: choice('-4', '-6') };
  assert.equal(parse(spec, []).values, { all: false, force: false, state: undefined, family: undefined });
  assert.equal(parse(spec, ['--all', '-f', 'up', '-6']).values, { all: true, force: true, state: 'up', family: '-6' });
  assert.is(parse(spec, ['up', 'down']).values.state, 'down');
  assert.is(
    code(() => parse(spec, ['--frob'])),
    'EUSAGE',
  );
  assert.is(
    code(() => parse(spec, ['-x'])),
    'EUSAGE',
  );
  assert.is(
    code(() => parse(spec, ['stray'])),
    'EUSAGE',
  );
});

test('values: ip keywords and GNU options, converted; a filler word; required; loose spellings', () => {
  const spec = {
    master: value('master', 'BR'),
    mtu: value('mtu', 'N', number),
    bridge: value('--bridge', 'BR', { required: true }),
    peer: value('peer', 'PEER', { filler: 'name' }),
    stp: value(loose('stp'), 'on|off', onOff),
  };
  assert.equal(parse(spec, ['--bridge', 'br0']).values, {
    master: undefined,
    mtu: undefined,
    bridge: 'br0',
    peer: undefined,
    stp: undefined,
  });
  const v = parse(spec, ['master', 'br1', 'mtu', '9000', '--bridge', '--weird', 'peer', 'name', 'p0', 'stp', 'yes']).values;
  assert.equal(v, { master: 'br1', mtu: 9000, bridge: '--weird', peer: 'p0', stp: true }, 'a value may start with -');
  assert.is(parse(spec, ['--bridge', 'b', 'peer', 'name']).values.peer, 'name', 'the filler alone is the value');
  assert.is(parse(spec, ['--bridge', 'b', '-stp', 'off']).values.stp, false);
  assert.is(parse(spec, ['--bridge', 'b', '--stp', '0']).values.stp, false);
  assert.is(parse(spec, ['--bridge', 'a', '--bridge', 'b']).values.bridge, 'b', 'the last one wins');
  for (const bad of [[], ['--bridge'], ['--bridge', 'b', 'mtu', 'x'], ['--bridge', 'b', 'mtu', '-1'], ['--bridge', 'b', 'stp', 'maybe']])
    assert.is(
      code(() => parse(spec, bad)),
      'EUSAGE',
      bad.join(' '),
    );
});

test('converters: numbers as ip reads them, whole numbers, seconds, one of a set', () => {
  const one = <T>(conv: (raw: string, name: string) => T, raw: string) => parse({ x: value('x', 'X', conv) }, ['x', raw]).values.x;
  assert.is(one(number, '1400.5'), 1400.5, 'ranges are the library checks (EINVALIDMTU ...)');
  assert.is(one(integer, '254'), 254);
  assert.is(one(seconds, '1.5'), 1.5);
  assert.is(one(oneOf(['networkd', 'nm'] as const), 'nm'), 'nm');
  for (const [conv, raw] of [
    [integer, '1.5'],
    [integer, ''],
    [seconds, '0'],
    [seconds, 'soon'],
    [oneOf(['networkd', 'nm'] as const), 'yaml'],
    [number, '1e3'],
  ] as const)
    assert.is(
      code(() => one(conv as (raw: string, name: string) => unknown, raw)),
      'EUSAGE',
      raw,
    );
});

test('usage errors carry the usage line of the declaration', () => {
  const spec = { dev: pos('DEV'), master: value('master', 'BR'), state: choice('up', 'down'), hidden: { ...flag('--pi'), hidden: true } };
  assert.is(usageLine(spec), 'DEV [master BR] [up|down]');
  try {
    parse(spec, ['eth0', 'frob'], { usage: 'link set ' + usageLine(spec) });
    assert.unreachable();
  } catch (e) {
    assert.is((e as { code: string }).code, 'EUSAGE');
    assert.is((e as Error).name, 'HostwireError');
    assert.ok((e as Error).message.endsWith('(usage: link set DEV [master BR] [up|down])'), (e as Error).message);
  }
});

test('a declaration naming one word twice is a bug, caught when it is declared', () => {
  assert.throws(() => verb('x y', { args: { a: flag('up'), b: choice('up', 'down') }, run: async () => 0 }), /declared twice/);
});

test('global options: before the verb; --json also after it; --help', () => {
  assert.equal(parseGlobal(['-n', 'lab', '-j', '--uri', 'test:///default', 'link', 'show']), {
    ctx: { json: true, netns: 'lab', uri: 'test:///default' },
    rest: ['link', 'show'],
  });
  assert.equal(parseGlobal(['--netns', 'lab', '-c', 'u', 'link', 'show', 'master', 'br0', '--json']), {
    ctx: { json: true, netns: 'lab', uri: 'u' },
    rest: ['link', 'show', 'master', 'br0'],
  });
  assert.equal(parseGlobal(['link', 'show', '-n', 'x']).rest, ['link', 'show', '-n', 'x'], 'only before the verb');
  assert.equal(parseGlobal(['--help']).rest, ['help']);
  assert.equal(parseGlobal(['--frob']).rest, ['--frob'], 'an unknown word is the verb (refused as one)');
  assert.is(
    code(() => parseGlobal(['-n'])),
    'EUSAGE',
  );
  assert.is(
    code(() => parseGlobal(['--uri'])),
    'EUSAGE',
  );
});

test('link verbs: ip syntax to one change each', () => {
  assert.equal(change('link', 'set', 'vnet0', 'master', 'br0', 'up', 'mtu', '9000').change, {
    op: 'setLink',
    dev: 'vnet0',
    change: { up: true, master: 'br0', mtu: 9000 },
  });
  assert.equal(change('link', 'set', 'dev', 'v0', 'nomaster', 'down').change, {
    op: 'setLink',
    dev: 'v0',
    change: { up: false, master: null },
  });
  assert.equal(change('link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'p0', 'netns', 'lab').change, {
    op: 'createVeth',
    name: 'v0',
    peer: 'p0',
    options: { peerNetns: 'lab' },
  });
  assert.equal(change('link', 'add', 'name', 'br1', 'type', 'bridge').change, { op: 'createBridge', name: 'br1', options: {} });
  assert.equal(change('link', 'delete', 'dev', 'v0').change, { op: 'delete', dev: 'v0' });
  for (const bad of [
    ['link', 'set', 'v0'],
    ['link', 'set', 'v0', 'master', 'br0', 'nomaster'],
    ['link', 'set', 'v0', 'frob'],
    ['link', 'set', 'v0', 'mtu', 'big'],
    ['link', 'add', 'v0', 'type', 'veth'],
    ['link', 'add', 'v0', 'type', 'dummy'],
    ['link', 'add', 'v0'],
    ['link', 'del'],
    ['link', 'del', 'a', 'b'],
    ['link', 'frob'],
  ])
    assert.is(
      code(() => act(...bad)),
      'EUSAGE',
      bad.join(' '),
    );
});

test('the ENATBRIDGE guard is declared on link set: --force with master only', () => {
  const forced = change('link', 'set', 'eth0', 'master', 'virbr0', '--force');
  assert.is(forced.guard, natBridge);
  assert.is(forced.forced, true);
  const plain = change('link', 'set', 'eth0', 'master', 'virbr0');
  assert.is(plain.guard, natBridge);
  assert.is(plain.forced, false);
  assert.ok(natBridge.applies(plain.change));
  assert.not.ok(natBridge.applies(change('link', 'set', 'eth0', 'up').change));
  assert.not.ok(natBridge.applies(change('link', 'set', 'eth0', 'nomaster').change));
  assert.is(
    code(() => act('link', 'set', 'eth0', 'up', '--force')),
    'EUSAGE',
  );
  assert.is(
    code(() => act('tap', 'add', 't0', '--force')),
    'EUSAGE',
    'other verbs do not take --force',
  );
  assert.is(change('link', 'add', 'v0', 'type', 'bridge').guard, undefined);
});

test('bridge and tap add: GNU options (also bare, as before), converted before anything is sent', () => {
  assert.equal(
    change('bridge', 'add', 'br0', '--stp', 'on', 'mtu', '9000', '--forward-delay', '4.5', '--address', '02:00:00:00:00:01').change,
    {
      op: 'createBridge',
      name: 'br0',
      options: {
        stp: true,
        vlanFiltering: undefined,
        mcastSnooping: undefined,
        mtu: 9000,
        address: '02:00:00:00:00:01',
        forwardDelay: 450,
      },
    },
  );
  assert.equal(change('tap', 'add', 'vnet0', '--owner', '64055', '--multi-queue', '--vnet-hdr').change, {
    op: 'createTap',
    name: 'vnet0',
    options: {
      tun: false,
      owner: 64055,
      group: undefined,
      multiQueue: true,
      vnetHdr: true,
      pi: false,
      address: undefined,
      mtu: undefined,
    },
  });
  for (const bad of [
    ['bridge', 'add', 'br0', '--stp', 'maybe'],
    ['bridge', 'add', 'br0', '--mtu', 'x'],
    ['bridge', 'add'],
    ['tap', 'add', 't0', '--owner', 'root'],
    ['tap'],
    ['bridge', 'uplink', 'eth0'],
    ['bridge', 'uplink', 'eth0', '--bridge', 'br0', '--stp', 'yes'],
    ['bridge', 'persist', 'br0', '--format', 'yaml'],
  ])
    assert.is(
      code(() => act(...bad)),
      'EUSAGE',
      bad.join(' '),
    );
});

test('verbs that run: queries, addr and route, libvirt and workflow verbs parse to a run', () => {
  for (const words of [
    ['link'],
    ['link', 'ls', 'master', 'br0', 'up'],
    ['bridge'],
    ['netns'],
    ['addr', 'show', 'eth0', '-4'],
    ['addr', 'add', '10.0.0.1/24', 'dev', 'eth0', 'brd', '+'],
    ['addr', 'del', '10.0.0.1/24', 'dev', 'eth0', 'label', 'eth0:1'],
    ['route', 'add', 'default', 'via', '10.0.0.254', 'metric', '50'],
    ['route', 'show', 'table', '254', '-6'],
    ['firewall', 'set', '--iptables', 'off'],
    ['net', 'list', '--all'],
    ['net', 'define-bridge', 'hb', '--bridge', 'br0', '--start'],
    ['domain', 'attach-interface', 'vm1', '--network', 'default', '--live'],
    ['event', '--timeout', '2'],
    ['monitor', 'link', '--rcvbuf', '65536'],
    ['monitor', '--libvirt'],
    ['batch', '-'],
  ])
    assert.ok('run' in act(...words), words.join(' '));
  for (const bad of [
    ['addr', 'add', '10.0.0.1/24'],
    ['route', 'show', '10.0.0.0/8'],
    ['route', 'add', 'x', 'metric', 'low'],
    ['firewall', 'set'],
    ['firewall', 'set', '--iptables', 'maybe'],
    ['net'],
    ['net', 'list', 'extra'],
    ['net', 'define-bridge', 'hb'],
    ['domain', 'detach-interface', 'vm1'],
    ['event', '--timeout', '0'],
    ['monitor', 'addr', '--libvirt'],
    ['batch'],
    ['frob'],
    ['toString'],
  ])
    assert.is(
      code(() => act(...bad)),
      'EUSAGE',
      bad.join(' '),
    );
});

test('nouns: a default verb, aliases, and a noun that is its own verb', () => {
  const link = NOUNS.link.load();
  assert.is(findVerb('link', link, []).verb.name, 'show');
  assert.is(findVerb('link', link, ['ls', 'up']).verb.name, 'show');
  assert.equal(findVerb('link', link, ['ls', 'up']).rest, ['up']);
  assert.is(findVerb('event', NOUNS.event.load(), ['--timeout', '1']).verb.name, undefined);
  assert.equal(findVerb('event', NOUNS.event.load(), ['--timeout', '1']).rest, ['--timeout', '1']);
  assert.is(
    code(() => findVerb('tap', NOUNS.tap.load(), [])),
    'EUSAGE',
  );
});

test('batch lines: split as ip -batch does, parsed by the same parser, only batch verbs', () => {
  assert.equal(splitLine(`link set 'v 0' master "br0" up # attach`), ['link', 'set', 'v 0', 'master', 'br0', 'up']);
  assert.equal(splitLine('   # only a comment'), []);
  assert.equal(splitLine(''), []);
  const line = parseLine(splitLine('link set t0 master br0 --force'));
  assert.ok('change' in line && line.forced && line.guard === natBridge);
  assert.ok('run' in parseLine(['netns', 'list']));
  assert.ok('run' in parseLine(['addr', 'add', '10.0.0.1/24', 'dev', 'br0']));
  for (const bad of [
    ['batch', 'x'],
    ['frobnicate'],
    ['net', 'list'],
    ['bridge', 'uplink', 'eth0', '--bridge', 'br0'],
    ['firewall', 'show'],
    ['link', 'set', 't0', 'up', '--force'],
    ['tap', 'add', 't9', '--force'],
    ['netns', 'list', 'extra'],
  ])
    assert.is(
      code(() => parseLine(bad)),
      'EUSAGE',
      bad.join(' '),
    );
});

test('help lists every verb, each with the usage line of its declaration', () => {
  const text = helpText();
  assert.ok(text.startsWith('usage: hostwire [-n NETNS] [--json] [--uri URI] VERB ...\n'));
  let count = 0;
  for (const [name, entry] of Object.entries(NOUNS))
    for (const v of entry.load().verbs) {
      count++;
      assert.is(v.noun, name);
      assert.ok(text.includes(`\n  ${v.usage}`), v.usage);
    }
  assert.ok(count >= 40, `${count} verbs`);
  assert.ok(text.includes('link set DEV [master BR] [nomaster] [up|down] [mtu N] [address MAC] [name NEW] [netns NS2] [--force]'));
});

test('a kernel verb loads only its noun: never libvirt, the XML parser or another noun', () => {
  // In a child: this process has loaded every noun already.
  const main = path.resolve(__dirname, '../src/cli/main.js');
  const script = `
    const { lookup } = require(${JSON.stringify(path.resolve(__dirname, '../src/cli/verbs.js'))});
    require(${JSON.stringify(main)});
    for (const line of process.argv.slice(1)) {
      const { verb, rest } = lookup(line.split(' '));
      verb.parse(rest);
    }
    const loaded = Object.keys(require.cache).map((f) => f.replace(/.*\\/(src|node_modules)\\//, '$1/'));
    console.log(JSON.stringify(loaded));`;
  const run = (...lines: string[]): string[] => {
    const r = spawnSync(process.execPath, ['-e', script, ...lines], { encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  const heavy = (f: string) => /^src\/(libvirt|xml)\/|fast-xml-parser|^src\/workflow\/(network|domain)/.test(f);
  const link = run('link show lo', 'link set eth0 master virbr0 up');
  assert.equal(link.filter(heavy), []);
  assert.ok(link.some((f) => f.endsWith('cli/link.js')));
  assert.not.ok(
    link.some((f) => /cli\/(bridge|tap|netns|addr|route|firewall|batch|net|domain|event)\.js$/.test(f)),
    link.join(' '),
  );
  for (const line of [
    'bridge add br0',
    'tap add t0',
    'netns list',
    'addr show',
    'route show',
    'firewall show',
    'batch -',
    'monitor --libvirt',
  ])
    assert.equal(run(line).filter(heavy), [], line);
  const net = run('net list');
  assert.ok(
    net.some((f) => f.startsWith('src/libvirt/')),
    'a libvirt verb does load libvirt',
  );
  assert.equal(
    net.filter((f) => /fast-xml-parser|^src\/workflow\/|cli\/editor\.js$/.test(f)),
    [],
    'net list loads no XML parser, workflow or editor',
  );
});

test("node's heavier modules (crypto, net, streams, child_process) wait until a verb needs them", () => {
  // In a child, with what a kernel verb's run loads besides its noun: the handle and the batch engine.
  const dist = path.resolve(__dirname, '..', 'src');
  const script = `
    require(${JSON.stringify(path.join(dist, 'cli', 'main.js'))});
    require(${JSON.stringify(path.join(dist, 'rtnl', 'handle.js'))});
    require(${JSON.stringify(path.join(dist, 'rtnl', 'batch.js'))});
    const { lookup } = require(${JSON.stringify(path.join(dist, 'cli', 'verbs.js'))});
    for (const line of process.argv.slice(2)) {
      const { verb, rest } = lookup(line.split(' '));
      verb.parse(rest);
    }
    console.log(JSON.stringify(process.moduleLoadList.filter((m) => /^NativeModule (crypto|net|stream|child_process)$/.test(m))));`;
  const lines = ['link show lo', 'bridge show', 'tap add t0', 'netns list', 'addr show', 'route show', 'batch -', 'net list'];
  // A file, not -e: node -e loads crypto and the streams itself.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hw-loads-'));
  try {
    fs.writeFileSync(path.join(dir, 'loads.js'), script);
    const r = spawnSync(process.execPath, [path.join(dir, 'loads.js'), ...lines], { encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("the launcher's libvirt nouns (src/cli/bin.ts, which preload libvirt) are the nouns of the libvirt section", () => {
  const libvirt = Object.entries(NOUNS)
    .filter(([, e]) => e.section.startsWith('libvirt'))
    .map(([n]) => n);
  assert.equal([...LIBVIRT_NOUNS].sort(), libvirt.sort());
});

test.run();
