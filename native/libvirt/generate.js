#!/usr/bin/env node
// Writes libvirt's constants and error names from the installed headers (libvirt-dev's
// /usr/include/libvirt), as go-libvirt's scripts/gen-consts.sh and libvirt-python's
// generator.py do, so that no value or name is typed by hand:
//
//   src/libvirt/constants.ts     every enumerator of every enum in EMITTED (sentinels left out),
//                                as `export const NAME = value`, and the lifecycle name tables
//   native/libvirt/errnames.cc   virErrorNumber and virErrorDomain values -> their names
//
//   node native/libvirt/generate.js [--include DIR] [--ts FILE] [--cc FILE]
//   npm run generate:libvirt
//
// The headers are read as C: comments and `# ifdef VIR_ENUM_SENTINELS` blocks dropped, each
// `typedef enum { ... } name;` split into enumerators, each value evaluated (integers, other
// enumerators, ( ) - ~ << >> & ^ | + *), implicit values counted on from the previous one.
// Anything else in an enum is an error, not a guess. test/generate.test.ts checks that the
// committed files are what this writes.
'use strict';

const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');

/** Headers whose enums are emitted. All headers are read, for enumerators defined elsewhere. */
const EMITTED = ['libvirt-host.h', 'libvirt-domain.h', 'libvirt-network.h', 'virterror.h'];

/** prettier's printWidth (package.json): the tables are laid out as prettier would. */
const WIDTH = 140;

function parseArgs(argv) {
  const opts = {
    include: '/usr/include/libvirt',
    ts: path.join(ROOT, 'src', 'libvirt', 'constants.ts'),
    cc: path.join(ROOT, 'native', 'libvirt', 'errnames.cc'),
  };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in opts) || i + 1 >= argv.length) throw new Error(`usage: generate.js [--include DIR] [--ts FILE] [--cc FILE]`);
    opts[key] = argv[++i];
  }
  return opts;
}

// ---- reading the headers --------------------------------------------------------------------

/** [{header, name, entries: [{name, expr | null}]}] in header order. */
function readEnums(file) {
  const header = path.basename(file);
  const text = fs
    .readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/\/\/[^\n]*/g, ' ')
    .replace(/^[ \t]*#[ \t]*ifdef[ \t]+VIR_ENUM_SENTINELS\b[\s\S]*?^[ \t]*#[ \t]*endif\b.*$/gm, ' ');
  const enums = [];
  for (const m of text.matchAll(/\btypedef\s+enum\s*\w*\s*\{([^}]*)\}\s*(\w+)\s*;/g)) {
    const [, body, name] = m;
    if (/^\s*#/m.test(body)) throw new Error(`${header}: ${name}: a preprocessor line inside the enum`);
    const entries = body
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => {
        const e = /^([A-Za-z_]\w*)\s*(?:=\s*([\s\S]+))?$/.exec(s);
        if (!e) throw new Error(`${header}: ${name}: cannot read '${s}'`);
        return { name: e[1], expr: e[2] ? e[2].replace(/\s+/g, ' ').trim() : null };
      });
    enums.push({ header, name, entries });
  }
  return enums;
}

/** Evaluates a C integer constant expression; `lookup` gives other enumerators' values. */
function evaluate(expr, lookup) {
  const tokens = expr.match(/0[xX][0-9a-fA-F]+[uUlL]*|\d+[uUlL]*|[A-Za-z_]\w*|<<|>>|[-+*~()|&^]/g) ?? [];
  if (tokens.join('') !== expr.replace(/\s+/g, '')) throw new Error(`cannot evaluate '${expr}'`);
  let i = 0;
  const peek = () => tokens[i];
  const next = () => tokens[i++];
  const binary = (ops, sub) => () => {
    let v = sub();
    while (ops.includes(peek())) {
      const op = next();
      const r = sub();
      if (op === '|') v |= r;
      else if (op === '^') v ^= r;
      else if (op === '&') v &= r;
      else if (op === '<<') v <<= r;
      else if (op === '>>') v >>= r;
      else if (op === '+') v += r;
      else if (op === '-') v -= r;
      else v *= r;
    }
    return v;
  };
  const unary = () => {
    const t = next();
    if (t === '-') return -unary();
    if (t === '~') return ~unary();
    if (t === '(') {
      const v = or();
      if (next() !== ')') throw new Error(`unbalanced '${expr}'`);
      return v;
    }
    if (/^\d/.test(t)) return BigInt(t.replace(/[uUlL]+$/, ''));
    if (/^[A-Za-z_]/.test(t)) return lookup(t);
    throw new Error(`cannot evaluate '${expr}'`);
  };
  const mul = binary(['*'], unary);
  const add = binary(['+', '-'], mul);
  const shift = binary(['<<', '>>'], add);
  const and = binary(['&'], shift);
  const xor = binary(['^'], and);
  const or = binary(['|'], xor);
  const v = or();
  if (i !== tokens.length) throw new Error(`cannot evaluate '${expr}'`);
  return v;
}

/** Every enum of the directory's headers, each enumerator with its value (a BigInt). */
function resolve(dir) {
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.h'))
    .sort();
  for (const h of EMITTED) if (!files.includes(h)) throw new Error(`${dir}/${h} not found: install libvirt-dev`);
  const enums = files.flatMap((f) => readEnums(path.join(dir, f)));
  const where = new Map(); // enumerator -> [enum, index]
  for (const en of enums)
    en.entries.forEach((e, i) => {
      if (where.has(e.name)) throw new Error(`${e.name} defined twice`);
      where.set(e.name, [en, i]);
    });
  const values = new Map();
  const busy = new Set();
  const value = (name) => {
    if (values.has(name)) return values.get(name);
    const at = where.get(name);
    if (!at || busy.has(name)) throw new Error(`cannot resolve ${name}`);
    busy.add(name);
    const [en, i] = at;
    const e = en.entries[i];
    let v;
    try {
      v = e.expr !== null ? evaluate(e.expr, value) : i === 0 ? 0n : value(en.entries[i - 1].name) + 1n;
    } catch (err) {
      throw new Error(`${en.header}: ${name}${e.expr !== null ? ` = ${e.expr}` : ''}: ${err.message}`);
    }
    busy.delete(name);
    values.set(name, v);
    return v;
  };
  for (const en of enums) for (const e of en.entries) e.value = value(e.name);
  return enums;
}

function version(dir) {
  const m = /#\s*define\s+LIBVIR_VERSION_NUMBER\s+(\d+)/.exec(fs.readFileSync(path.join(dir, 'libvirt-common.h'), 'utf8'));
  if (!m) throw new Error('LIBVIR_VERSION_NUMBER not found in libvirt-common.h');
  const n = Number(m[1]);
  return `${Math.floor(n / 1e6)}.${Math.floor(n / 1e3) % 1000}.${n % 1000}`;
}

// ---- writing ---------------------------------------------------------------------------------

/** The names of an enum's enumerators without `prefix`, indexed by value (0, 1, 2 ... only). */
function table(en, prefix) {
  return en.entries.map((e, i) => {
    if (e.value !== BigInt(i) || !e.name.startsWith(prefix)) throw new Error(`${en.name} is not a table of ${prefix}*`);
    return e.name.slice(prefix.length);
  });
}

/** expr without parentheses around all of it: '(1 << 2)' -> '1 << 2'. */
function unparen(expr) {
  if (!expr.startsWith('(')) return expr;
  let depth = 0;
  for (let i = 0; i < expr.length; i++) {
    if (expr[i] === '(') depth++;
    else if (expr[i] === ')' && --depth === 0 && i < expr.length - 1) return expr;
  }
  return unparen(expr.slice(1, -1).trim());
}

/** `head[...]tail` on one line when it fits in WIDTH, else one element per line (prettier's way). */
function array(indent, head, items, tail) {
  const quoted = items.map((s) => `'${s}'`);
  const line = `${indent}${head}[${quoted.join(', ')}]${tail}`;
  if (line.length <= WIDTH) return line;
  return [`${indent}${head}[`, ...quoted.map((q) => `${indent}  ${q},`), `${indent}]${tail}`].join('\n');
}

function typescript(enums, ver) {
  const byName = new Map(enums.map((en) => [en.name, en]));
  const get = (name) => {
    const en = byName.get(name);
    if (!en) throw new Error(`enum ${name} not found`);
    return en;
  };
  const out = [
    '/**',
    " * libvirt's enums under libvirt's own names: every enumerator of every enum in",
    ` * ${EMITTED.map((h) => `<libvirt/${h}>`).join(', ')}`,
    " * (sentinels left out), and the lifecycle events' names by value.",
    ' *',
    ` * Generated by native/libvirt/generate.js from the libvirt ${ver} headers. Do not edit:`,
    ' * run `npm run generate:libvirt` (test/generate.test.ts checks this file is its output).',
    ' */',
  ];
  const emitted = EMITTED.flatMap((h) => enums.filter((en) => en.header === h && en.entries.length > 0));
  for (const en of emitted) {
    out.push('', `// ${en.name} (${en.header})`);
    for (const e of en.entries) {
      const literal = /^-?\d+$/.test(e.expr ?? '') && BigInt(e.expr) === e.value;
      const note = e.expr === null || literal ? '' : ` // ${unparen(e.expr)}`;
      out.push(`export const ${e.name} = ${e.value};${note}`);
    }
  }
  const events = get('virDomainEventType');
  const eventNames = table(events, 'VIR_DOMAIN_EVENT_');
  out.push('', '/** virDomainEventType without the VIR_DOMAIN_EVENT_ prefix, by value. */');
  out.push(array('', 'export const DOMAIN_EVENT: readonly string[] = ', eventNames, ';'));
  out.push('', '/** The detail enum of each domain lifecycle event (virDomainEvent*DetailType), by value. */');
  out.push('export const DOMAIN_EVENT_DETAIL: Readonly<Record<string, readonly string[]>> = {');
  for (const ev of eventNames) {
    const prefix = `VIR_DOMAIN_EVENT_${ev}_`;
    const detail = enums.find((en) => /^virDomainEvent\w+DetailType$/.test(en.name) && en.entries.every((e) => e.name.startsWith(prefix)));
    if (!detail) throw new Error(`no detail enum for VIR_DOMAIN_EVENT_${ev}`);
    out.push(array('  ', `${ev}: `, table(detail, prefix), ','));
  }
  out.push('};');
  out.push('', '/** virNetworkEventLifecycleType without the VIR_NETWORK_EVENT_ prefix, by value. */');
  out.push(
    array('', 'export const NETWORK_EVENT: readonly string[] = ', table(get('virNetworkEventLifecycleType'), 'VIR_NETWORK_EVENT_'), ';'),
  );
  out.push('', '/** virConnectCloseReason without the VIR_CONNECT_CLOSE_REASON_ prefix, by value. */');
  out.push(
    array('', 'export const CLOSE_REASON: readonly string[] = ', table(get('virConnectCloseReason'), 'VIR_CONNECT_CLOSE_REASON_'), ';'),
  );
  return out.join('\n') + '\n';
}

function cxx(enums, ver) {
  const cases = (name) => {
    const en = enums.find((x) => x.name === name);
    if (!en) throw new Error(`enum ${name} not found`);
    const seen = new Set();
    const lines = [];
    for (const e of en.entries) {
      if (seen.has(e.value)) continue; // an alias: the first name of a value wins
      seen.add(e.value);
      lines.push(`    case ${e.name}: return "${e.name}";`);
    }
    return lines;
  };
  return [
    '// libvirt error codes and error domains by name, for LibvirtError.code and .domainName: every',
    '// enumerator of virErrorNumber and virErrorDomain in <libvirt/virterror.h>, under its own name.',
    '// Unknown numbers come back null.',
    '//',
    `// Generated by native/libvirt/generate.js from the libvirt ${ver} headers. Do not edit:`,
    '// run `npm run generate:libvirt` (test/generate.test.ts checks this file is its output).',
    '#include "errors.h"',
    '',
    'namespace hostwire {',
    '',
    'const char* ErrorCodeName(int code) {',
    '  switch (code) {',
    ...cases('virErrorNumber'),
    '    default: return nullptr;',
    '  }',
    '}',
    '',
    'const char* ErrorDomainName(int domain) {',
    '  switch (domain) {',
    ...cases('virErrorDomain'),
    '    default: return nullptr;',
    '  }',
    '}',
    '',
    '}  // namespace hostwire',
    '',
  ].join('\n');
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const enums = resolve(opts.include);
  const ver = version(opts.include);
  const ts = typescript(enums, ver);
  const cc = cxx(enums, ver);
  fs.writeFileSync(opts.ts, ts);
  fs.writeFileSync(opts.cc, cc);
}

try {
  main();
} catch (e) {
  process.stderr.write(`generate.js: ${e.message}\n`);
  process.exit(1);
}
