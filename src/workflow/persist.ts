/**
 * Persistence: the live bridge setup (the bridge and its options, its ports, its addresses and
 * routes), read over rtnetlink, rendered as the files a distribution brings it back from at
 * boot: systemd-networkd (.netdev + .network), an ifupdown stanza (/etc/network/interfaces) or
 * NetworkManager keyfiles. Reading is readBridgeSetup(); the renderers are pure.
 */
import * as fs from 'fs';
import * as path from 'path';
import { HostwireError, SyscallError, ValidationError } from '../errors';
import type { NetlinkError } from '../rtnl/errors';
import type { Handle } from '../rtnl/handle';
import { RTPROT_KERNEL } from '../rtnl/route';
import { checkIfName } from '../rtnl/validate';
import { movableAddresses } from './uplink';

export interface BridgeSetup {
  name: string;
  mac: string | null;
  mtu: number;
  stp: boolean;
  /** Forward delay in seconds. */
  forwardDelay: number;
  ports: { name: string; physical: boolean }[];
  /** 'A/N', IPv4 then IPv6. */
  addresses: string[];
  /** Routes out of the bridge; dst 'default' for default routes. */
  routes: { family: 4 | 6; dst: string; gateway?: string; metric?: number }[];
}

export const FORMATS = ['networkd', 'ifupdown', 'nm'] as const;
export type PersistFormat = (typeof FORMATS)[number];

/** One file to write: its name (no directory) and text. */
export interface RenderedFile {
  name: string;
  text: string;
  /** File mode (NetworkManager ignores keyfiles readable by others). */
  mode: number;
}

/** Reads the live setup of a bridge. 'ENOBRIDGE' / 'ENOTBRIDGE' when BR is missing or not a bridge. */
export async function readBridgeSetup(h: Handle, bridge: string): Promise<BridgeSetup> {
  checkIfName(bridge, 'bridge');
  let br;
  try {
    br = await h.getLink(bridge);
  } catch (e) {
    if ((e as NetlinkError).code === 'ENODEV') throw new ValidationError('ENOBRIDGE', `bridge ${bridge} does not exist`, 'bridge');
    throw e;
  }
  if (br.kind !== 'bridge') throw new ValidationError('ENOTBRIDGE', `${bridge} is not a bridge`, 'bridge');
  const ports = (await h.listLinks({ master: br.index })).map((p) => ({ name: p.name, physical: p.kind === null }));
  const addrs = movableAddresses(await h.listAddresses({ dev: br.index })).sort((a, b) => a.family - b.family);
  const routes = (await h.listRoutes({ dev: br.index }))
    .filter((r) => r.protocol !== RTPROT_KERNEL && r.type === 1 && !r.dst.startsWith('fe80:'))
    .map((r) => ({
      family: r.family,
      dst: r.dst,
      ...(r.gateway ? { gateway: r.gateway } : {}),
      ...(r.priority !== undefined ? { metric: r.priority } : {}),
    }));
  return {
    name: br.name,
    mac: br.address,
    mtu: br.mtu,
    stp: br.info?.stp_state === 1,
    forwardDelay: typeof br.info?.forward_delay === 'number' ? Math.round(br.info.forward_delay / 100) : 15,
    ports,
    addresses: addrs.map((a) => `${a.address}/${a.prefixlen}`),
    routes,
  };
}

const v6 = (cidr: string): boolean => cidr.includes(':');

/** systemd-networkd: BR.netdev, BR.network, and one .network per port binding it to the bridge. */
export function renderNetworkd(s: BridgeSetup): RenderedFile[] {
  const netdev = ['[NetDev]', `Name=${s.name}`, 'Kind=bridge', `MTUBytes=${s.mtu}`];
  if (s.mac) netdev.push(`MACAddress=${s.mac}`);
  netdev.push('', '[Bridge]', `STP=${s.stp ? 'yes' : 'no'}`, `ForwardDelaySec=${s.forwardDelay}`);
  const network = ['[Match]', `Name=${s.name}`, '', '[Network]', ...s.addresses.map((a) => `Address=${a}`)];
  if (!s.addresses.length) network.push('LinkLocalAddressing=no');
  for (const r of s.routes) {
    network.push('', '[Route]');
    if (r.dst !== 'default') network.push(`Destination=${r.dst}`);
    if (r.gateway) network.push(`Gateway=${r.gateway}`);
    else if (r.dst === 'default') network.push(`Gateway=${r.family === 4 ? '0.0.0.0' : '::'}`);
    if (r.metric !== undefined) network.push(`Metric=${r.metric}`);
  }
  const files: RenderedFile[] = [
    { name: `25-${s.name}.netdev`, text: netdev.join('\n') + '\n', mode: 0o644 },
    { name: `25-${s.name}.network`, text: network.join('\n') + '\n', mode: 0o644 },
  ];
  for (const p of s.ports)
    files.push({
      name: `25-${p.name}.network`,
      text: ['[Match]', `Name=${p.name}`, '', '[Network]', `Bridge=${s.name}`].join('\n') + '\n',
      mode: 0o644,
    });
  return files;
}

/** ifupdown (/etc/network/interfaces): the bridge stanza (bridge-utils options), extra addresses and routes. */
export function renderIfupdown(s: BridgeSetup): RenderedFile[] {
  const v4 = s.addresses.filter((a) => !v6(a));
  const six = s.addresses.filter(v6);
  const gw = (fam: 4 | 6) => s.routes.find((r) => r.family === fam && r.dst === 'default' && r.gateway && r.metric === undefined);
  const others = s.routes.filter((r) => r !== gw(4) && r !== gw(6));
  const lines = [
    `# ${s.name}: written by hostwire bridge persist`,
    ...s.ports.map((p) => `iface ${p.name} inet manual`),
    '',
    `auto ${s.name}`,
  ];
  const bridgeOpts = [
    `    bridge_ports ${s.ports.map((p) => p.name).join(' ') || 'none'}`,
    `    bridge_stp ${s.stp ? 'on' : 'off'}`,
    `    bridge_fd ${s.forwardDelay}`,
    ...(s.mac ? [`    hwaddress ether ${s.mac}`] : []),
    `    mtu ${s.mtu}`,
  ];
  const routeLines = others.map(
    (r) =>
      `    up ip ${r.family === 6 ? '-6 ' : ''}route add ${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} dev ${s.name}${r.metric !== undefined ? ` metric ${r.metric}` : ''}`,
  );
  if (v4.length) {
    lines.push(`iface ${s.name} inet static`, ...bridgeOpts, `    address ${v4[0]}`);
    const g = gw(4);
    if (g) lines.push(`    gateway ${g.gateway}`);
    lines.push(...routeLines);
    for (const extra of v4.slice(1)) lines.push('', `iface ${s.name} inet static`, `    address ${extra}`);
  } else {
    lines.push(`iface ${s.name} inet manual`, ...bridgeOpts, ...routeLines);
  }
  six.forEach((a, i) => {
    lines.push('', `iface ${s.name} inet6 static`, `    address ${a}`);
    const g = gw(6);
    if (i === 0 && g) lines.push(`    gateway ${g.gateway}`);
  });
  return [{ name: s.name, text: lines.join('\n') + '\n', mode: 0o644 }];
}

/** A stable UUID for a connection name (NetworkManager wants one per profile). */
export function nmUuid(id: string): string {
  // node:crypto loaded here: `bridge show` and every other bridge verb load this module, and it costs ~2 ms of start-up.
  const h = (require('crypto') as typeof import('crypto')).createHash('sha1').update(`hostwire:${id}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** NetworkManager keyfiles: a bridge profile and a port profile per port (mode 0600). */
export function renderNm(s: BridgeSetup): RenderedFile[] {
  const ipSection = (fam: 4 | 6): string[] => {
    const addrs = s.addresses.filter((a) => v6(a) === (fam === 6));
    const out = [`[ipv${fam}]`];
    if (!addrs.length) return [...out, `method=${fam === 4 ? 'disabled' : 'ignore'}`];
    out.push('method=manual', ...addrs.map((a, i) => `address${i + 1}=${a}`));
    let n = 0;
    for (const r of s.routes.filter((x) => x.family === fam)) {
      if (r.dst === 'default' && r.gateway && r.metric === undefined && !out.some((l) => l.startsWith('gateway=')))
        out.push(`gateway=${r.gateway}`);
      else
        out.push(
          `route${++n}=${r.dst === 'default' ? (fam === 4 ? '0.0.0.0/0' : '::/0') : r.dst}${r.gateway || r.metric !== undefined ? `,${r.gateway ?? (fam === 4 ? '0.0.0.0' : '::')}` : ''}${r.metric !== undefined ? `,${r.metric}` : ''}`,
        );
    }
    return out;
  };
  const bridge = [
    '[connection]',
    `id=${s.name}`,
    `uuid=${nmUuid(s.name)}`,
    'type=bridge',
    `interface-name=${s.name}`,
    '',
    '[ethernet]',
    ...(s.mac ? [`cloned-mac-address=${s.mac}`] : []),
    `mtu=${s.mtu}`,
    '',
    '[bridge]',
    `stp=${s.stp}`,
    `forward-delay=${s.forwardDelay}`,
    '',
    ...ipSection(4),
    '',
    ...ipSection(6),
  ];
  const files: RenderedFile[] = [{ name: `${s.name}.nmconnection`, text: bridge.join('\n') + '\n', mode: 0o600 }];
  for (const p of s.ports) {
    const id = `${s.name}-port-${p.name}`;
    files.push({
      name: `${id}.nmconnection`,
      text:
        [
          '[connection]',
          `id=${id}`,
          `uuid=${nmUuid(id)}`,
          'type=ethernet',
          `interface-name=${p.name}`,
          `master=${s.name}`,
          'slave-type=bridge',
        ].join('\n') + '\n',
      mode: 0o600,
    });
  }
  return files;
}

/** Renders a setup in a format; 'EINVALIDARG' for an unknown format. */
export function renderBridgeSetup(s: BridgeSetup, format: PersistFormat): RenderedFile[] {
  if (format === 'networkd') return renderNetworkd(s);
  if (format === 'ifupdown') return renderIfupdown(s);
  if (format === 'nm') return renderNm(s);
  throw new ValidationError('EINVALIDARG', `format must be one of ${FORMATS.join(', ')}`, 'format');
}

/**
 * Writes rendered files into DIR (made if missing). Refuses, before writing anything, when any
 * of them exists ('EEXIST'): persisted configuration is never overwritten silently. Each file is
 * written to a temporary file in DIR, flushed, and renamed into place (link(2), which also
 * refuses an existing name), so a full disk or a read-only directory leaves no half-written
 * file: either a whole file appears or none, and on a failure the files already placed by this
 * call are removed again. Errors keep the system's code (ENOSPC, EROFS, EACCES ...).
 */
export function writeRendered(dir: string, files: RenderedFile[]): string[] {
  const paths = files.map((f) => path.join(dir, f.name));
  for (const p of paths)
    if (fs.existsSync(p)) throw new HostwireError('EEXIST', `${p} already exists; remove it first or choose another --dir`);
  const placed: string[] = [];
  try {
    fs.mkdirSync(dir, { recursive: true });
    files.forEach((f, i) => {
      const tmp = path.join(dir, `.${f.name}.hostwire-${process.pid}-${i}.tmp`);
      try {
        const fd = fs.openSync(tmp, 'wx', f.mode);
        try {
          fs.writeFileSync(fd, f.text);
          fs.fsyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
        fs.linkSync(tmp, paths[i]); // like rename, but never over an existing file
        placed.push(paths[i]);
      } finally {
        fs.rmSync(tmp, { force: true });
      }
    });
  } catch (e) {
    for (const p of placed) fs.rmSync(p, { force: true });
    const err = e as NodeJS.ErrnoException;
    if (err.code && err.syscall)
      throw new SyscallError(err.code, -(err.errno ?? 0), err.syscall, `bridge persist: ${err.message}`, err.path);
    throw e;
  }
  return paths;
}

/**
 * Reads the live bridge setup and renders it (and writes it into `dir` when given).
 * Equivalent to: writing /etc/systemd/network/*.netdev|*.network, /etc/network/interfaces or
 * /etc/NetworkManager/system-connections/*.nmconnection by hand from `ip -d link/addr/route`.
 */
export async function persistBridge(
  h: Handle,
  bridge: string,
  format: PersistFormat,
  dir?: string,
): Promise<{ files: RenderedFile[]; paths: string[] }> {
  if (!(FORMATS as readonly string[]).includes(format))
    throw new ValidationError('EINVALIDARG', `format must be one of ${FORMATS.join(', ')}`, 'format');
  const files = renderBridgeSetup(await readBridgeSetup(h, bridge), format);
  return { files, paths: dir !== undefined ? writeRendered(dir, files) : [] };
}
