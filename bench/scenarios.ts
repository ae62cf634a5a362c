// The benchmark's scenarios, shared by `npm run bench` and its regression guard (tests/bench.test.ts):
// a configuration, one request (as both the lean host and the Envoy-faithful host take it) and the
// answer it must get.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDemoPki } from '../demo/pki.js';
import { certificateFacts, peerCertificate } from '../host/certificate.js';
import { type PeerCertificate, mtls } from '../host/connection.js';
import type { RequestSpec } from '../host/http-stream.js';
import { SIDECAR_DETAILS, xfccElement } from '../host/xfcc.js';
import { type LeanRequest, leanRequest } from './lean-host.js';

export const ROOT = new URL('..', import.meta.url).pathname;

// Made-up fingerprints, spread in their first digits as real ones are everywhere.
export const digest = (i: number) => `${((i * 2654435761) >>> 0).toString(16).padStart(8, '0')}${i.toString(16).padStart(56, '0')}`;
export const STRANGER = 'f'.repeat(64);

export function fingerprints(count: number, extra: object = {}, listed: string[] = []): Buffer {
  const parts: string[] = [];
  for (let i = 0; i < count - listed.length; i++) parts.push(`{"name":"client-${i}","sha256":"${digest(i)}"}`);
  listed.forEach((sha256, i) => {
    parts.push(`{"name":"listed-${i}","sha256":"${sha256}"}`);
  });
  const rest = JSON.stringify(extra).slice(1, -1);
  return Buffer.from(`{"allow":[${parts.join(',')}]${rest ? `,${rest}` : ''}}`);
}

export interface Request {
  peer: PeerCertificate | null;
  authority: string;
  path: string;
  headers?: Record<string, string>;
}

export interface Scenario {
  name: string;
  note: string;
  configuration: Buffer;
  request: Request;
  // 200: the request continued; otherwise the local reply's status.
  status: number;
  // The row's floor: the floor module serving the same request (denying for a denial).
  floor: 'allow' | 'deny';
  // The guard's ceiling: executed instructions per request it must stay under.
  ceiling: number;
  // Its requests build strings and objects (an XFCC chain's identities), so now and then one ends
  // with a collection: the mean pays for it, and no more than one request in a hundred.
  allocates?: boolean;
  // Its request carries the demo PKI's certificates, made anew on each machine: their sizes (an
  // ECDSA signature's length varies) and so the count move by a few percent from one PKI to the next.
  freshPki?: boolean;
}

const peer = (sha256: string): PeerCertificate => ({ sha256, subject: 'CN=client,O=Bench', uriSans: [], dnsSans: [] });
const base = { authority: 'payments.example.com', path: '/ledger/x' };
// Every denial writes its line: the deny rows measure the whole deny work.
const LINES = { denyLinesPerSecond: 1_000_000 };

export function leanOf(request: Request): LeanRequest {
  const properties: Record<string, string> = {};
  const p = request.peer;
  if (p) {
    properties['connection\0sha256_peer_certificate_digest'] = p.sha256;
    properties['connection\0subject_peer_certificate'] = p.subject;
    if (p.uriSans?.length) properties['connection\0uri_san_peer_certificate'] = p.uriSans[0];
    if (p.dnsSans?.length) properties['connection\0dns_san_peer_certificate'] = p.dnsSans[0];
  }
  const headers: [string, string][] = [
    [':authority', request.authority],
    [':path', request.path],
    [':method', 'GET'],
    [':scheme', 'https'],
  ];
  for (const [name, value] of Object.entries(request.headers ?? {})) headers.push([name, value]);
  return leanRequest(properties, headers);
}

export function specOf(request: Request): RequestSpec {
  const connection = request.peer ? mtls(request.peer) : mtls(peer(STRANGER));
  return { connection, authority: request.authority, path: request.path, headers: request.headers ?? {} };
}

// "1 sha256 rule", "1,000 sha256 rules".
export const rules = (count: number) => `${count.toLocaleString('en')} sha256 rule${count === 1 ? '' : 's'}`;

export function scenarios(listSizes: number[]): Scenario[] {
  const out: Scenario[] = [];
  for (const size of listSizes) {
    const list = fingerprints(size);
    const lines = fingerprints(size, LINES);
    out.push({
      name: `allow, ${rules(size)}`,
      note: 'connection mode, listed',
      configuration: list,
      request: { ...base, peer: peer(digest(size - 1)) },
      status: 200,
      floor: 'allow',
      ceiling: 1_000,
    });
    out.push({
      name: `deny, ${rules(size)}`,
      note: 'unlisted: counters, the deny line, 403',
      configuration: lines,
      request: { ...base, peer: peer(STRANGER) },
      status: 403,
      floor: 'deny',
      ceiling: 3_300,
    });
  }
  out.push({
    name: 'deny, a flood (lines held back)',
    note: 'past denyLinesPerSecond (10): counters and 403, no line',
    configuration: fingerprints(1000),
    request: { ...base, peer: peer(STRANGER) },
    status: 403,
    floor: 'deny',
    ceiling: 1_000,
  });
  out.push({
    name: 'allow, 1,000 host/path-scoped rules',
    note: 'host and path read and scoped',
    configuration: Buffer.from(
      JSON.stringify({
        hosts: ['payments.example.com', '*.bank.example'],
        allow: Array.from({ length: 1000 }, (_, i) => ({
          name: `client-${i}`,
          sha256: digest(i),
          hosts: ['payments.example.com'],
          paths: ['/ledger/', '/reports/'],
        })),
        deny: [{ name: 'no-teapot', cn: 'client', paths: ['/status/418'] }],
      }),
    ),
    request: { ...base, peer: peer(digest(999)) },
    status: 200,
    floor: 'allow',
    ceiling: 7_000,
  });
  out.push({
    name: 'deny, dry-run',
    note: 'logged and counted, continues',
    configuration: fingerprints(1000, { mode: 'dry-run', ...LINES }),
    request: { ...base, peer: peer(STRANGER) },
    status: 200,
    floor: 'deny',
    ceiling: 3_300,
  });

  const pki = ensureDemoPki(join(ROOT, 'build/pki'));
  const facts = (name: string) => peerCertificate(certificateFacts(new X509Certificate(readFileSync(pki.cert(name)))));
  const client = facts('allowed');
  const gateway = facts('denied');
  const xfcc = `${xfccElement(client)},${xfccElement(gateway, SIDECAR_DETAILS)}`;
  out.push({
    name: 'allow, XFCC mode, two elements',
    note: `xfcc mode, a ${xfcc.length}-byte header: the client's element with Cert=, the gateway's`,
    configuration: fingerprints(1000, { identitySource: 'xfcc', trustedProxies: [{ uriSan: gateway.uriSans![0] }] }, [client.sha256]),
    request: { ...base, peer: gateway, headers: { 'x-forwarded-client-cert': xfcc } },
    status: 200,
    floor: 'allow',
    ceiling: 20_000,
    allocates: true,
    freshPki: true,
  });
  out.push({
    name: 'allow, SPKI pin',
    note: "connection mode, the certificate read from the gateway's XFCC Cert= (then remembered)",
    configuration: Buffer.from(
      JSON.stringify({ allow: [{ name: 'pinned', spki: certificateFacts(new X509Certificate(readFileSync(pki.cert('allowed')))).spkiSha256 }] }),
    ),
    request: { ...base, peer: client, headers: { 'x-forwarded-client-cert': xfccElement(client) } },
    status: 200,
    floor: 'allow',
    ceiling: 11_000,
    allocates: true,
    freshPki: true,
  });
  return out;
}
