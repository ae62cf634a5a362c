// The local mTLS gateway behind `npm start`: terminates TLS like an Istio ingress gateway with
// OPTIONAL_MUTUAL (client certificate requested, verified against the CA when presented, not
// required), derives the connection facts and XFCC as Envoy would, runs the compiled filter in the
// Envoy-faithful host, and forwards what the filter lets through to the upstream.
import { watchFile, unwatchFile, readFileSync } from 'node:fs';
import { request as httpRequest, createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { EnvoyHost, mtls, tls, type Connection, type Header, type LogEntry, type Plugin } from '../host/index.js';
import type { Pki } from './pki.js';
import { certificateFacts, type CertificateFacts } from './tls-facts.js';
import { startEchoUpstream } from './upstream.js';

export interface GatewayOptions {
  module: string;
  /** The plugin configuration file; watched, a valid change applies without restart. */
  config: string;
  pki: Pki;
  /** 0 picks a free port. */
  port?: number;
  adminPort?: number;
  upstreamPort?: number;
  /** Where the gateway's own messages and the filter's log lines go. */
  print?: (line: string) => void;
}

// Connection-level headers that never cross a proxy (and may not appear in HTTP/2).
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'http2-settings']);

/** XFCC as Istio's gateway sets it: SANITIZE_SET with Subject, Cert, URI and DNS (ENVOY-FACTS §8). */
export function gatewayXfcc(peer: Pick<CertificateFacts, 'sha256' | 'subject' | 'uriSans' | 'dnsSans' | 'pem'>): string {
  const parts = [`Hash=${peer.sha256}`, `Cert="${encodeURIComponent(peer.pem)}"`, `Subject="${peer.subject}"`];
  if (peer.uriSans.length === 0) parts.push('URI=');
  for (const uri of peer.uriSans) parts.push(`URI=${uri}`);
  for (const dns of peer.dnsSans) parts.push(`DNS=${dns}`);
  return parts.join(';');
}

/** Custom metrics in Prometheus text, named as Envoy exposes wasm metrics (ENVOY-FACTS §13). */
export function prometheusText(metrics: Map<string, { type: number; value: bigint }>): string {
  const lines: string[] = [];
  for (const name of [...metrics.keys()].sort()) {
    const metric = metrics.get(name)!;
    const promName = name.replace(/[.-]/g, '_');
    lines.push(`# TYPE ${promName} ${metric.type === 1 ? 'gauge' : 'counter'}`, `${promName}{} ${metric.value}`);
  }
  return `${lines.join('\n')}\n`;
}

function address(host: string | undefined, port: number | undefined): string {
  const ip = (host ?? '127.0.0.1').replace(/^::ffff:/, '');
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function listen(server: Server | Http2SecureServer, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject).listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function headerObject(headers: Header[]): Record<string, string | string[]> {
  const result: Record<string, string | string[]> = {};
  for (const [key, value] of headers) {
    if (key.startsWith(':') || HOP_BY_HOP.has(key)) continue;
    const existing = result[key];
    result[key] = existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
  }
  return result;
}

function responseHeaderList(headers: IncomingHttpHeaders): Header[] {
  const list: Header[] = [];
  for (const [key, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(key)) continue;
    for (const v of Array.isArray(value) ? value : [value]) list.push([key, v]);
  }
  return list;
}

export class Gateway {
  private readonly facts = new WeakMap<object, Promise<Connection>>();
  private appliedConfig: string;
  private printedLogs = 0;

  private constructor(
    private readonly options: GatewayOptions,
    private readonly host: EnvoyHost,
    private readonly plugin: Plugin,
    private readonly tlsServer: Http2SecureServer,
    private readonly admin: Server,
    private readonly upstream: Server,
    readonly port: number,
    readonly adminPort: number,
    readonly upstreamPort: number,
    configText: string,
  ) {
    this.appliedConfig = configText;
  }

  static async start(options: GatewayOptions): Promise<Gateway> {
    const host = await EnvoyHost.load(options.module, { pluginName: 'cert-allowlist', rootId: 'cert-allowlist' });
    const configText = readFileSync(options.config, 'utf8');
    if (!host.configure(configText)) {
      // As Envoy refuses to start with a configuration its plugin rejects.
      throw new Error(`${options.config}: ${host.logsAtLeast('error').map((entry) => entry.message).join('; ')}`);
    }
    const upstream = await startEchoUpstream(options.upstreamPort ?? 0);
    const tlsServer = createSecureServer({
      key: readFileSync(options.pki.serverKey),
      cert: readFileSync(options.pki.serverCert),
      ca: readFileSync(options.pki.ca),
      requestCert: true,
      // OPTIONAL_MUTUAL: a connection without a certificate is accepted (the filter answers 403);
      // a certificate that does not verify is refused below, as Envoy refuses the handshake.
      rejectUnauthorized: false,
      allowHTTP1: true,
    });
    const admin = createServer();
    let gateway: Gateway | undefined;
    // A certificate that does not verify fails the connection before any HTTP is read, as Envoy's
    // handshake does: this listener goes first, before the HTTP/2 session is set up on the socket.
    tlsServer.prependListener('secureConnection', (socket: TLSSocket) => {
      if (socket.getPeerX509Certificate() && !socket.authorized) socket.destroy();
    });
    tlsServer.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => {
      gateway!.handle(req, res).catch((error: Error) => {
        gateway!.print(`gateway error: ${error.message}`);
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
    admin.on('request', (req, res) => {
      if (req.url === '/stats/prometheus') {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
        res.end(prometheusText(host.environment.metrics));
      } else if (req.url === '/ready') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('LIVE\n');
      } else {
        res.writeHead(404).end();
      }
    });
    const port = await listen(tlsServer, options.port ?? 0);
    const adminPort = await listen(admin, options.adminPort ?? 0);
    gateway = new Gateway(options, host, host.defaultPlugin, tlsServer, admin, upstream.server, port, adminPort, upstream.port, configText);
    watchFile(options.config, { interval: 100 }, () => gateway!.reload());
    return gateway;
  }

  get url(): string {
    return `https://localhost:${this.port}`;
  }

  /** Re-reads the configuration file: a valid change applies to new requests; an invalid one is refused and the previous keeps serving. */
  reload(): void {
    let text: string;
    try {
      text = readFileSync(this.options.config, 'utf8');
    } catch {
      return;
    }
    if (text === this.appliedConfig) return;
    this.appliedConfig = text;
    const before = this.host.logs.length;
    if (this.host.configure(text)) {
      this.print(`configuration ${this.options.config} applied`);
    } else {
      const errors = this.host.logs.slice(before).filter((entry) => entry.level === 'error').map((entry) => entry.message);
      this.print(`configuration ${this.options.config} refused, still serving the previous one: ${errors.join('; ')}`);
    }
    this.printedLogs = this.host.logs.length;
  }

  async close(): Promise<void> {
    unwatchFile(this.options.config);
    const closing = [this.tlsServer, this.admin, this.upstream].map(
      (server) => new Promise<void>((resolve) => server.close(() => resolve())),
    );
    (this.tlsServer as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
    this.admin.closeAllConnections();
    this.upstream.closeAllConnections();
    await Promise.all(closing);
  }

  print(line: string): void {
    (this.options.print ?? console.log)(line);
  }

  private printFilterLogs(): void {
    const logs: LogEntry[] = this.host.logs;
    for (let i = this.printedLogs; i < logs.length; i++) {
      const entry = logs[i];
      if (entry.level !== 'trace' && entry.level !== 'debug') this.print(`[${entry.level}] ${entry.message}`);
    }
    this.printedLogs = logs.length;
  }

  private connection(socket: TLSSocket): Promise<Connection> {
    let facts = this.facts.get(socket);
    if (!facts) {
      const endpoints = {
        source: address(socket.remoteAddress, socket.remotePort),
        destination: address(socket.localAddress, socket.localPort),
        tlsVersion: socket.getProtocol() ?? 'TLSv1.3',
        sni: (socket as unknown as { servername?: string | false }).servername || '',
      };
      const certificate = socket.getPeerX509Certificate();
      facts = Promise.resolve(certificate && socket.authorized ? mtls(certificateFacts(certificate), endpoints) : tls(endpoints));
      this.facts.set(socket, facts);
    }
    return facts;
  }

  private async handle(req: Http2ServerRequest, res: Http2ServerResponse): Promise<void> {
    const socket = (req.stream?.session?.socket ?? req.socket) as TLSSocket;
    // Never reached for an unverified certificate; kept so no request of such a connection can be.
    if (socket.getPeerX509Certificate() && !socket.authorized) {
      socket.destroy();
      return;
    }
    const connection = await this.connection(socket);
    const headers = this.requestHeaders(req, connection);
    const stream = this.plugin.open({ connection, headers });
    const length = Number(req.headers['content-length'] ?? 0);
    const hasBody = length > 0 || req.headers['transfer-encoding'] !== undefined;
    let decision = stream.decodeHeaders(hasBody);
    if (decision.action === 'continued' && hasBody) decision = stream.decodeBody(length);
    this.printFilterLogs();
    if (decision.action !== 'continued') {
      req.resume();
      const response = decision.response;
      if (decision.action === 'paused' || decision.action === 'reset') {
        res.writeHead(503, { 'content-type': 'text/plain' }).end(`the filter ${decision.action === 'paused' ? 'paused' : 'reset'} the request\n`);
      } else {
        res.writeHead(response.status, headerObject(response.headers)).end(response.body);
      }
      stream.finish();
      this.printFilterLogs();
      return;
    }
    const forwarded = decision.upstreamHeaders!;
    const pseudo = Object.fromEntries(forwarded.filter(([k]) => k.startsWith(':')));
    const upstreamRequest = httpRequest({
      host: '127.0.0.1',
      port: this.upstreamPort,
      method: pseudo[':method'],
      path: pseudo[':path'],
      headers: { ...headerObject(forwarded.filter(([k]) => k !== 'host')), host: pseudo[':authority'] },
    });
    upstreamRequest.on('response', (upstreamResponse) => {
      const status = upstreamResponse.statusCode ?? 502;
      const contentLength = Number(upstreamResponse.headers['content-length'] ?? 1);
      const finalHeaders = stream.encodeHeaders(status, responseHeaderList(upstreamResponse.headers), contentLength);
      const finalStatus = Number(finalHeaders.find(([k]) => k === ':status')?.[1] ?? status);
      res.writeHead(finalStatus, headerObject(finalHeaders));
      upstreamResponse.pipe(res as unknown as NodeJS.WritableStream);
      upstreamResponse.on('end', () => {
        stream.finish();
        this.printFilterLogs();
      });
    });
    upstreamRequest.on('error', () => {
      if (!res.headersSent) res.writeHead(503, { 'content-type': 'text/plain' }).end('upstream connect error\n');
      stream.finish();
    });
    req.pipe(upstreamRequest);
  }

  // The request as the filter sees it behind Envoy's connection manager: pseudo-headers, the
  // client's headers, then what the HCM adds before filters run (x-forwarded-*, x-request-id) and
  // XFCC replaced by the gateway's own element (SANITIZE_SET; removed without a client certificate).
  private requestHeaders(req: Http2ServerRequest, connection: Connection): Header[] {
    const authority = (req.headers[':authority'] as string | undefined) ?? req.headers.host ?? '';
    const list: Header[] = [[':authority', authority], [':path', req.url], [':method', req.method], [':scheme', 'https']];
    const raw = req.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const key = raw[i].toLowerCase();
      if (key.startsWith(':') || key === 'host' || key === 'x-forwarded-client-cert' || HOP_BY_HOP.has(key)) continue;
      list.push([key, raw[i + 1]]);
    }
    list.push(['x-forwarded-proto', 'https']);
    if (!list.some(([k]) => k === 'x-request-id')) list.push(['x-request-id', randomUUID()]);
    list.push(['x-forwarded-for', (connection.source ?? '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '')]);
    if (connection.kind === 'mtls') list.push(['x-forwarded-client-cert', gatewayXfcc(connection.peer as CertificateFacts)]);
    return list;
  }
}
