/**
 * `hostwire net`: libvirt networks, printing what virsh's net-* commands print (or JSON), and
 * the workflow's bridged network and validated net edit.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { VIR_CONNECT_LIST_NETWORKS_ACTIVE, VIR_NETWORK_XML_INACTIVE } from '../libvirt';
import { flag, pos, value } from './args';
import { verb, type Noun } from './verb';
import { formatTable, printJson, withConnection, yesNo } from './virsh';

/**
 * The workflow's network steps and the editor, loaded by the verbs that use them: they bring the
 * XML models, the kernel's handle and the editor's process start, which `net list` has no use for.
 */
const workflow = () => require('../workflow/network') as typeof import('../workflow/network');
const editor = () => require('./editor') as typeof import('./editor');

/** hostwire net list [--all]. Equivalent to: virsh net-list [--all] */
const list = verb('net list', {
  args: { all: flag('--all') },
  run: async (ctx, a) => {
    const nets = await withConnection(ctx, (c) => c.listAllNetworks(a.all ? 0 : VIR_CONNECT_LIST_NETWORKS_ACTIVE));
    nets.sort((x, y) => x.name.localeCompare(y.name));
    if (ctx.json) {
      printJson(
        ctx,
        nets.map((n) => ({
          name: n.name,
          uuid: n.uuid,
          active: n.active,
          autostart: n.autostart,
          persistent: n.persistent,
          bridge: n.bridge,
        })),
      );
    } else {
      ctx.out(
        formatTable(
          ['Name', 'State', 'Autostart', 'Persistent'],
          nets.map((n) => [n.name, n.active ? 'active' : 'inactive', yesNo(n.autostart), yesNo(n.persistent)]),
        ),
      );
    }
    return 0;
  },
});

/** hostwire net info NAME. Equivalent to: virsh net-info NAME */
const info = verb('net info', {
  args: { name: pos('NAME') },
  run: async (ctx, a) => {
    const info = await withConnection(ctx, async (c) => {
      const n = await c.networkLookupByName(a.name);
      try {
        const [active, persistent, autostart] = await Promise.all([n.isActive(), n.isPersistent(), n.getAutostart()]);
        const bridge = await n.getBridgeName().catch(() => null);
        return { name: n.name, uuid: n.uuid, active, persistent, autostart, bridge };
      } finally {
        n.free();
      }
    });
    if (ctx.json) {
      printJson(ctx, info);
    } else {
      const rows: [string, string][] = [
        ['Name', info.name],
        ['UUID', info.uuid],
        ['Active', yesNo(info.active)],
        ['Persistent', yesNo(info.persistent)],
        ['Autostart', yesNo(info.autostart)],
      ];
      if (info.bridge !== null) rows.push(['Bridge', info.bridge]);
      ctx.out(rows.map(([k, v]) => `${(k + ':').padEnd(16)}${v}`).join('\n') + '\n\n');
    }
    return 0;
  },
});

/** hostwire net dumpxml NAME [--inactive]. Equivalent to: virsh net-dumpxml NAME [--inactive] */
const dumpxml = verb('net dumpxml', {
  args: { name: pos('NAME'), inactive: flag('--inactive') },
  run: async (ctx, a) => {
    const xml = await withConnection(ctx, async (c) => {
      const n = await c.networkLookupByName(a.name);
      try {
        return await n.getXMLDesc(a.inactive ? VIR_NETWORK_XML_INACTIVE : 0);
      } finally {
        n.free();
      }
    });
    if (ctx.json) printJson(ctx, { name: a.name, xml });
    else ctx.out(xml + '\n'); // virsh prints a blank line after the XML
    return 0;
  },
});

/** hostwire net define FILE. Equivalent to: virsh net-define FILE */
const define = verb('net define', {
  args: { file: pos('FILE') },
  run: async (ctx, a) => {
    const xml = await fs.promises.readFile(a.file, 'utf8');
    const r = await withConnection(ctx, async (c) => {
      const n = await c.networkDefineXML(xml);
      n.free();
      return { name: n.name, uuid: n.uuid };
    });
    if (ctx.json) printJson(ctx, r);
    else ctx.out(`Network ${r.name} defined from ${a.file}\n`);
    return 0;
  },
});

/** A verb that calls `method` on the named network and says `done`. */
function lifecycle(name: string, method: 'create' | 'destroy' | 'undefine', done: string) {
  return verb(`net ${name}`, {
    args: { name: pos('NAME') },
    run: async (ctx, a) => {
      await withConnection(ctx, async (c) => {
        const n = await c.networkLookupByName(a.name);
        try {
          await n[method]();
        } finally {
          n.free();
        }
      });
      if (ctx.json) printJson(ctx, { name: a.name, result: done });
      else ctx.out(`Network ${a.name} ${done}\n`);
      return 0;
    },
  });
}

/** hostwire net start NAME. Equivalent to: virsh net-start NAME */
const start = lifecycle('start', 'create', 'started');
/** hostwire net destroy NAME. Equivalent to: virsh net-destroy NAME */
const destroy = lifecycle('destroy', 'destroy', 'destroyed');
/** hostwire net undefine NAME. Equivalent to: virsh net-undefine NAME */
const undefine = lifecycle('undefine', 'undefine', 'has been undefined');

/** hostwire net autostart NAME [--disable]. Equivalent to: virsh net-autostart NAME [--disable] */
const autostart = verb('net autostart', {
  args: { name: pos('NAME'), disable: flag('--disable') },
  run: async (ctx, a) => {
    const on = !a.disable;
    await withConnection(ctx, async (c) => {
      const n = await c.networkLookupByName(a.name);
      try {
        await n.setAutostart(on);
      } finally {
        n.free();
      }
    });
    if (ctx.json) printJson(ctx, { name: a.name, autostart: on });
    else ctx.out(`Network ${a.name} ${on ? 'marked as autostarted' : 'unmarked as autostarted'}\n`);
    return 0;
  },
});

/**
 * hostwire [-n NS] net define-bridge NAME --bridge BR [--start] [--autostart]. The bridge must
 * exist (in NS when given). Equivalent to: virsh net-define (forward mode bridge) + net-start + net-autostart
 */
const defineBridge = verb('net define-bridge', {
  args: {
    name: pos('NAME'),
    bridge: value('--bridge', 'BR', { required: true }),
    start: flag('--start'),
    autostart: flag('--autostart'),
  },
  run: async (ctx, a) => {
    const r = await withConnection(ctx, (c) =>
      workflow().defineBridgedNetwork(c, a.name, { bridge: a.bridge, start: a.start, autostart: a.autostart, netns: ctx.netns }),
    );
    if (ctx.json) {
      ctx.out(JSON.stringify(r));
    } else {
      const lines = [`Network ${r.name} defined on bridge ${r.bridge}`];
      if (r.started) lines.push(`Network ${r.name} started`);
      if (r.autostart) lines.push(`Network ${r.name} marked as autostarted`);
      ctx.out(lines.join('\n') + '\n');
    }
    return 0;
  },
});

/**
 * hostwire net edit NAME: opens $VISUAL/$EDITOR on the persistent definition, validates what
 * comes back and redefines; an unchanged file changes nothing, and on any failure the old
 * definition stays. Equivalent to: virsh net-edit NAME
 */
const edit = verb('net edit', {
  args: { name: pos('NAME') },
  run: async (ctx, a) => {
    const { networkDefinition, editNetworkXml } = workflow();
    const r = await withConnection(ctx, async (c) => {
      const original = await networkDefinition(c, a.name);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hostwire-net-edit-'));
      try {
        const file = path.join(dir, 'network.xml');
        fs.writeFileSync(file, original, { mode: 0o600 });
        editor().runEditor(file);
        return await editNetworkXml(c, a.name, original, fs.readFileSync(file, 'utf8'));
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
    if (ctx.json) ctx.out(JSON.stringify({ name: r.name, changed: r.changed }));
    else ctx.out(r.changed ? `Network ${r.name} XML configuration edited.\n` : `Network ${r.name} XML configuration not changed.\n`);
    return 0;
  },
});

export const noun: Noun = { verbs: [list, info, dumpxml, define, start, destroy, undefine, autostart, defineBridge, edit] };
