// npm run test:unit: the quick tier — the pure modules (as-pect) and the host-level node tests, with
// the typecheck and the linter — in under a minute, with no root, apt, network or Envoy. The four run
// side by side after the build; each one's output is printed whole when it ends, and any failure
// fails the tier. Real Envoy, fuzzing, the soak and the registry are in npm test.
import { spawn } from 'node:child_process';

const UNIT_TESTS = ['policy', 'filter', 'host', 'certificate', 'examples', 'layers', 'toolchain', 'cli', 'bench'].map((name) => `tests/${name}.test.ts`);

const jobs: [string, string[]][] = [
  ['typecheck', ['npm', 'run', '--silent', 'typecheck']],
  ['lint', ['npm', 'run', '--silent', 'lint']],
  ['as-pect', ['npm', 'run', '--silent', 'test:assembly']],
  ['node tests', ['node', '--import', 'tsx', '--test', ...UNIT_TESTS]],
];

function run(name: string, [command, ...args]: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const output: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk));
    child.on('close', (code) => {
      process.stdout.write(`\n── ${name}: ${code === 0 ? 'ok' : `failed (${code})`}\n${Buffer.concat(output).toString('utf8')}`);
      resolve(code === 0);
    });
  });
}

const results = await Promise.all(jobs.map(([name, command]) => run(name, command)));
const failed = jobs.filter((_, i) => !results[i]).map(([name]) => name);
console.log(failed.length === 0 ? '\ntest:unit: all passed' : `\ntest:unit: failed: ${failed.join(', ')}`);
process.exitCode = failed.length === 0 ? 0 : 1;
