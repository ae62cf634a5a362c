// The parsed, match-ready policy. Built once per configuration, immutable afterwards, and held by
// the plugin's root context (never a module global: plugins sharing the VM have their own).
import { HostPattern, matchesAnyHost } from "./host";
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
  deny: RuleList = new RuleList();
  // Lower case; "" when no identity header is set.
  identityHeader: string = "";
  denyResponse: DenyResponse = new DenyResponse();
  // Warn about an allowed certificate this many days before it expires; 0: never.
  expiryWarningDays: i32 = 0;

  // What the request path must read from the host, worked out once from the rules.
  needsHost: bool = false;
  needsPath: bool = false;
  needsClock: bool = false;
  needsSubject: bool = false;
  needsSans: bool = false;
  needsCertificate: bool = false;

  inScope(host: string): bool {
    let hosts = this.hosts;
    // A request without a host is never out of scope: absence must not switch the filter off.
    return hosts === null || host.length == 0 || matchesAnyHost(hosts, host);
  }

  get ruleCount(): i32 {
    return this.allow.length + this.deny.length;
  }
}
