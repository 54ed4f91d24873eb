/** libvirt bindings: connections, networks, domains, lifecycle and device events, as Promises. */
export * from './constants';
export * from './names';
export { Connection, DEFAULT_URI, resolveUri } from './connection';
export type {
  AuthCallback,
  CloseEvent,
  Credential,
  DomainDeviceEvent,
  DomainLifecycleEvent,
  LifecycleEvent,
  NetworkLifecycleEvent,
  OpenOptions,
  Version,
} from './connection';
export { Domain } from './domain';
export type { DomainInfo, DomainState } from './domain';
export { Network } from './network';
export type { NetworkInfo } from './network';
export { interfaceXml, interfacesFromXml, interfacesOf } from './interfaces';
export type { DomainInterface, InterfaceSpec } from './interfaces';
export { LibvirtError } from './errors';
export { AUTH_FILE_ENV, PASSWORD_ENV, USERNAME_ENV, credentialCallback, credentialsFromEnv, readAuthFile } from './credentials';
export type { Credentials } from './credentials';
