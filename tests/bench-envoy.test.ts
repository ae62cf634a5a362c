// npm run bench:envoy measures what it says: in real Envoy, every scenario's gateway gives the client
// the status the benchmark expects of it, and the alternatives beside cert-allowlist (RBAC, Lua) really
// decide — a client they do not list is refused — so their figures are those of a working allow list.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { Pair, type EnvoyScenario, envoyScenarios } from '../bench/envoy-scenarios.js';
import { load } from '../bench/envoy.js';

const REQUESTS = 40;

async function statuses(scenario: EnvoyScenario): Promise<Map<number, number>> {
  const pair = await Pair.start(scenario);
  try {
    const result = load(pair, scenario, REQUESTS, 2, 4);
    assert.equal(result.requests, REQUESTS, 'every request logged by h2load');
    return result.statuses;
  } finally {
    await pair.stop();
  }
}

describe("the real-Envoy benchmark's scenarios", () => {
  it('h2load is installed', () => {
    execFileSync('h2load', ['--version'], { stdio: 'ignore' });
  });
  for (const scenario of envoyScenarios()) {
    it(`${scenario.name}: every request gets ${scenario.status}`, async () => {
      assert.deepEqual([...(await statuses(scenario))], [[scenario.status, REQUESTS]]);
    });
    if (scenario.filter.kind === 'rbac' || scenario.filter.kind === 'lua') {
      it(`${scenario.name.replace(/allowed$/, 'a client not listed')}: every request gets 403`, async () => {
        assert.deepEqual([...(await statuses({ ...scenario, client: 'denied', status: 403 }))], [[403, REQUESTS]]);
      });
    }
  }
});
