// Request hosts and host patterns. A host is compared the way a lenient router would see it:
// lower case, without user info, port or trailing dot, so `PAYMENTS.example.com.:443` and
// `user@payments.example.com` are payments.example.com. Pure.
import { asciiLower } from "../text";

export function normaliseHost(authority: string): string {
  let host = asciiLower(authority);
  let at = host.lastIndexOf("@");
  if (at >= 0) host = host.substring(at + 1);
  if (host.startsWith("[")) {
    let close = host.indexOf("]");
    if (close > 0) host = host.substring(0, close + 1);
  } else {
    let colon = host.indexOf(":");
    if (colon >= 0 && host.indexOf(":", colon + 1) < 0) host = host.substring(0, colon);
  }
  while (host.endsWith(".")) host = host.substring(0, host.length - 1);
  return host;
}

// "payments.example.com" (exact) or "*.bank.example" (any name ending in ".bank.example").
export class HostPattern {
  constructor(public exact: string, public suffix: string) {}

  // Returns null when the pattern is not usable, with the reason in `problem`.
  static parse(text: string, problem: string[]): HostPattern | null {
    let pattern = asciiLower(text);
    while (pattern.endsWith(".")) pattern = pattern.substring(0, pattern.length - 1);
    if (pattern.includes(":") && !pattern.startsWith("[")) {
      problem.push("ports are ignored; write the host without \":port\"");
      return null;
    }
    if (pattern.startsWith("*.")) {
      let suffix = pattern.substring(1);
      if (suffix.length < 2 || suffix.includes("*")) {
        problem.push("expected a host or \"*.\" followed by a domain");
        return null;
      }
      return new HostPattern("", suffix);
    }
    if (pattern.length == 0 || pattern.includes("*") || pattern.includes("/") || pattern.includes("@") || pattern.includes(" ")) {
      problem.push("expected a host or \"*.\" followed by a domain");
      return null;
    }
    return new HostPattern(pattern, "");
  }

  // `host` is normalised.
  matches(host: string): bool {
    if (this.suffix.length == 0) return host == this.exact;
    return host.length > this.suffix.length && host.endsWith(this.suffix);
  }
}

export function matchesAnyHost(patterns: HostPattern[], host: string): bool {
  for (let i = 0; i < patterns.length; i++) {
    if (patterns[i].matches(host)) return true;
  }
  return false;
}
