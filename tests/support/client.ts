// An HTTP client for the real-Envoy tests that sends exactly the bytes a test names: HTTP/1.1 written
// by hand over TLS (or plaintext), so any request target and Host spelling reaches Envoy unaltered,
// and HTTP/2 through node:http2 with the pseudo-headers given. A failed handshake is an answer too.
import { type ClientHttp2Session, connect as http2Connect, constants } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { readFileSync } from 'node:fs';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';

export interface ClientCertificate {
  cert: string;
  key: string;
}

export interface HttpRequest {
  port: number;
  /** The CA that signed the server's certificate; absent for a plaintext connection. */
  ca?: string;
  client?: ClientCertificate;
  http?: '1.1' | '2';
  method?: string;
  /** The request target (:path), sent as written. Default `/`. */
  path?: string;
  /** Host (HTTP/1.1) or :authority (HTTP/2). Default `localhost`. */
  authority?: string;
  headers?: [string, string][];
}

export interface HttpResponse {
  /** 0 when no HTTP response arrived (the handshake or connection failed). */
  status: number;
  headers: Record<string, string>;
  body: string;
  error?: string;
}

const TIMEOUT_MS = 10_000;

function tlsOptions(request: HttpRequest, alpn: string) {
  return {
    host: '127.0.0.1',
    port: request.port,
    servername: 'localhost',
    ca: readFileSync(request.ca!),
    ...(request.client ? { cert: readFileSync(request.client.cert), key: readFileSync(request.client.key) } : {}),
    ALPNProtocols: [alpn],
  };
}

// Whether `raw` holds a whole response: Envoy keeps a connection it answered locally open for a while
// (delayed close) even after `Connection: close`, so a client that waited for the end would wait.
function complete(raw: Buffer): boolean {
  const split = raw.indexOf('\r\n\r\n');
  if (split < 0) return false;
  const head = raw.subarray(0, split).toString('latin1').toLowerCase();
  const length = /\r\ncontent-length: *(\d+)/.exec(head);
  if (length) return raw.length - split - 4 >= Number(length[1]);
  if (/\r\ntransfer-encoding: *chunked/.test(head))
    return raw.subarray(split + 4).includes('\r\n0\r\n\r\n') || raw.subarray(split + 4).indexOf('0\r\n\r\n') === 0;
  return false;
}

function parseHttp1(raw: Buffer): HttpResponse {
  const split = raw.indexOf('\r\n\r\n');
  if (split < 0) return { status: 0, headers: {}, body: '', error: `no complete response: ${JSON.stringify(raw.toString('latin1').slice(0, 200))}` };
  const head = raw.subarray(0, split).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head[0])?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = raw.subarray(split + 4);
  if (headers['transfer-encoding'] === 'chunked') {
    const chunks: Buffer[] = [];
    let at = 0;
    while (at < body.length) {
      const end = body.indexOf('\r\n', at);
      const size = Number.parseInt(body.subarray(at, end).toString('latin1'), 16);
      if (!(size > 0)) break;
      chunks.push(body.subarray(end + 2, end + 2 + size));
      at = end + 2 + size + 2;
    }
    body = Buffer.concat(chunks);
  } else if (headers['content-length'] !== undefined) {
    body = body.subarray(0, Number(headers['content-length']));
  }
  return { status, headers, body: body.toString('utf8') };
}

function http1(request: HttpRequest): Promise<HttpResponse> {
  return new Promise((resolve) => {
    const lines = [`${request.method ?? 'GET'} ${request.path ?? '/'} HTTP/1.1`, `Host: ${request.authority ?? 'localhost'}`];
    for (const [name, value] of request.headers ?? []) lines.push(`${name}: ${value}`);
    lines.push('Connection: close', '', '');
    const chunks: Buffer[] = [];
    let settled = false;
    const done = (response: HttpResponse) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(response);
    };
    let socket: Socket | TLSSocket;
    try {
      socket = request.ca
        ? tlsConnect(tlsOptions(request, 'http/1.1'), () => socket.write(lines.join('\r\n')))
        : netConnect({ host: '127.0.0.1', port: request.port }, () => socket.write(lines.join('\r\n')));
    } catch (error) {
      // Node refuses to load some certificates a CA may sign (its OpenSSL is stricter than Envoy's).
      settled = true;
      resolve({ status: 0, headers: {}, body: '', error: (error as Error).message });
      return;
    }
    socket.setTimeout(TIMEOUT_MS, () => done({ status: 0, headers: {}, body: '', error: 'timed out' }));
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const raw = Buffer.concat(chunks);
      if (complete(raw)) done(parseHttp1(raw));
    });
    socket.on('error', (error) => done(chunks.length > 0 ? parseHttp1(Buffer.concat(chunks)) : { status: 0, headers: {}, body: '', error: error.message }));
    socket.on('end', () =>
      done(chunks.length > 0 ? parseHttp1(Buffer.concat(chunks)) : { status: 0, headers: {}, body: '', error: 'closed without a response' }),
    );
  });
}

function http2(request: HttpRequest): Promise<HttpResponse> {
  return new Promise((resolve) => {
    let settled = false;
    let session: ClientHttp2Session;
    try {
      session = http2Connect(`https://localhost:${request.port}`, { ...tlsOptions(request, 'h2') });
    } catch (error) {
      resolve({ status: 0, headers: {}, body: '', error: (error as Error).message });
      return;
    }
    const done = (response: HttpResponse) => {
      if (settled) return;
      settled = true;
      session.destroy();
      resolve(response);
    };
    session.on('error', (error) => done({ status: 0, headers: {}, body: '', error: error.message }));
    session.setTimeout(TIMEOUT_MS, () => done({ status: 0, headers: {}, body: '', error: 'timed out' }));
    const headers: Record<string, string | string[]> = {
      [constants.HTTP2_HEADER_METHOD]: request.method ?? 'GET',
      [constants.HTTP2_HEADER_PATH]: request.path ?? '/',
      [constants.HTTP2_HEADER_AUTHORITY]: request.authority ?? 'localhost',
      [constants.HTTP2_HEADER_SCHEME]: 'https',
    };
    for (const [name, value] of request.headers ?? []) {
      const existing = headers[name];
      headers[name] = existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
    }
    let stream: ReturnType<typeof session.request>;
    try {
      stream = session.request(headers, { endStream: true });
    } catch (error) {
      done({ status: 0, headers: {}, body: '', error: (error as Error).message });
      return;
    }
    const chunks: Buffer[] = [];
    let status = 0;
    const responseHeaders: Record<string, string> = {};
    stream.on('response', (received) => {
      status = Number(received[constants.HTTP2_HEADER_STATUS]);
      for (const [name, value] of Object.entries(received)) {
        if (!name.startsWith(':') && value !== undefined) responseHeaders[name] = Array.isArray(value) ? value.join(', ') : String(value);
      }
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => done({ status, headers: responseHeaders, body: Buffer.concat(chunks).toString('utf8') }));
    stream.on('error', (error) => done({ status, headers: responseHeaders, body: Buffer.concat(chunks).toString('utf8'), error: error.message }));
  });
}

export function send(request: HttpRequest): Promise<HttpResponse> {
  return request.http === '2' ? http2(request) : http1(request);
}
