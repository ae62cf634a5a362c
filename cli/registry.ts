// Pushing an image with the OCI distribution API: blobs (skipped when present), then the manifest.
// Basic and bearer-token authentication, credentials from the command line or Docker's config file.
import { spawnSync } from 'node:child_process';
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

// The grammar of distribution's references: a registry host (with a port), a repository of
// lowercase path components, a tag.
const REGISTRY = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::\d{1,5})?$/;
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;

export function parseReference(text: string): Reference {
  const refuse = (why: string) =>
    new CliError(`${JSON.stringify(text)}: ${why} (expected registry/repository:tag, e.g. registry.example.com/filters/cert-allowlist:1.0.0)`, 2);
  const rest = text.replace(/^oci:\/\//, '');
  if (rest.includes('@')) throw refuse('a push names a tag, not a digest');
  const slash = rest.indexOf('/');
  if (slash < 0) throw refuse('no registry');
  const registry = rest.slice(0, slash);
  if (!REGISTRY.test(registry)) throw refuse(`${JSON.stringify(registry)} is not a registry host[:port]`);
  const colon = rest.lastIndexOf(':');
  const hasTag = colon > slash;
  const repository = hasTag ? rest.slice(slash + 1, colon) : rest.slice(slash + 1);
  const tag = hasTag ? rest.slice(colon + 1) : 'latest';
  if (!repository.split('/').every((part) => COMPONENT.test(part)))
    throw refuse(`${JSON.stringify(repository)} is not a repository (lowercase letters, digits, and . _ - between them)`);
  if (!TAG.test(tag)) throw refuse(`${JSON.stringify(tag)} is not a tag`);
  return { registry, repository, tag };
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

/** Credentials for a registry from Docker's config file (DOCKER_CONFIG or ~/.docker): the
 * registry's credential helper (credHelpers), else the default one (credsStore), else auths. */
export function dockerCredentials(registry: string): { username: string; password: string } | undefined {
  const file = join(process.env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
  let config: { auths?: Record<string, { auth?: string }>; credHelpers?: Record<string, string>; credsStore?: string };
  try {
    config = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  const helper = config.credHelpers?.[registry] ?? config.credsStore;
  if (helper) return fromHelper(`docker-credential-${helper}`, registry, file);
  const auth = (config.auths?.[registry] ?? config.auths?.[`https://${registry}`])?.auth;
  if (!auth) return undefined;
  const [username, ...rest] = Buffer.from(auth, 'base64').toString('utf8').split(':');
  return { username, password: rest.join(':') };
}

// Docker's credential-helper protocol: `<helper> get` with the registry on stdin answers
// {"Username": …, "Secret": …}; a registry it does not know is no credentials.
function fromHelper(helper: string, registry: string, file: string): { username: string; password: string } | undefined {
  const result = spawnSync(helper, ['get'], { input: registry, encoding: 'utf8' });
  if (result.error) {
    throw new CliError(
      `${file} names the credential helper ${helper} for ${registry}, which cannot run (${(result.error as NodeJS.ErrnoException).code}): install it, or pass --username and --password-stdin`,
    );
  }
  if (result.status !== 0) {
    if (/credentials not found/i.test(result.stdout + result.stderr)) return undefined;
    throw new CliError(`${helper} get ${registry} failed: ${(result.stderr || result.stdout).trim()}`);
  }
  const answer = JSON.parse(result.stdout) as { Username?: string; Secret?: string };
  return { username: answer.Username ?? '', password: answer.Secret ?? '' };
}

class Session {
  private authorization: string | undefined;
  private basic: string | undefined;
  private readonly base: string;
  private readonly ca: Buffer | undefined;

  constructor(
    private readonly reference: Reference,
    options: PushOptions,
  ) {
    this.base = `${options.insecure ? 'http' : 'https'}://${reference.registry}`;
    this.ca = options.caFile ? readFileSync(options.caFile) : undefined;
    const credentials = options.username ? { username: options.username, password: options.password ?? '' } : dockerCredentials(reference.registry);
    if (credentials) this.basic = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
  }

  private send(method: string, url: string, headers: Record<string, string>, body?: Buffer, onProgress?: (sent: number) => void): Promise<Response> {
    const target = new URL(url, this.base);
    const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(
        target,
        {
          method,
          headers: {
            ...headers,
            ...(this.authorization ? { authorization: this.authorization } : {}),
            ...(body ? { 'content-length': String(body.length) } : {}),
          },
          ca: this.ca,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        },
      );
      req.on('error', (error) => {
        // A TLS client hello answered in plain HTTP reads as a record of the wrong version.
        const plain =
          target.protocol === 'https:' &&
          /wrong version number|packet length too long|EPROTO/i.test(`${(error as NodeJS.ErrnoException).code} ${error.message}`);
        reject(
          new CliError(`${this.reference.registry}: ${error.message}${plain ? ' — the registry seems to speak plain HTTP: --insecure pushes over HTTP' : ''}`),
        );
      });
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
  if (started.status !== 202 || !started.headers.location)
    throw new CliError(`${reference.registry}: upload refused (${started.status} ${started.body.toString('utf8').slice(0, 200)})`);
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
  if (done.status !== 201)
    throw new CliError(`${reference.registry}: blob ${blob.digest} refused (${done.status} ${done.body.toString('utf8').slice(0, 200)})`);
}

/** Pushes the image; returns the manifest digest the registry stored. */
export async function push(image: Image, reference: Reference, options: PushOptions = {}): Promise<string> {
  const session = new Session(reference, options);
  for (const blob of image.blobs) await pushBlob(session, reference, blob, options.progress);
  const response = await session.call(
    'PUT',
    `/v2/${reference.repository}/manifests/${reference.tag}`,
    { 'content-type': image.manifest.mediaType },
    image.manifest.bytes,
  );
  if (response.status !== 201)
    throw new CliError(`${reference.registry}: manifest refused (${response.status} ${response.body.toString('utf8').slice(0, 200)})`);
  const digest = String(response.headers['docker-content-digest'] ?? image.manifest.digest);
  if (digest !== image.manifest.digest) throw new CliError(`${reference.registry}: stored the manifest as ${digest}, expected ${image.manifest.digest}`);
  return digest;
}

/** Reads an image back from a registry (used to check a push). */
export async function pull(reference: Reference, options: PushOptions = {}): Promise<{ manifest: Buffer; blob(digest: string): Promise<Buffer> }> {
  const session = new Session(reference, options);
  const manifest = await session.call('GET', `/v2/${reference.repository}/manifests/${reference.tag}`, {
    accept: 'application/vnd.oci.image.manifest.v1+json',
  });
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
