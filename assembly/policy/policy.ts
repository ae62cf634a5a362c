// The parsed, match-ready policy. Built once per configuration, immutable afterwards, and held by
// the plugin's root context (never a module global: plugins sharing the VM have their own).
import { DigestSet } from "./digest-set";

export class AllowRule {
  constructor(public name: string) {}
}

export class Policy {
  constructor(public allow: AllowRule[], public digests: DigestSet) {}
}
