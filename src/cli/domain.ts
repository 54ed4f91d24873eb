/**
 * `hostwire domain`: libvirt domains, printing what virsh prints (or JSON), and the workflow's
 * NIC attach/detach by MAC and interface list joined with the kernel.
 */
import * as fs from 'fs';
import { VIR_CONNECT_LIST_DOMAINS_ACTIVE, VIR_DOMAIN_XML_INACTIVE } from '../libvirt';
import { flag, pos, value } from './args';
import { verb, type Noun } from './verb';
import { formatTable, printJson, withConnection } from './virsh';

/** The workflow's NIC steps, loaded by the verbs that use them (the XML models, the kernel's handle): not by `domain list`. */
const workflow = () => require('../workflow/domain') as typeof import('../workflow/domain');

/** hostwire domain list [--all]. Equivalent to: virsh list [--all] */
const list = verb('domain list', {
  args: { all: flag('--all') },
  run: async (ctx, a) => {
    const doms = await withConnection(ctx, (c) => c.listAllDomains(a.all ? 0 : VIR_CONNECT_LIST_DOMAINS_ACTIVE));
    // virsh: running domains by id first, then the inactive ones by name.
    doms.sort((x, y) => (x.id < 0 !== y.id < 0 ? (x.id < 0 ? 1 : -1) : x.id >= 0 ? x.id - y.id : x.name.localeCompare(y.name)));
    if (ctx.json) {
      printJson(
        ctx,
        doms.map((d) => ({ name: d.name, uuid: d.uuid, id: d.id >= 0 ? d.id : null, state: d.state, persistent: d.persistent })),
      );
    } else {
      ctx.out(
        formatTable(
          ['Id', 'Name', 'State'],
          doms.map((d) => [d.id >= 0 ? String(d.id) : '-', d.name, d.state]),
        ),
      );
    }
    return 0;
  },
});

/** hostwire domain dumpxml NAME [--inactive]. Equivalent to: virsh dumpxml NAME [--inactive] */
const dumpxml = verb('domain dumpxml', {
  args: { name: pos('NAME'), inactive: flag('--inactive') },
  run: async (ctx, a) => {
    const xml = await withConnection(ctx, async (c) => {
      const d = await c.domainLookupByName(a.name);
      try {
        return await d.getXMLDesc(a.inactive ? VIR_DOMAIN_XML_INACTIVE : 0);
      } finally {
        d.free();
      }
    });
    if (ctx.json) printJson(ctx, { name: a.name, xml });
    else ctx.out(xml + '\n'); // virsh prints a blank line after the XML
    return 0;
  },
});

/** hostwire domain define FILE. Equivalent to: virsh define FILE */
const define = verb('domain define', {
  args: { file: pos('FILE') },
  run: async (ctx, a) => {
    const xml = await fs.promises.readFile(a.file, 'utf8');
    const r = await withConnection(ctx, async (c) => {
      const d = await c.domainDefineXML(xml);
      d.free();
      return { name: d.name, uuid: d.uuid };
    });
    if (ctx.json) printJson(ctx, r);
    else ctx.out(`Domain '${r.name}' defined from ${a.file}\n`);
    return 0;
  },
});

/** A verb that calls `method` on the named domain and says `done`. */
function lifecycle(name: string, method: 'create' | 'shutdown' | 'destroy' | 'undefine', done: string) {
  return verb(`domain ${name}`, {
    args: { name: pos('NAME') },
    run: async (ctx, a) => {
      await withConnection(ctx, async (c) => {
        const d = await c.domainLookupByName(a.name);
        try {
          await d[method]();
        } finally {
          d.free();
        }
      });
      if (ctx.json) printJson(ctx, { name: a.name, result: done });
      else ctx.out(`Domain '${a.name}' ${done}\n`);
      return 0;
    },
  });
}

/** hostwire domain start NAME. Equivalent to: virsh start NAME */
const start = lifecycle('start', 'create', 'started');
/** hostwire domain shutdown NAME. Equivalent to: virsh shutdown NAME */
const shutdown = lifecycle('shutdown', 'shutdown', 'is being shutdown');
/** hostwire domain destroy NAME. Equivalent to: virsh destroy NAME */
const destroy = lifecycle('destroy', 'destroy', 'destroyed');
/** hostwire domain undefine NAME. Equivalent to: virsh undefine NAME */
const undefine = lifecycle('undefine', 'undefine', 'has been undefined');

/**
 * hostwire [-n NS] domain iflist DOM: virsh's columns plus the bridge each tap is enslaved to
 * right now, read from the kernel in NS (where the daemon's taps live).
 * Equivalent to: virsh domiflist DOM + ip link show vnetN
 */
const iflist = verb('domain iflist', {
  args: { domain: pos('DOM') },
  run: async (ctx, a) => {
    const rows = await withConnection(ctx, (c) => workflow().interfaceList(c, a.domain, { netns: ctx.netns }));
    if (ctx.json) ctx.out(JSON.stringify(rows, null, 2));
    else
      ctx.out(
        formatTable(
          ['Interface', 'Type', 'Source', 'Model', 'MAC', 'Master'],
          rows.map((r) => [r.target ?? '-', r.type, r.source ?? '-', r.model ?? '-', r.mac ?? '-', r.master ?? '-']),
        ),
      );
    return 0;
  },
});

/**
 * hostwire domain attach-interface DOM (--network NET | --bridge BR) [--mac MAC] [--model M] [--live] [--config]
 * (one of --network and --bridge: the library checks, EINVALIDARG). Equivalent to: virsh attach-interface
 */
const attach = verb('domain attach-interface', {
  args: {
    domain: pos('DOM'),
    network: value('--network', 'NET'),
    bridge: value('--bridge', 'BR'),
    mac: value('--mac', 'MAC'),
    model: value('--model', 'M'),
    live: flag('--live'),
    config: flag('--config'),
  },
  run: async (ctx, a) => {
    const r = await withConnection(ctx, (c) =>
      workflow().attachInterface(c, a.domain, {
        network: a.network,
        bridge: a.bridge,
        mac: a.mac,
        model: a.model,
        live: a.live,
        config: a.config,
      }),
    );
    ctx.out(ctx.json ? JSON.stringify({ domain: a.domain, mac: r.mac }) : `Interface attached successfully (MAC ${r.mac})\n`);
    return 0;
  },
});

/** hostwire domain detach-interface DOM --mac MAC [--live] [--config]. Equivalent to: virsh detach-interface DOM --mac MAC */
const detach = verb('domain detach-interface', {
  args: {
    domain: pos('DOM'),
    mac: value('--mac', 'MAC', { required: true }),
    live: flag('--live'),
    config: flag('--config'),
  },
  run: async (ctx, a) => {
    const r = await withConnection(ctx, (c) => workflow().detachInterface(c, a.domain, { mac: a.mac, live: a.live, config: a.config }));
    ctx.out(
      ctx.json
        ? JSON.stringify({ domain: a.domain, mac: a.mac, removed: r.removed })
        : r.removed
          ? 'Interface detached successfully\n'
          : 'Interface detach requested (the guest has not finished the unplug yet)\n',
    );
    return 0;
  },
});

export const noun: Noun = { verbs: [list, dumpxml, define, start, shutdown, destroy, undefine, iflist, attach, detach] };
