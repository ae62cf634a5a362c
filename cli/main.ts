// cert-allowlist: from certificates to a validated configuration and Istio manifests. Human output
// by default, --json for machines; exit 0 ok, 1 validation or decision failure, 2 usage error.
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { addRules, ruleFor, type MatchBy } from './config-file.js';
import { CliError, explain, jsonProblem, validate } from './filter.js';
import { FAIL_STRATEGIES, PHASES, type FailStrategy, type RenderOptions } from './manifests.js';
import { buildImage, writeLayout, type ImageFormat } from './oci.js';
import { parseReference, push } from './registry.js';
import { certificatesInSecrets } from './secret.js';
import { MODULE } from './filter.js';
import { certificateFacts, readCertificates, type CertificateFacts } from '../host/certificate.js';

const KUBERNETES_OBJECT_LIMIT = 1.5 * 1024 * 1024;

function read(file: string): Buffer {
  try {
    return readFileSync(file === '-' ? 0 : file);
  } catch (error) {
    throw new CliError(`${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`, 1);
  }
}

function certificatesIn(files: string[]): CertificateFacts[] {
  return files.flatMap((file) => {
    try {
      return readCertificates(read(file)).map(certificateFacts);
    } catch (error) {
      if (error instanceof CliError) throw error;
      throw new CliError(`${file}: not a PEM or DER certificate (${(error as Error).message})`);
    }
  });
}

/** A JSON configuration file's text, refused with its line and column when it is not JSON. */
export function readConfig(file: string): string {
  const text = read(file).toString('utf8');
  jsonProblem(file, text);
  return text;
}

const list = (text: string) => text.split(',').map((s) => s.trim()).filter(Boolean);

/** Where the CLI writes: the process's streams, or a test's buffers. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

const processIo: Io = { out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(text) };

interface ConfigRule {
  name: string;
  notAfter?: string;
  hosts?: string[];
}

/** Warnings `check` adds to the filter's verdict: size, expired rules, rules that can never match. */
export function warnings(config: { hosts?: string[]; allow?: ConfigRule[]; deny?: ConfigRule[] }, bytes: number, now: Date): string[] {
  const result: string[] = [];
  if (bytes > KUBERNETES_OBJECT_LIMIT * 0.75) {
    result.push(`the configuration is ${bytes} bytes: a WasmPlugin holding it approaches Kubernetes' ~1.5 MiB object limit; split it by host across several WasmPlugins (each with its own "hosts" and pluginName)`);
  }
  for (const listName of ['allow', 'deny'] as const) {
    (config[listName] ?? []).forEach((rule, i) => {
      if (rule.notAfter && Date.parse(rule.notAfter) < now.getTime()) result.push(`${listName}[${i}] (${rule.name}) expired at ${rule.notAfter}`);
      if (config.hosts && rule.hosts && !rule.hosts.some((h) => config.hosts!.some((top) => top.toLowerCase() === h.toLowerCase() || (top.startsWith('*.') && h.toLowerCase().endsWith(top.slice(1).toLowerCase()))))) {
        result.push(`${listName}[${i}] (${rule.name}) can never match: none of its hosts is inside the configuration's hosts`);
      }
    });
  }
  return result;
}

export function program(io: Io): Command {
  const print = (json: boolean, value: unknown, human: string) => io.out(`${json ? JSON.stringify(value, null, 2) : human}\n`);
  const cli = new Command('cert-allowlist')
    .description('From client certificates to a validated cert-allowlist configuration and Istio manifests')
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.out(text), writeErr: (text) => io.err(text) });

  cli.command('inspect')
    .description('print what Envoy and the filter see of certificates (PEM, one or many per file, or DER)')
    .argument('<cert...>')
    .option('--json', 'machine-readable output')
    .action((files: string[], options: { json?: boolean }) => {
      const certificates = certificatesIn(files);
      print(options.json ?? false, certificates.map(({ pem, ...facts }) => facts), certificates.map((c) => [
        `sha256:   ${c.sha256}`,
        `subject:  ${c.subject}`,
        `issuer:   ${c.issuer}`,
        `cn:       ${c.cn ?? '(none)'}`,
        ...c.uriSans.map((u) => `uri SAN:  ${u}`),
        ...c.dnsSans.map((d) => `dns SAN:  ${d}`),
        ...c.emailSans.map((e) => `email:    ${e}`),
        ...c.ipSans.map((ip) => `ip SAN:   ${ip}`),
        `serial:   ${c.serial}`,
        `valid:    ${c.notBefore} to ${c.notAfter}`,
        `spki:     ${c.spkiSha256}`,
        ...(c.isCa ? ['ca:       yes'] : []),
      ].join('\n')).join('\n\n'));
    });

  cli.command('check')
    .description('validate a configuration with the filter itself, and warn about size, expired rules and rules that can never match')
    .argument('<config>')
    .option('--json', 'machine-readable output')
    .action(async (file: string, options: { json?: boolean }) => {
      const text = readConfig(file);
      const problem = await validate(text);
      if (problem !== null) {
        print(options.json ?? false, { valid: false, error: problem }, `${file}: ${problem}`);
        process.exitCode = 1;
        return;
      }
      // As pluginConfig the configuration travels as compact JSON inside the WasmPlugin object.
      const bytes = Buffer.byteLength(JSON.stringify(JSON.parse(text)));
      const found = warnings(JSON.parse(text), bytes, new Date());
      print(options.json ?? false, { valid: true, error: null, pluginConfigBytes: bytes, warnings: found },
        [`${file}: valid (${bytes} bytes as pluginConfig)`, ...found.map((w) => `warning: ${w}`)].join('\n'));
    });

  cli.command('explain')
    .description('run the filter on one certificate and request, and say what it decides and why')
    .requiredOption('--config <file>')
    .requiredOption('--cert <file>')
    .option('--host <host>', 'the request\'s :authority', 'localhost')
    .option('--path <path>', 'the request\'s :path', '/')
    .option('--at <time>', 'the time of the request (RFC 3339)')
    .option('--json', 'machine-readable output')
    .action(async (options: { config: string; cert: string; host: string; path: string; at?: string; json?: boolean }) => {
      const at = options.at ? new Date(options.at) : new Date();
      if (Number.isNaN(at.getTime())) throw new CliError(`--at: expected an RFC 3339 time, got ${JSON.stringify(options.at)}`, 2);
      const [certificate] = certificatesIn([options.cert]);
      const result = await explain(readConfig(options.config), certificate, options.host, options.path, at);
      const human = result.decision === 'allow'
        ? `allow: rule ${JSON.stringify(result.rule)}`
        : result.decision === 'out_of_scope' ? `allow: not filtered (${result.reason})` : `deny: ${result.reason}${result.rule ? ` (rule ${JSON.stringify(result.rule)})` : ''}`;
      print(options.json ?? false, result, human);
      if (result.decision === 'deny') process.exitCode = 1;
    });

  cli.command('add')
    .description('add a rule per certificate to a configuration file')
    .argument('<cert...>')
    .requiredOption('--config <file>')
    .requiredOption('--name <name>', 'the rule\'s name (with several certificates: NAME-1, NAME-2, …)')
    .addOption(new Option('--by <field>', 'what the rule matches').choices(['sha256', 'uriSan', 'dnsSan', 'subject', 'cn']).default('sha256'))
    .option('--hosts <list>', 'comma-separated host patterns', list)
    .option('--paths <list>', 'comma-separated path prefixes', list)
    .option('--not-after <time>', 'RFC 3339 UTC time the rule stops matching')
    .option('--deny', 'add to the deny list')
    .action(async (files: string[], options: { config: string; name: string; by: MatchBy; hosts?: string[]; paths?: string[]; notAfter?: string; deny?: boolean }) => {
      const certificates = certificatesIn(files);
      const rules = certificates.map((c, i) => ruleFor(certificates.length === 1 ? options.name : `${options.name}-${i + 1}`, c, options));
      await addRules(options.config, rules, options.deny);
      io.out(`${options.config}: added ${rules.map((r) => r.name).join(', ')}\n`);
    });

  cli.command('import-secret')
    .description('add a rule per client certificate found in Kubernetes Secrets (a Secret, a List, kubectl get -o yaml|json output)')
    .argument('<file>', 'the Secret(s), or - for standard input')
    .requiredOption('--config <file>')
    .addOption(new Option('--by <field>', 'what each rule matches').choices(['sha256', 'uriSan', 'dnsSan', 'subject', 'cn']).default('sha256'))
    .option('--include-ca', 'also add CA certificates')
    .option('--deny', 'add to the deny list')
    .action(async (file: string, options: { config: string; by: MatchBy; includeCa?: boolean; deny?: boolean }) => {
      const found = certificatesInSecrets(read(file).toString('utf8'), options.includeCa);
      if (found.length === 0) throw new CliError(`${file}: no client certificate in the Secret(s)`);
      const perSecret = new Map<string, number>();
      for (const f of found) perSecret.set(f.secret, (perSecret.get(f.secret) ?? 0) + 1);
      const seen = new Map<string, number>();
      const rules = found.map((f) => {
        const n = (seen.get(f.secret) ?? 0) + 1;
        seen.set(f.secret, n);
        return ruleFor(perSecret.get(f.secret) === 1 ? f.secret : `${f.secret}-${n}`, f.certificate, options);
      });
      await addRules(options.config, rules, options.deny);
      io.out(`${options.config}: added ${rules.map((r) => r.name).join(', ')}\n`);
    });

  const image = cli.command('image').description('build or push the filter as an OCI image Istio can pull');
  image.command('build')
    .description('write the image as an OCI image layout (reproducible: the same module gives the same digest)')
    .option('--out <dir>', 'the layout directory', 'build/oci')
    .option('--tag <tag>', 'the tag recorded in the layout', 'latest')
    .addOption(new Option('--format <format>', 'artifact: two layers (Wasm config + module); compat: one tar+gzip layer holding plugin.wasm').choices(['artifact', 'compat']).default('artifact'))
    .action((options: { out: string; tag: string; format: ImageFormat }) => {
      const built = buildImage(read(MODULE), options.format);
      writeLayout(built, options.out, options.tag);
      io.out(`${options.out}: ${options.format} image, manifest ${built.manifest.digest}\n`);
    });
  image.command('push')
    .description('push the filter to a registry and print the reference for WasmPlugin.url and sha256')
    .argument('<ref>', 'registry/repository:tag')
    .option('--insecure', 'plain HTTP')
    .option('--ca-file <file>', 'CA certificate to trust for the registry\'s TLS')
    .option('--username <name>')
    .option('--password-stdin', 'read the password from standard input')
    .addOption(new Option('--format <format>').choices(['artifact', 'compat']).default('artifact'))
    .option('--json', 'machine-readable output')
    .action(async (ref: string, options: { insecure?: boolean; caFile?: string; username?: string; passwordStdin?: boolean; format: ImageFormat; json?: boolean }) => {
      if (options.passwordStdin && !options.username) throw new CliError('--password-stdin needs --username', 2);
      const password = options.passwordStdin ? read('-').toString('utf8').replace(/\r?\n$/, '') : undefined;
      const reference = parseReference(ref);
      const built = buildImage(read(MODULE), options.format);
      const digest = await push(built, reference, { insecure: options.insecure, caFile: options.caFile, username: options.username, password, progress: (text) => io.err(`${text}\n`) });
      const url = `oci://${reference.registry}/${reference.repository}@${digest}`;
      print(options.json ?? false, { digest, url, sha256: digest.slice(7) },
        [`pushed ${reference.registry}/${reference.repository}:${reference.tag}`, `manifest digest: ${digest}`, `WasmPlugin: url: ${url}`, `            sha256: ${digest.slice(7)}`].join('\n'));
    });

  cli.command('render')
    .description('print a WasmPlugin or EnvoyFilter for a configuration, checked against Istio\'s schemas')
    .addArgument(new Command().createArgument('<kind>', 'wasmplugin or envoyfilter').choices(['wasmplugin', 'envoyfilter']))
    .requiredOption('--config <file>')
    .option('--image <ref>', 'oci://registry/repo:tag or @sha256:… (WasmPlugin)')
    .option('--url <url>', 'https://… (WasmPlugin) or the module\'s path inside the proxy (EnvoyFilter)')
    .option('--sha256 <digest>', 'the module\'s digest (for OCI: the manifest digest)')
    .option('--namespace <ns>', 'namespace', 'istio-system')
    .option('--name <name>', 'the resource name', 'cert-allowlist')
    .option('--selector <k=v>', 'workload label selector', 'istio=ingressgateway')
    .addOption(new Option('--phase <phase>', 'WasmPlugin phase').choices(PHASES).default('AUTHN'))
    .addOption(new Option('--fail-strategy <strategy>', 'when the module cannot run: FAIL_CLOSE refuses requests until the next change; FAIL_RELOAD (Istio ≥ 1.27) starts a fresh VM after a trap; FAIL_OPEN lets requests through unchecked').choices(FAIL_STRATEGIES).default('FAIL_CLOSE'))
    .option('--ports <list>', 'WasmPlugin: the gateway ports the filter sees (comma-separated), or "all"', '443')
    .option('--image-pull-secret <name>', 'WasmPlugin: the Secret with the registry\'s credentials')
    .addOption(new Option('--mode <mode>', 'render the configuration in this mode (dry-run: denials logged and counted, requests continue)').choices(['enforce', 'dry-run']))
    .option('--plugin-name <name>', 'root id', 'cert-allowlist')
    .action(async (kind: string, options: { config: string; image?: string; url?: string; sha256?: string; namespace: string; name: string; selector: string; phase: string; failStrategy: FailStrategy; ports: string; imagePullSecret?: string; mode?: string; pluginName: string }) => {
      const config = JSON.parse(readConfig(options.config)) as Record<string, unknown>;
      if (options.mode) config.mode = options.mode;
      // What is rendered is what the filter accepts: a refused first push leaves the gateway
      // answering 500 to every request.
      const problem = await validate(JSON.stringify(config));
      if (problem !== null) throw new CliError(`${options.config}: ${problem}`);
      const selector = Object.fromEntries(list(options.selector).map((pair) => {
        const [key, value] = pair.split('=');
        if (!key || value === undefined) throw new CliError(`--selector: expected k=v, got ${JSON.stringify(pair)}`, 2);
        return [key, value];
      }));
      const ports = options.ports === 'all' ? [] : list(options.ports).map((port) => {
        if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) throw new CliError(`--ports: expected port numbers or "all", got ${JSON.stringify(port)}`, 2);
        return Number(port);
      });
      const render: RenderOptions = { config, name: options.name, namespace: options.namespace, selector, pluginName: options.pluginName,
        url: options.image ?? options.url, sha256: options.sha256, phase: options.phase, failStrategy: options.failStrategy, ports, imagePullSecret: options.imagePullSecret };
      const { envoyFilter, wasmPlugin } = await import('./manifests.js');
      io.out(kind === 'wasmplugin' ? wasmPlugin(render) : envoyFilter(render));
    });

  return cli;
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const saved = process.exitCode;
  process.exitCode = 0;
  try {
    await program(io).parseAsync(argv, { from: 'user' });
    return Number(process.exitCode ?? 0);
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof CliError) {
      io.err(`cert-allowlist: ${error.message}\n`);
      return error.exitCode;
    }
    throw error;
  } finally {
    if (io !== processIo) process.exitCode = saved;
  }
}
