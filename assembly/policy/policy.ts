// The parsed, match-ready policy. Built once per configuration, immutable afterwards, and held by
// the plugin's root context (never a module global: plugins sharing the VM have their own).
import { HostPattern, RequestHost, hostInScope } from "./authority";
import { Matcher } from "./rule";
import { RuleList } from "./rule-list";

export const enum Mode {
  Enforce,
  DryRun,
}

export const enum IdentitySource {
  Connection,
  Xfcc,
}

export class DenyResponse {
  status: u32 = 403;
  body: string = "client certificate not authorized\n";
  contentType: string = "text/plain";
  includeReason: bool = false;
}

export class Policy {
  mode: Mode = Mode.Enforce;
  source: IdentitySource = IdentitySource.Connection;
  trustedProxies: Matcher[] = [];
  // null: every host is in scope.
  hosts: HostPattern[] | null = null;
  allow: RuleList = new RuleList();
  deny: RuleList = new RuleList(0, true);
  // Lower case; "" when no identity header is set.
  identityHeader: string = "";
  // Every spelling an upstream could take for the identity header ('-' and '_' swapped: Envoy
  // forwards header names with underscores, and CGI-style upstreams fold both into one), removed
  // from every request.
  identityHeaderSpellings: string[] = [];
  denyResponse: DenyResponse = new DenyResponse();
  // Warn about an allowed certificate this many days before it expires; 0: never.
  expiryWarningDays: i32 = 0;
  // At most this many deny lines per second per worker; the rest are counted (0: no deny lines).
  denyLinesPerSecond: i32 = 10;

  // What the request path must read from the host, worked out once from the rules.
  needsHost: bool = false;
  needsPath: bool = false;
  needsClock: bool = false;
  needsSubject: bool = false;
  needsSans: bool = false;
  needsCertificate: bool = false;

  // Connection mode reads the certificate for every SAN or for the rules that read it.
  get readsCertificate(): bool {
    return this.needsSans || this.needsCertificate;
  }

  // Whether the filter decides this request: an ambiguous host (an empty one too) is in scope.
  inScope(host: RequestHost): bool {
    let hosts = this.hosts;
    return hosts === null || hostInScope(hosts, host, true);
  }

  get ruleCount(): i32 {
    return this.allow.length + this.deny.length;
  }
}
