// The demo upstream: answers every request with its method, path and headers as JSON, so a client
// sees exactly what the gateway forwarded (the identity header, XFCC).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export async function startEchoUpstream(port = 0, host = '127.0.0.1'): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ method: req.method, path: req.url, headers: req.headers }, null, 2)}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
  return { server, port: (server.address() as AddressInfo).port };
}
