// curl, the client our users test with: one request, its status, headers and body, or its failure.
import { execFile } from 'node:child_process';

export interface CurlResult {
  /** 0 when no HTTP response arrived (e.g. the TLS handshake failed). */
  status: number;
  body: string;
  headers: Record<string, string>;
  exitCode: number;
  httpVersion: string;
}

export interface CurlOptions {
  cacert: string;
  cert?: string;
  key?: string;
  headers?: Record<string, string>;
  http1?: boolean;
}

export function curl(url: string, options: CurlOptions): Promise<CurlResult> {
  const args = ['--silent', '--show-error', '--max-time', '10', '--include', '--cacert', options.cacert, '--write-out', '\n%{http_code} %{http_version}'];
  if (options.cert) args.push('--cert', options.cert, '--key', options.key!);
  if (options.http1) args.push('--http1.1');
  for (const [key, value] of Object.entries(options.headers ?? {})) args.push('--header', `${key}: ${value}`);
  args.push(url);
  return new Promise((resolve) => {
    execFile('curl', args, { encoding: 'utf8' }, (error, stdout) => {
      const exitCode = error ? Number((error as { code?: number }).code ?? 1) : 0;
      const trailer = stdout.lastIndexOf('\n');
      const [code, httpVersion] = stdout.slice(trailer + 1).split(' ');
      const response = stdout.slice(0, trailer);
      const split = response.indexOf('\r\n\r\n');
      const head = split < 0 ? '' : response.slice(0, split);
      const headers: Record<string, string> = {};
      for (const line of head.split('\r\n').slice(1)) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(code) || 0, body: split < 0 ? '' : response.slice(split + 4), headers, exitCode, httpVersion: httpVersion ?? '' });
    });
  });
}
