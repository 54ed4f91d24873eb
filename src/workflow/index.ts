/**
 * The bridged-networking workflow: the tutorial's steps as library calls over rtnetlink and
 * libvirt (the CLI's net, domain, bridge and firewall verbs in src/cli are thin wrappers over these),
 * and declarative state: a namespace shown as a document, and applied from one (state*.ts).
 */
export {
  defineBridgedNetwork,
  editNetwork,
  editNetworkXml,
  networkDefinition,
  networkBridges,
  checkBridgeExists,
  checkEdit,
  withHandle,
} from './network';
export type { DefineBridgeOptions, DefineBridgeResult, EditResult, NetworkBridge } from './network';
export { attachInterface, detachInterface, interfaceList, interfaceSpec, randomMac } from './domain';
export type { AttachOptions, DetachOptions, InterfaceRow } from './domain';
export { PortWatcher } from './ports';
export type { GoneReason, Port, PortEvent, PortWatcherOptions } from './ports';
export {
  addBridgePort,
  checkBatchPorts,
  checkBridgePort,
  defaultRouteLinks,
  isPhysicalLink,
  MANAGED_FORWARD,
  refuseManaged,
} from './guard';
export type { GuardOptions } from './guard';
export { BRIDGE_NF, getBridgeFirewall, setBridgeFirewall, openInNetns } from './firewall';
export type { BridgeFirewall, BridgeNfKey, FirewallOptions } from './firewall';
export {
  FORMATS,
  persistBridge,
  readBridgeSetup,
  renderBridgeSetup,
  renderIfupdown,
  renderNetworkd,
  renderNm,
  writeRendered,
} from './persist';
export type { BridgeSetup, PersistFormat, RenderedFile } from './persist';
export { bridgeUplink, movableAddresses, movableRoutes } from './uplink';
export type { UplinkOptions, UplinkResult } from './uplink';
export { parseNetwork, buildNetwork, checkNetwork, bridgedNetwork, FORWARD_MODES } from '../xml/network';
export type { NetworkModel, NetworkIp, DhcpRange, DhcpHost, ForwardMode } from '../xml/network';
export { parseDomain, buildDomain, buildInterface, checkDomain } from '../xml/domain';
export type { DomainModel, InterfaceModel } from '../xml/domain';
export { apply, showState, readState, verify, toDocument, ApplyError } from './state';
export type { ApplyOptions, ApplyResult, ReadOptions } from './state';
export { plan, planJson, planLines, planSummary, OWNER_MARK, RTPROT_HOSTWIRE } from './state-plan';
export type { Plan, PlanEntry, PlanOptions, CurrentState, ObservedLink, ObservedRoute } from './state-plan';
export { checkState, parseState, formatState, StateError, STATE_SCHEMA } from './state-doc';
export type { StateDocument, LinkState, RouteState, NetworkState } from './state-doc';
export { CHECKPOINT_DIR, confirmCheckpoint, readCheckpoint, restoreCheckpoint, waitCheckpoint } from './state-checkpoint';
export type { Checkpoint } from './state-checkpoint';
