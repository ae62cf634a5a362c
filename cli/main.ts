// cert-allowlist: from certificates to a validated configuration and Istio manifests. Human output
// by default, --json for machines; exit 0 ok, 1 validation or decision failure, 2 usage error.
import { isDeepStrictEqual } from 'node:util';
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { findings } from './check.js';
import { ConfigFile, type ListName, type Rule } from './config-file.js';
import { explain } from './explain.js';
import { CliError, jsonProblem, moduleBytes, validate } from './filter.js';
import { FAIL_STRATEGIES, PHASES, type FailStrategy, type RenderOptions } from './manifests.js';
import { buildImage, writeLayout, type ImageFormat } from './oci.js';
import { parseReference, push } from './registry.js';
import { MATCH_BY, rulesFor, type RuleOptions } from './rule-for.js';
import { certificatesInSecrets } from './secret.js';
import { certificateFacts, readCertificates, type CertificateFacts } from '../host/certificate.js';

function read(file: string): Buffer {
  try {
    return readFileSync(file === '-' ? 0 : file);
  } catch (error) {
    throw new CliError(`${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`, 1);
  }
}

interface FileCertificate {
  file: string;
  facts: CertificateFacts;
}

function certificatesIn(files: string[]): FileCertificate[] {
  return files.flatMap((file) => {
    try {
      return readCertificates(read(file)).map((certificate) => ({ file, facts: certificateFacts(certificate) }));
    } catch (error) {
      if (error instanceof CliError) throw error;
      throw new CliError(`${file}: not a PEM or DER certificate (${(error as Error).message})`);
    }
  });
}

// The client certificates among `found`: a bundle's CA certificates are skipped with a note (a
// client never presents one), unless asked for.
function clients(found: FileCertificate[], includeCa: boolean, io: Io): FileCertificate[] {
  if (includeCa) return found;
  const skipped = found.filter((c) => c.facts.isCa);
  for (const c of skipped) io.err(`note: ${c.file}: skipped the CA certificate ${c.facts.subject ?? c.facts.sha256} (--include-ca takes it)\n`);
  const leaves = found.filter((c) => !c.facts.isCa);
  if (leaves.length === 0) throw new CliError(`${[...new Set(found.map((c) => c.file))].join(', ')}: only CA certificates (--include-ca takes them)`);
  return leaves;
}

// Where a certificate stands at `at`: the gateway's handshake refuses one outside its validity.
function validity(facts: CertificateFacts, at: Date): string | null {
  if (at.getTime() > Date.parse(facts.notAfter)) return `expired at ${facts.notAfter}`;
  if (at.getTime() < Date.parse(facts.notBefore)) return `not valid before ${facts.notBefore}`;
  return null;
}

function time(name: string, value: string | undefined): string | undefined {
  if (value !== undefined && !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(value))
    throw new CliError(`${name}: expected an RFC 3339 UTC time such as 2027-01-31T23:59:59Z, got ${JSON.stringify(value)}`, 2);
  return value;
}

/** A JSON configuration file's text, refused with its line and column when it is not JSON. */
export function readConfig(file: string): string {
  const text = read(file).toString('utf8');
  jsonProblem(file, text);
  return text;
}

const list = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** Where the CLI writes: the process's streams, or a test's buffers. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

const processIo: Io = { out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(text) };

const MATCH_OPTIONS = (command: Command, what: string) =>
  command
    .addOption(new Option('--by <field>', what).choices(MATCH_BY).default('sha256'))
    .option('--san <value>', 'with --by uriSan, dnsSan, emailSan or ipSan: which SAN, when the certificate has several')
    .option('--each-san', 'with several SANs of that kind: a rule for each (NAME-1, NAME-2, …)')
    .option('--prefix <prefix>', 'with --by uriSanPrefix: the start of the URI SANs the rule allows')
    .option('--hosts <list>', 'comma-separated host patterns', list)
    .option('--paths <list>', 'comma-separated path prefixes', list)
    .option('--not-after <time>', 'RFC 3339 UTC time the rule stops matching')
    .option('--include-ca', 'take CA certificates too (a client never presents one)')
    .option('--deny', 'the deny list');

type MatchOptions = RuleOptions & { includeCa?: boolean; deny?: boolean };

const listOf = (options: { deny?: boolean }): ListName => (options.deny ? 'deny' : 'allow');

export function program(io: Io): Command {
  const print = (json: boolean, value: unknown, human: string) => io.out(`${json ? JSON.stringify(value, null, 2) : human}\n`);
  const cli = new Command('cert-allowlist')
    .description('From client certificates to a validated cert-allowlist configuration and Istio manifests')
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.out(text), writeErr: (text) => io.err(text) });

  cli
    .command('inspect')
    .description('print what Envoy and the filter see of certificates (PEM, one or many per file, or DER)')
    .argument('<cert...>')
    .option('--json', 'machine-readable output')
    .action((files: string[], options: { json?: boolean }) => {
      const now = new Date();
      const certificates = certificatesIn(files).map((c) => c.facts);
      print(
        options.json ?? false,
        certificates.map(({ pem, ...facts }) => ({ ...facts, validity: validity({ pem, ...facts }, now) ?? 'valid' })),
        certificates
          .map((c) =>
            [
              `sha256:   ${c.sha256}`,
              `subject:  ${c.subject}`,
              `issuer:   ${c.issuer}`,
              `cn:       ${c.cn ?? '(none)'}`,
              ...c.uriSans.map((u) => `uri SAN:  ${u}`),
              ...c.dnsSans.map((d) => `dns SAN:  ${d}`),
              ...c.emailSans.map((e) => `email:    ${e}`),
              ...c.ipSans.map((ip) => `ip SAN:   ${ip}`),
              `serial:   ${c.serial}`,
              `valid:    ${c.notBefore} to ${c.notAfter}${validity(c, now) ? ` — ${validity(c, now)!.toUpperCase()}: the gateway's handshake refuses it` : ''}`,
              `spki:     ${c.spkiSha256}`,
              ...(c.isCa ? ["ca:       yes (a CA certificate, not a client's)"] : []),
            ].join('\n'),
          )
          .join('\n\n'),
      );
    });

  cli
    .command('check')
    .description('validate a configuration with the filter itself; errors for what cannot be applied, warnings for expired and unmatchable rules')
    .argument('<config>')
    .option('--strict', 'fail (exit 1) on warnings too')
    .option('--json', 'machine-readable output')
    .action(async (file: string, options: { json?: boolean; strict?: boolean }) => {
      const text = readConfig(file);
      const problem = await validate(text);
      if (problem !== null) {
        print(options.json ?? false, { valid: false, errors: [problem], warnings: [] }, `${file}: ${problem}`);
        process.exitCode = 1;
        return;
      }
      // As pluginConfig the configuration travels as compact JSON inside the WasmPlugin object.
      const bytes = Buffer.byteLength(JSON.stringify(JSON.parse(text)));
      const { errors, warnings } = await findings(JSON.parse(text), bytes, new Date());
      const failed = errors.length > 0 || (options.strict === true && warnings.length > 0);
      print(
        options.json ?? false,
        { valid: errors.length === 0, pluginConfigBytes: bytes, errors, warnings },
        [
          `${file}: ${errors.length === 0 ? 'valid' : 'cannot be applied'} (${bytes} bytes as pluginConfig)`,
          ...errors.map((e) => `error: ${e}`),
          ...warnings.map((w) => `warning: ${w}`),
        ].join('\n'),
      );
      if (failed) process.exitCode = 1;
    });

  cli
    .command('explain')
    .description('run the filter on one certificate and request, and say what it decides and why, rule by rule')
    .requiredOption('--config <file>')
    .requiredOption('--cert <file>', "the client's certificate (of a bundle, the first that is not a CA)")
    .option('--host <host>', "the request's :authority", 'localhost')
    .option('--path <path>', "the request's :path", '/')
    .option('--at <time>', 'the time of the request (RFC 3339)')
    .option('--include-ca', 'judge a CA certificate too')
    .option('--json', 'machine-readable output')
    .action(async (options: { config: string; cert: string; host: string; path: string; at?: string; includeCa?: boolean; json?: boolean }) => {
      const at = options.at ? new Date(options.at) : new Date();
      if (Number.isNaN(at.getTime())) throw new CliError(`--at: expected an RFC 3339 time, got ${JSON.stringify(options.at)}`, 2);
      const [{ facts: certificate }] = clients(certificatesIn([options.cert]), options.includeCa ?? false, io);
      const config = readConfig(options.config);
      const refused = validity(certificate, at);
      if (refused !== null) {
        const reason = `the gateway's TLS handshake refuses the certificate: ${refused}`;
        print(options.json ?? false, { decision: 'deny', reason, rule: null, logLine: null, rules: [], notItemised: 0 }, `deny: ${reason}`);
        process.exitCode = 1;
        return;
      }
      const result = await explain(config, certificate, options.host, options.path, at);
      const verdict =
        result.decision === 'allow'
          ? `allow: rule ${JSON.stringify(result.rule)}`
          : result.decision === 'out_of_scope'
            ? `allow: not filtered (${result.reason})`
            : `deny: ${result.reason}${result.rule ? ` (rule ${JSON.stringify(result.rule)})` : ''}`;
      const lines = result.rules.map((r) => `  ${r.list}[${r.index}] ${JSON.stringify(r.name)}: ${r.matched ? 'matches' : r.reason}`);
      if (result.notItemised > 0) lines.push(`  … and ${result.notItemised} more rule(s), not itemised`);
      print(options.json ?? false, result, [verdict, ...lines].join('\n'));
      if (result.decision === 'deny') process.exitCode = 1;
    });

  MATCH_OPTIONS(cli.command('add'), 'what the rule matches')
    .description('add a rule per client certificate to a configuration file')
    .argument('<cert...>')
    .requiredOption('--config <file>')
    .requiredOption('--name <name>', "the rule's name (with several certificates: NAME-1, NAME-2, …)")
    .option('--json', 'machine-readable output')
    .action(async (files: string[], options: MatchOptions & { config: string; name: string; notAfter?: string; json?: boolean }) => {
      time('--not-after', options.notAfter);
      const certificates = clients(certificatesIn(files), options.includeCa ?? false, io);
      const rules = certificates.flatMap((c, i) => rulesFor(certificates.length === 1 ? options.name : `${options.name}-${i + 1}`, c.facts, options));
      const file = ConfigFile.read(options.config, true);
      const list = listOf(options);
      const existing = file.rules(list);
      for (const rule of rules) {
        if (existing.some((other) => other.name === rule.name))
          throw new CliError(`${list}: a rule named ${JSON.stringify(rule.name)} exists already (rotate or remove it)`);
        const [key, value] = Object.entries(rule).find(([k]) => k !== 'name')!;
        const same = existing.find((other) => isDeepStrictEqual(other[key], value) && !other.hosts && !other.paths);
        if (same) throw new CliError(`${list}: rule ${JSON.stringify(same.name)} already matches ${key} ${JSON.stringify(value)}`);
        file.add(list, rule);
      }
      await file.write();
      print(options.json ?? false, { added: rules }, `${options.config}: added ${rules.map((r) => r.name).join(', ')}`);
    });

  MATCH_OPTIONS(cli.command('import-secret'), 'what each rule matches')
    .description(
      'bring a configuration in line with the client certificates of Kubernetes Secrets: new ones added, changed ones updated, unchanged ones kept; rules of certificates no longer there are reported, and removed with --prune',
    )
    .argument('<file>', 'the Secret(s) (a Secret, a List, kubectl get -o yaml|json output), or - for standard input')
    .requiredOption('--config <file>')
    .option('--prune', 'remove the rules of certificates the Secrets no longer hold')
    .option('--json', 'machine-readable output')
    .action(async (input: string, options: MatchOptions & { config: string; prune?: boolean; json?: boolean; notAfter?: string }) => {
      time('--not-after', options.notAfter);
      const found = certificatesInSecrets(read(input).toString('utf8'), options.includeCa);
      if (found.length === 0) throw new CliError(`${input}: no client certificate in the Secret(s)`);
      const file = ConfigFile.read(options.config, true);
      const list = listOf(options);
      const existing = file.rules(list);
      const wanted = found.flatMap((f) => rulesFor(f.name, f.certificate, options));
      const report = { added: [] as string[], changed: [] as string[], unchanged: [] as string[], removed: [] as string[], kept: [] as string[] };
      for (const rule of wanted) {
        const old = existing.find((r) => r.name === rule.name);
        if (!old) {
          file.add(list, rule);
          report.added.push(rule.name);
        } else if (isDeepStrictEqual({ ...rule, comment: old.comment }, { ...old, comment: old.comment })) {
          report.unchanged.push(rule.name);
        } else {
          file.replace(list, rule.name, old.comment === undefined ? rule : { ...rule, comment: old.comment });
          report.changed.push(rule.name);
        }
      }
      // Rules this import owns: named after one of these Secrets.
      const secrets = new Set(found.map((f) => f.secret));
      for (const rule of existing) {
        const owner = rule.name.slice(0, rule.name.indexOf('/'));
        if (!rule.name.includes('/') || !secrets.has(owner) || wanted.some((w) => w.name === rule.name)) continue;
        if (options.prune) {
          file.remove(list, rule.name);
          report.removed.push(rule.name);
        } else {
          report.kept.push(rule.name);
        }
      }
      if (report.added.length + report.changed.length + report.removed.length > 0) await file.write();
      const names = (label: string, names: string[]) => (names.length > 0 ? `${names.length} ${label} (${names.join(', ')})` : `0 ${label}`);
      print(
        options.json ?? false,
        report,
        [
          `${options.config}: ${names('added', report.added)}, ${names('changed', report.changed)}, ${report.unchanged.length} unchanged${options.prune ? `, ${names('removed', report.removed)}` : ''}`,
          ...(report.kept.length > 0 ? [`no longer in the Secrets, kept: ${report.kept.join(', ')} (--prune removes them)`] : []),
        ].join('\n'),
      );
    });

  cli
    .command('list')
    .description('list the rules of a configuration file')
    .requiredOption('--config <file>')
    .option('--json', 'machine-readable output')
    .action((options: { config: string; json?: boolean }) => {
      const file = ConfigFile.read(options.config);
      const now = Date.now();
      const rows = (['allow', 'deny'] as const).flatMap((list) =>
        file
          .rules(list)
          .map(
            (rule) =>
              ({ list, ...rule }) as Rule & { list: ListName; hosts?: string[]; paths?: string[]; notBefore?: string; notAfter?: string; comment?: string },
          ),
      );
      print(
        options.json ?? false,
        rows,
        rows
          .map(({ list, name, hosts, paths, notBefore, notAfter, comment: _, ...matcher }) =>
            [
              `${list} ${JSON.stringify(name)}: ${Object.entries(matcher)
                .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
                .join(' ')}`,
              hosts ? ` hosts=${hosts.join(',')}` : '',
              paths ? ` paths=${paths.join(',')}` : '',
              notBefore ? ` from ${notBefore}` : '',
              notAfter ? ` until ${notAfter}${Date.parse(notAfter) < now ? ' (EXPIRED)' : ''}` : '',
            ].join(''),
          )
          .join('\n') || `${options.config}: no rules`,
      );
    });

  cli
    .command('remove')
    .description('remove rules by name')
    .argument('<name...>')
    .requiredOption('--config <file>')
    .option('--deny', 'from the deny list')
    .option('--json', 'machine-readable output')
    .action(async (names: string[], options: { config: string; deny?: boolean; json?: boolean }) => {
      const file = ConfigFile.read(options.config);
      for (const name of names) file.remove(listOf(options), name);
      await file.write();
      print(options.json ?? false, { removed: names }, `${options.config}: removed ${names.join(', ')}`);
    });

  cli
    .command('rotate')
    .description('end a rule at a time (its notAfter) and, with a new certificate, add its successor with the same scope')
    .argument('<name>', 'the rule to end')
    .argument('[cert]', 'the new certificate')
    .requiredOption('--config <file>')
    .requiredOption('--not-after <time>', 'RFC 3339 UTC time the old rule stops matching')
    .option('--new-name <name>', "the new rule's name (default: NAME-next)")
    .option('--deny', 'in the deny list')
    .option('--json', 'machine-readable output')
    .action(async (name: string, cert: string | undefined, options: { config: string; notAfter: string; newName?: string; deny?: boolean; json?: boolean }) => {
      time('--not-after', options.notAfter);
      const file = ConfigFile.read(options.config);
      const list = listOf(options);
      const old = file.rules(list).find((rule) => rule.name === name);
      if (!old) throw new CliError(`${list}: no rule named ${JSON.stringify(name)}`);
      file.replace(list, name, { ...old, notAfter: options.notAfter });
      const added: string[] = [];
      if (cert !== undefined) {
        const [{ facts }] = clients(certificatesIn([cert]), false, io);
        const by = Object.keys(old).find((k) => (MATCH_BY as readonly string[]).includes(k)) as RuleOptions['by'];
        const sanKinds = ['uriSan', 'dnsSan', 'emailSan', 'ipSan'];
        const [successor] = rulesFor(options.newName ?? `${name}-next`, facts, {
          by,
          san: sanKinds.includes(by) ? (old[by] as string) : undefined,
          prefix: by === 'uriSanPrefix' ? (old.uriSanPrefix as string) : undefined,
        });
        const { name: _, notAfter: __, ...scope } = Object.fromEntries(Object.entries(old).filter(([k]) => ['hosts', 'paths', 'comment'].includes(k)));
        const rule: Rule = { ...successor, ...scope };
        if (file.rules(list).some((r) => r.name === rule.name))
          throw new CliError(`${list}: a rule named ${JSON.stringify(rule.name)} exists already (--new-name)`);
        file.add(list, rule);
        added.push(rule.name);
      }
      await file.write();
      print(
        options.json ?? false,
        { ended: name, notAfter: options.notAfter, added },
        `${options.config}: ${name} ends at ${options.notAfter}${added.length > 0 ? `; added ${added.join(', ')}` : ''}`,
      );
    });

  const image = cli.command('image').description('build or push the filter as an OCI image Istio can pull');
  image
    .command('build')
    .description('write the image as an OCI image layout (reproducible: the same module gives the same digest)')
    .option('--out <dir>', 'the layout directory', 'build/oci')
    .option('--tag <tag>', 'the tag recorded in the layout', 'latest')
    .addOption(
      new Option('--format <format>', 'artifact: two layers (Wasm config + module); compat: one tar+gzip layer holding plugin.wasm')
        .choices(['artifact', 'compat'])
        .default('artifact'),
    )
    .option('--json', 'machine-readable output')
    .action((options: { out: string; tag: string; format: ImageFormat; json?: boolean }) => {
      const built = buildImage(moduleBytes(), options.format);
      writeLayout(built, options.out, options.tag);
      print(
        options.json ?? false,
        { layout: options.out, format: options.format, digest: built.manifest.digest },
        `${options.out}: ${options.format} image, manifest ${built.manifest.digest}`,
      );
    });
  image
    .command('push')
    .description('push the filter to a registry and print the reference for WasmPlugin.url and sha256')
    .argument('<ref>', 'registry/repository:tag')
    .option('--insecure', 'plain HTTP')
    .option('--ca-file <file>', "CA certificate to trust for the registry's TLS")
    .option('--username <name>')
    .option('--password-stdin', 'read the password from standard input')
    .addOption(new Option('--format <format>').choices(['artifact', 'compat']).default('artifact'))
    .option('--json', 'machine-readable output')
    .action(
      async (
        ref: string,
        options: { insecure?: boolean; caFile?: string; username?: string; passwordStdin?: boolean; format: ImageFormat; json?: boolean },
      ) => {
        if (options.passwordStdin && !options.username) throw new CliError('--password-stdin needs --username', 2);
        const password = options.passwordStdin
          ? read('-')
              .toString('utf8')
              .replace(/\r?\n$/, '')
          : undefined;
        const reference = parseReference(ref);
        const built = buildImage(moduleBytes(), options.format);
        const digest = await push(built, reference, {
          insecure: options.insecure,
          caFile: options.caFile,
          username: options.username,
          password,
          progress: (text) => io.err(`${text}\n`),
        });
        const url = `oci://${reference.registry}/${reference.repository}@${digest}`;
        print(
          options.json ?? false,
          { digest, url, sha256: digest.slice(7) },
          [
            `pushed ${reference.registry}/${reference.repository}:${reference.tag}`,
            `manifest digest: ${digest}`,
            `WasmPlugin: url: ${url}`,
            `            sha256: ${digest.slice(7)}`,
          ].join('\n'),
        );
      },
    );

  cli
    .command('render')
    .description("print a WasmPlugin or EnvoyFilter for a configuration, checked against Istio's schemas")
    .addArgument(new Command().createArgument('<kind>', 'wasmplugin or envoyfilter').choices(['wasmplugin', 'envoyfilter']))
    .requiredOption('--config <file>')
    .option('--image <ref>', 'oci://registry/repo:tag or @sha256:… (WasmPlugin)')
    .option('--url <url>', "https://… (WasmPlugin) or the module's path inside the proxy (EnvoyFilter)")
    .option('--sha256 <digest>', "the module's digest (for OCI: the manifest digest)")
    .option('--namespace <ns>', 'namespace', 'istio-system')
    .option('--name <name>', 'the resource name', 'cert-allowlist')
    .option('--selector <k=v>', 'workload label selector', 'istio=ingressgateway')
    .addOption(new Option('--phase <phase>', 'WasmPlugin phase').choices(PHASES).default('AUTHN'))
    .addOption(
      new Option(
        '--fail-strategy <strategy>',
        'when the module cannot run: FAIL_CLOSE refuses requests until the next change; FAIL_RELOAD (Istio ≥ 1.27) starts a fresh VM after a trap; FAIL_OPEN lets requests through unchecked',
      )
        .choices(FAIL_STRATEGIES)
        .default('FAIL_CLOSE'),
    )
    .option('--ports <list>', 'WasmPlugin: the gateway ports the filter sees (comma-separated), or "all"', '443')
    .option('--image-pull-secret <name>', "WasmPlugin: the Secret with the registry's credentials")
    .addOption(
      new Option('--mode <mode>', 'render the configuration in this mode (dry-run: denials logged and counted, requests continue)').choices([
        'enforce',
        'dry-run',
      ]),
    )
    .option('--plugin-name <name>', 'root id', 'cert-allowlist')
    .action(
      async (
        kind: string,
        options: {
          config: string;
          image?: string;
          url?: string;
          sha256?: string;
          namespace: string;
          name: string;
          selector: string;
          phase: string;
          failStrategy: FailStrategy;
          ports: string;
          imagePullSecret?: string;
          mode?: string;
          pluginName: string;
        },
      ) => {
        const config = JSON.parse(readConfig(options.config)) as Record<string, unknown>;
        if (options.mode) config.mode = options.mode;
        // What is rendered is what the filter accepts: a refused first push leaves the gateway
        // answering 500 to every request.
        const problem = await validate(JSON.stringify(config));
        if (problem !== null) throw new CliError(`${options.config}: ${problem}`);
        const selector = Object.fromEntries(
          list(options.selector).map((pair) => {
            const [key, value] = pair.split('=');
            if (!key || value === undefined) throw new CliError(`--selector: expected k=v, got ${JSON.stringify(pair)}`, 2);
            return [key, value];
          }),
        );
        const ports =
          options.ports === 'all'
            ? []
            : list(options.ports).map((port) => {
                if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)
                  throw new CliError(`--ports: expected port numbers or "all", got ${JSON.stringify(port)}`, 2);
                return Number(port);
              });
        const render: RenderOptions = {
          config,
          name: options.name,
          namespace: options.namespace,
          selector,
          pluginName: options.pluginName,
          url: options.image ?? options.url,
          sha256: options.sha256,
          phase: options.phase,
          failStrategy: options.failStrategy,
          ports,
          imagePullSecret: options.imagePullSecret,
        };
        const { envoyFilter, wasmPlugin } = await import('./manifests.js');
        io.out(kind === 'wasmplugin' ? wasmPlugin(render) : envoyFilter(render));
      },
    );

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
