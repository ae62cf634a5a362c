// The public face of the Envoy-faithful host: load a module, configure it, send requests, inspect.
export { EnvoyHost, Plugin, checkModule } from './envoy-host.js';
export type { FailurePolicy, HostOptions, RequestOutcome, RequestSpec, ResponseView, Upstream, UpstreamAnswer } from './http-stream.js';
export { HttpStream, type Decision } from './http-stream.js';
export { mtls, plaintext, tls } from './connection.js';
export type { Connection, PeerCertificate } from './connection.js';
export { HostLoadError, HostTrap } from './vm.js';
export type { LogEntry } from './vm.js';
export type { Header, RawHeader } from './header-map.js';
