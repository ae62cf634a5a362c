// The benchmark's guard. Executed instructions do not depend on the machine, so npm test holds the
// main scenarios of `npm run bench` under ceilings — a margin above what the benchmark measures,
// never a timing — with no collector step inside a request, and the module under 128 KiB. It also
// keeps the benchmark's lean host honest: every scenario gets the same answer there as in the
// Envoy-faithful host, and the README's instruction counts true.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CountingHost } from '../bench/count.js';
import { README, statedInstructions } from '../bench/readme.js';
import { fingerprints, leanOf, scenarios, specOf } from '../bench/scenarios.js';
import { EnvoyHost } from '../host/index.js';

const MODULE = new URL('../build/cert-allowlist.wasm', import.meta.url).pathname;
const release = readFileSync(MODULE);
const MAX_MODULE_BYTES = 128 * 1024;
// Instructions to configure one plain sha256 rule, at 10 000 rules.
const CONFIGURE_CEILING = 7_000;
// The README's figures (npm run bench:readme) must be what the filter does now, within this much:
// exactly what the same input costs, or, for requests carrying the demo PKI's certificates (made
// anew on each machine, a few bytes longer or shorter), a little more.
const README_TOLERANCE = 0.03;
const README_TOLERANCE_FRESH_PKI = 0.1;
const stated = statedInstructions(readFileSync(README, 'utf8'));

describe("the benchmark's scenarios", () => {
  for (const scenario of scenarios([1, 1000, 100_000])) {
    it(`${scenario.name}: at most ${scenario.ceiling.toLocaleString('en')} instructions, ${scenario.allocates ? 'a collection in at most 1 request of 100' : 'none spent collecting'}, the same answer in both hosts`, async () => {
      const envoyHost = await EnvoyHost.load(MODULE, { canary: false });
      assert.equal(envoyHost.configure(scenario.configuration), true);
      const outcome = envoyHost.request(specOf(scenario.request));
      assert.equal(outcome.action === 'continued' ? 200 : outcome.response.status, scenario.status, 'the Envoy-faithful host');

      const counting = await CountingHost.load(release);
      assert.equal(counting.configure(scenario.configuration).accepted, true);
      const counts = counting.requests(leanOf(scenario.request), 1000, 100, (lean) => assert.equal(lean.status, scenario.status, 'the lean host'));
      assert.ok(counts.mean <= scenario.ceiling, `${Math.round(counts.mean)} instructions per request`);
      if (scenario.allocates) {
        assert.ok(counts.overTwiceMean <= 10, `${counts.overTwiceMean} of 1000 requests took more than twice the mean`);
      } else {
        assert.equal(counts.overTwiceMean, 0, `the largest request took ${counts.max}, the mean ${Math.round(counts.mean)}`);
      }
      const readme = stated.get(scenario.name);
      assert.ok(readme !== undefined, `README.md states no instruction count for "${scenario.name}"`);
      assert.ok(
        Math.abs(counts.mean - readme) <= (scenario.freshPki ? README_TOLERANCE_FRESH_PKI : README_TOLERANCE) * readme,
        `README.md states ${readme} instructions, the filter now takes ${Math.round(counts.mean)}: run npm run bench and npm run bench:readme`,
      );
    });
  }
});

describe('configuring and the module', () => {
  it(`configures a plain sha256 rule in at most ${CONFIGURE_CEILING.toLocaleString('en')} instructions`, async () => {
    const counting = await CountingHost.load(release);
    const { accepted, instructions } = counting.configure(fingerprints(10_000));
    assert.equal(accepted, true);
    assert.ok(instructions / 10_000 <= CONFIGURE_CEILING, `${Math.round(instructions / 10_000)} per rule`);
  });
  it(`is at most ${MAX_MODULE_BYTES.toLocaleString('en')} bytes`, () => {
    assert.ok(release.length <= MAX_MODULE_BYTES, `${release.length} bytes`);
  });
});
