// Pushing an image with the OCI distribution API: blobs (skipped when present), then the manifest.
// Basic and bearer-token authentication, credentials from the command line or Docker's config file.
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CliError } from './filter.js';
import type { Blob, Image } from './oci.js';

export interface Reference {
  registry: string;
  repository: string;
  tag: string;
}

export function parseReference(text: string): Reference {
  const match = text.replace(/^oci:\/\//, '').match(/^([^/]+)\/(.+?)(?::([\w][\w.-]{0,127}))?$/);
  if (!match) throw new CliError(`expected registry/repository:tag, got ${JSON.stringify(text)}`, 2);
  return { registry: match[1], repository: match[2], tag: match[3] ?? 'latest' };
}

export interface PushOptions {
  insecure?: boolean;
  username?: string;
  password?: string;
  caFile?: string;
  progress?: (text: string) => void;
}

interface Response {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** Credentials for a registry from Docker's config file (DOCKER_CONFIG or ~/.docker). */
export function dockerCredentials(registry: string): { username: string; password: string } | undefined {
  try {
    const file = join(process.env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
    const auths = JSON.parse(readFileSync(file, 'utf8')).auths ?? {};
    const auth = (auths[registry] ?? auths[`https://${registry}`])?.auth;
    if (!auth) return undefined;
    const [username, ...rest] = Buffer.from(auth, 'base64').toString('utf8').split(':');
    return { username, password: rest.join(':') };
  } catch {
    return undefined;
  }
}

class Session {
  private authorization: string | undefined;
  private basic: string | undefined;
  private readonly base: string;
  private readonly ca: Buffer | undefined;

  constructor(private readonly reference: Reference, options: PushOptions) {
    this.base = `${options.insecure ? 'http' : 'https'}://${reference.registry}`;
    this.ca = options.caFile ? readFileSync(options.caFile) : undefined;
    const credentials = options.username ? { username: options.username, password: options.password ?? '' } : dockerCredentials(reference.registry);
    if (credentials) this.basic = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
  }

  private send(method: string, url: string, headers: Record<string, string>, body?: Buffer, onProgress?: (sent: number) => void): Promise<Response> {
    const target = new URL(url, this.base);
    const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(target, { method, headers: { ...headers, ...(this.authorization ? { authorization: this.authorization } : {}), ...(body ? { 'content-length': String(body.length) } : {}) }, ca: this.ca }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on('error', (error) => reject(new CliError(`${this.reference.registry}: ${error.message}`)));
      if (body) {
        const step = 1 << 20;
        for (let at = 0; at < body.length; at += step) {
          req.write(body.subarray(at, at + step));
          onProgress?.(Math.min(body.length, at + step));
        }
      }
      req.end();
    });
  }

  // Sends, answering one authentication challenge (Basic, or a Bearer token from the realm).
  async call(method: string, url: string, headers: Record<string, string> = {}, body?: Buffer, onProgress?: (sent: number) => void): Promise<Response> {
    let response = await this.send(method, url, headers, body, onProgress);
    if (response.status !== 401) return response;
    const challenge = String(response.headers['www-authenticate'] ?? '');
    if (/^basic/i.test(challenge)) {
      if (!this.basic) throw new CliError(`${this.reference.registry} wants credentials: --username and --password-stdin, or docker login`);
      this.authorization = this.basic;
    } else if (/^bearer/i.test(challenge)) {
      const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
      const tokenUrl = new URL(params.realm);
      if (params.service) tokenUrl.searchParams.set('service', params.service);
      tokenUrl.searchParams.set('scope', params.scope ?? `repository:${this.reference.repository}:pull,push`);
      this.authorization = this.basic;
      const token = await this.send('GET', tokenUrl.href, {});
      if (token.status !== 200) throw new CliError(`${this.reference.registry}: token request refused (${token.status})`);
      const json = JSON.parse(token.body.toString('utf8'));
      this.authorization = `Bearer ${json.token ?? json.access_token}`;
    } else {
      throw new CliError(`${this.reference.registry}: unsupported authentication challenge ${JSON.stringify(challenge)}`);
    }
    response = await this.send(method, url, headers, body, onProgress);
    if (response.status === 401) throw new CliError(`${this.reference.registry}: authentication failed`);
    return response;
  }
}

async function pushBlob(session: Session, reference: Reference, blob: Blob, progress?: (text: string) => void): Promise<void> {
  const path = `/v2/${reference.repository}/blobs/${blob.digest}`;
  if ((await session.call('HEAD', path)).status === 200) return;
  const started = await session.call('POST', `/v2/${reference.repository}/blobs/uploads/`);
  if (started.status !== 202 || !started.headers.location) throw new CliError(`${reference.registry}: upload refused (${started.status} ${started.body.toString('utf8').slice(0, 200)})`);
  const location = new URL(String(started.headers.location), 'http://placeholder');
  location.searchParams.set('digest', blob.digest);
  const target = started.headers.location.startsWith('http') ? location.href : `${location.pathname}${location.search}`;
  const large = blob.size > 4 << 20;
  let shown = -1;
  const done = await session.call('PUT', target, { 'content-type': 'application/octet-stream' }, blob.bytes, (sent) => {
    const percent = Math.floor((sent * 100) / blob.size);
    if (large && progress && percent !== shown && percent % 10 === 0) {
      shown = percent;
      progress(`${blob.digest.slice(0, 19)}… ${percent}% of ${blob.size} bytes`);
    }
  });
  if (done.status !== 201) throw new CliError(`${reference.registry}: blob ${blob.digest} refused (${done.status} ${done.body.toString('utf8').slice(0, 200)})`);
}

/** Pushes the image; returns the manifest digest the registry stored. */
export async function push(image: Image, reference: Reference, options: PushOptions = {}): Promise<string> {
  const session = new Session(reference, options);
  for (const blob of image.blobs) await pushBlob(session, reference, blob, options.progress);
  const response = await session.call('PUT', `/v2/${reference.repository}/manifests/${reference.tag}`, { 'content-type': image.manifest.mediaType }, image.manifest.bytes);
  if (response.status !== 201) throw new CliError(`${reference.registry}: manifest refused (${response.status} ${response.body.toString('utf8').slice(0, 200)})`);
  const digest = String(response.headers['docker-content-digest'] ?? image.manifest.digest);
  if (digest !== image.manifest.digest) throw new CliError(`${reference.registry}: stored the manifest as ${digest}, expected ${image.manifest.digest}`);
  return digest;
}

/** Reads an image back from a registry (used to check a push). */
export async function pull(reference: Reference, options: PushOptions = {}): Promise<{ manifest: Buffer; blob(digest: string): Promise<Buffer> }> {
  const session = new Session(reference, options);
  const manifest = await session.call('GET', `/v2/${reference.repository}/manifests/${reference.tag}`, { accept: 'application/vnd.oci.image.manifest.v1+json' });
  if (manifest.status !== 200) throw new CliError(`${reference.registry}: no manifest (${manifest.status})`);
  return {
    manifest: manifest.body,
    blob: async (digest) => {
      const response = await session.call('GET', `/v2/${reference.repository}/blobs/${digest}`);
      if (response.status === 307 || response.status === 302) throw new CliError('redirected blob downloads are not followed');
      return response.body;
    },
  };
}
