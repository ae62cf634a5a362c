// The demo upstream: answers every request with its method, path and headers as JSON, so a client
// sees exactly what the gateway forwarded (the identity header, XFCC).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface EchoedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Names and values as they arrived, in order. */
  rawHeaders: [string, string][];
}

export async function startEchoUpstream(
  port = 0,
  host = '127.0.0.1',
  onRequest?: (request: EchoedRequest) => void,
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const rawHeaders: [string, string][] = [];
      for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) rawHeaders.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
      const echoed: EchoedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, rawHeaders };
      onRequest?.(echoed);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ method: echoed.method, path: echoed.path, headers: echoed.headers }, null, 2)}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
