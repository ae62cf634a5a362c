// Makes sure the system tools the tests and the demo gateway use are present, installing them from
// Debian's archive when they are missing and we can (CI machines start without hand preparation).
import { execFileSync, spawnSync } from 'node:child_process';

const TOOLS: Record<string, string> = {
  openssl: 'openssl',
  curl: 'curl',
  'docker-registry': 'docker-registry',
  htpasswd: 'apache2-utils',
  skopeo: 'skopeo',
  'gnutls-cli': 'gnutls-bin',
  h2load: 'nghttp2-client',
};
const wanted = process.argv.slice(2);
// Present means on the PATH (some of these tools have no --version).
const missing = wanted.filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0);

if (missing.length > 0) {
  const packages = missing.map((tool) => TOOLS[tool] ?? tool);
  const root = process.getuid?.() === 0;
  const apt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).error === undefined;
  if (!root || !apt) {
    console.error(`missing: ${missing.join(', ')}; install them (Debian: apt-get install ${packages.join(' ')}) and run again`);
    process.exit(1);
  }
  console.log(`installing ${packages.join(', ')} from Debian's archive…`);
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', ...packages], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}
