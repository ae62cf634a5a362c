// A configuration's self-tests: requests and the decision each must get, read with the rest and run
// once the policy is complete, through the same decision requests get. Pure.
import { Keys } from "./json";
import { Fields, Items, Parser } from "./parser";
import { quote } from "./checks";
import { Identity, IdentityFailure, IdentityResult } from "../identity/identity";
import { RequestHost, requestHost } from "../policy/authority";
import { decide, reasonName } from "../policy/decide";
import { RequestPath, requestPath } from "../policy/path";
import { Policy } from "../policy/policy";

const enum TestField {
  Name,
  Request,
  Expect,
}

const enum RequestField {
  Sha256,
  UriSans,
  DnsSans,
  Subject,
  Host,
  Path,
  At,
}

// A self-test's client: it lists the certificate's SANs, so they are all there is.
function selfTestIdentity(): Identity {
  let identity = new Identity();
  identity.subject = "";
  identity.sansComplete = true;
  return identity;
}

class SelfTest {
  name: string = "";
  path: string = "";
  expectAllow: bool = false;
  noCertificate: bool = true;
  identity: Identity = selfTestIdentity();
  // No host: an empty authority, which is in scope (and ambiguous).
  host: RequestHost = RequestHost.AMBIGUOUS;
  target: string = "/";
  at: i64 = 0;
  hasAt: bool = false;
}

class RequestFields extends Fields {
  test: SelfTest = new SelfTest();

  constructor() {
    super(new Keys(["sha256", "uriSans", "dnsSans", "subject", "host", "path", "at"]));
  }

  read(parser: Parser, index: i32): void {
    let test = this.test;
    switch (index) {
      case RequestField.Sha256:
        test.identity.digest = parser.fingerprint();
        test.noCertificate = false;
        break;
      case RequestField.UriSans:
      case RequestField.DnsSans: {
        let sans = parser.strings();
        if (sans !== null) {
          if (index == RequestField.UriSans) test.identity.uriSans = sans;
          else test.identity.dnsSans = sans;
        }
        break;
      }
      case RequestField.Subject: {
        let subject = parser.string();
        if (subject !== null) test.identity.subject = subject;
        test.noCertificate = false;
        break;
      }
      case RequestField.Host: {
        let host = parser.string();
        if (host !== null) {
          let bytes = String.UTF8.encode(host);
          test.host = requestHost(changetype<usize>(bytes), bytes.byteLength);
        }
        break;
      }
      case RequestField.Path: {
        let target = parser.string();
        if (target !== null) {
          if (!target.startsWith("/")) parser.fail("expected a path starting with \"/\", got " + quote(target));
          test.target = target;
        }
        break;
      }
      default:
        test.at = parser.instant();
        test.hasAt = true;
    }
  }
}

class TestFields extends Fields {
  test: SelfTest = new SelfTest();
  expectation: i32 = -1;
  private request: RequestFields = new RequestFields();

  constructor() {
    super(new Keys(["name", "request", "expect"]));
  }

  read(parser: Parser, index: i32): void {
    switch (index) {
      case TestField.Name: {
        let name = parser.string();
        if (name !== null) this.test.name = name;
        break;
      }
      case TestField.Request:
        this.request.test = this.test;
        parser.object(this.request);
        break;
      default:
        this.expectation = parser.choice(["allow", "deny"]);
    }
  }
}

export class SelfTests extends Items {
  tests: SelfTest[] = [];
  private fields: TestFields = new TestFields();

  item(parser: Parser): bool {
    let fields = this.fields;
    let test = new SelfTest();
    test.path = parser.path();
    fields.test = test;
    fields.expectation = -1;
    let seen = parser.object(fields);
    if (seen < 0) return false;
    if ((seen & (1 << TestField.Name)) == 0) return parser.failAt("name", "required");
    for (let i = 0; i < this.tests.length; i++) {
      if (this.tests[i].name == test.name) return parser.failAt("name", "duplicate name " + quote(test.name) + " (first used by " + this.tests[i].path + ")");
    }
    if ((seen & (1 << TestField.Request)) == 0) return parser.failAt("request", "required");
    if (fields.expectation < 0) return parser.failAt("expect", "required");
    test.expectAllow = fields.expectation == 0;
    this.tests.push(test);
    this.count++;
    return true;
  }
}

function windowEdges(policy: Policy, result: IdentityResult, host: RequestHost, path: RequestPath): i64[] {
  let edges = new Array<i64>();
  let identity = result.identity;
  if (identity !== null) {
    policy.deny.windowEdges(identity, host, path, edges);
    policy.allow.windowEdges(identity, host, path, edges);
  }
  return edges;
}

// Each self-test describes a request and the expected decision; any failure rejects the whole
// configuration with the test's name and the actual outcome. A test with `at` is decided at that
// moment. One without must hold at every moment: it is decided around each window edge of the rules
// it could match (between edges nothing changes), never at the clock's time — so every VM that loads
// a configuration, now or after a restart next year, gives the canary's answer (a worker that refused
// what its canary accepted would run without the filter). The first failure, as the error; "" when
// every test holds.
export function runSelfTests(tests: SelfTest[], policy: Policy): string {
  for (let i = 0; i < tests.length; i++) {
    let test = tests[i];
    let failed = false;
    let outcome = "allow";
    let when = "";
    if (!policy.inScope(test.host)) {
      // Out of scope, a request continues untouched: an allow.
      failed = !test.expectAllow;
    } else {
      // No sha256 and no subject: a request without a client certificate.
      let result = test.noCertificate ? new IdentityResult().fail(IdentityFailure.NoClientCertificate) : new IdentityResult().hold(test.identity);
      let target = String.UTF8.encode(test.target);
      let path = requestPath(changetype<usize>(target), target.byteLength);
      let moments = test.hasAt ? [test.at] : windowEdges(policy, result, test.host, path);
      // Without edges the answer is the same at any moment.
      if (moments.length == 0) moments.push(0);
      let earliest: i64 = 0;
      for (let m = 0; m < moments.length; m++) {
        let moment = moments[m];
        let verdict = decide(policy, result, test.host, path, moment);
        if (verdict.allowed == test.expectAllow || (failed && moment >= earliest)) continue;
        failed = true;
        earliest = moment;
        outcome = verdict.allowed ? "allow (rule " + quote(verdict.rule) + ")" : "deny (" + reasonName(verdict.reason) + ")";
        if (!test.hasAt && moments.length > 1) when = " at " + new Date(moment).toISOString() + " (without \"at\", a self-test must hold at any time)";
      }
    }
    if (failed) return test.path + ": self-test " + quote(test.name) + " expected " + (test.expectAllow ? "allow" : "deny") + ", got " + outcome + when;
  }
  return "";
}
