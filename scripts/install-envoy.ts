// Installs the pinned Envoy builds into project-local virtualenvs (envoy/install.ts): every pinned
// version by default, or those named. Quick when they are present; one clear line when they cannot be
// installed.
import { ENVOY_VERSIONS, InstallError, installEnvoy } from '../envoy/install.js';

const wanted = process.argv.slice(2);
try {
  for (const version of wanted.length > 0 ? wanted : ENVOY_VERSIONS) installEnvoy(version, (line) => console.log(line));
} catch (error) {
  if (!(error instanceof InstallError)) throw error;
  console.error(`install-envoy: ${error.message}`);
  process.exit(1);
}
