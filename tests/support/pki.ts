// The tests' PKI: the demo clients and the certificates the tests need besides, made fresh for each
// test process in a temporary folder (openssl makes one in a few milliseconds).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { type ClientSpec, DEMO_CLIENTS, type Pki, makeDemoPki } from '../../demo/pki.js';

/** The URI SAN of the gateway's own certificate, as Istio's ingress gateway has it. */
export const GATEWAY_SPIFFE = 'spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account';

export const TEST_CLIENTS: ClientSpec[] = [
  ...DEMO_CLIENTS,
  {
    name: 'several-sans',
    subject: '/O=Demo Bank/CN=several.demo.local',
    sans: [
      ['URI', 'spiffe://demo.local/ns/bank/sa/first'],
      ['URI', 'spiffe://demo.local/ns/bank/sa/second'],
      ['DNS', 'one.demo.local'],
      ['DNS', 'two.demo.local'],
    ],
    purpose: 'two URI and two DNS SANs',
  },
  {
    name: 'email-ip',
    subject: '/CN=mail.demo.local',
    sans: [
      ['email', 'batch@demo.local'],
      ['IP', '10.1.2.3'],
      ['IP', '2001:db8::1'],
    ],
    purpose: 'email and IP SANs',
  },
  { name: 'no-san', subject: '/O=Demo Bank/CN=legacy.demo.local', sans: [], purpose: 'no SAN at all' },
  {
    name: 'gateway-proxy',
    subject: '/O=cluster.local/CN=istio-ingressgateway',
    sans: [['URI', GATEWAY_SPIFFE]],
    purpose: "the gateway's own certificate, presented to the sidecar",
  },
];

/** A fresh PKI with `clients` (default TEST_CLIENTS), removed when the test process ends. */
export function testPki(clients: ClientSpec[] = TEST_CLIENTS): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'cert-allowlist-pki-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return makeDemoPki(join(dir, 'pki'), clients);
}
