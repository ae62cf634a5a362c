// A configuration file, edited where its text lies: a rule added, removed or changed touches that
// rule's text only, written in the style of its neighbours (one rule per line stays one rule per
// line; the file's indentation and spacing are kept), and nothing is written unless the filter itself
// accepts the whole result — then atomically, so an interrupted write leaves the old file whole.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { CliError, jsonProblem, validate } from './filter.js';

export type Rule = Record<string, unknown> & { name: string };
export type ListName = 'allow' | 'deny';

interface Span {
  start: number;
  end: number;
}

interface ListText {
  // The '[' and ']' of the list, and each rule's text.
  open: number;
  close: number;
  rules: Span[];
}

// The end of the JSON value starting at `at` (the text is valid JSON).
function skipValue(text: string, at: number): number {
  const c = text[at];
  if (c === '"') {
    let i = at + 1;
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    return i + 1;
  }
  if (c === '{' || c === '[') {
    let depth = 0;
    for (let i = at; i < text.length; i++) {
      const d = text[i];
      if (d === '"') i = skipValue(text, i) - 1;
      else if (d === '{' || d === '[') depth++;
      else if ((d === '}' || d === ']') && --depth === 0) return i + 1;
    }
  }
  let i = at;
  while (i < text.length && !/[\s,\]}]/.test(text[i])) i++;
  return i;
}

const skipSpace = (text: string, at: number) => {
  while (/\s/.test(text[at] ?? '')) at++;
  return at;
};

// The top-level members of the object: key, and the value's span.
function members(text: string): { key: string; value: Span }[] {
  const found: { key: string; value: Span }[] = [];
  let at = skipSpace(text, 0);
  if (text[at] !== '{') throw new CliError('the configuration must be a JSON object');
  at = skipSpace(text, at + 1);
  while (text[at] === '"') {
    const keyEnd = skipValue(text, at);
    const key = JSON.parse(text.slice(at, keyEnd)) as string;
    const start = skipSpace(text, skipSpace(text, keyEnd) + 1);
    const end = skipValue(text, start);
    found.push({ key, value: { start, end } });
    at = skipSpace(text, end);
    if (text[at] === ',') at = skipSpace(text, at + 1);
  }
  return found;
}

function listText(text: string, name: ListName): ListText | null {
  const member = members(text).find((m) => m.key === name);
  if (!member) return null;
  if (text[member.value.start] !== '[') throw new CliError(`${name}: expected a list of rules`);
  const rules: Span[] = [];
  let at = skipSpace(text, member.value.start + 1);
  while (text[at] !== ']') {
    const end = skipValue(text, at);
    rules.push({ start: at, end });
    at = skipSpace(text, end);
    if (text[at] === ',') at = skipSpace(text, at + 1);
  }
  return { open: member.value.start, close: at, rules };
}

// The whitespace that starts the line `at` is on.
function lineIndent(text: string, at: number): string {
  const lineStart = text.lastIndexOf('\n', at - 1) + 1;
  return /^[ \t]*/.exec(text.slice(lineStart))![0];
}

function indentUnit(text: string): string {
  return /\n([ \t]+)"/.exec(text)?.[1] ?? '  ';
}

// `rule` written like `model` (another rule's text): on one line with its spacing, or indented
// over several lines.
function styled(rule: Rule, model: string | null, indent: string, unit: string): string {
  if (model !== null && !model.includes('\n')) {
    const colon = /"\s*:\s*/.exec(model)?.[0].slice(1) ?? ': ';
    const comma = /,\s*"/.exec(model)?.[0].slice(0, -1) ?? ', ';
    const inline = (value: unknown): string => (Array.isArray(value) ? `[${value.map(inline).join(comma)}]` : JSON.stringify(value));
    const open = model.startsWith('{ ') ? '{ ' : '{';
    const close = model.endsWith(' }') ? ' }' : '}';
    return `${open}${Object.entries(rule)
      .map(([k, v]) => `${JSON.stringify(k)}${colon}${inline(v)}`)
      .join(comma)}${close}`;
  }
  return JSON.stringify(rule, null, unit).replaceAll('\n', `\n${indent}`);
}

export class ConfigFile {
  private constructor(
    readonly path: string,
    public text: string,
  ) {}

  /** The file, or (with `create`) an empty allow list when there is none yet. */
  static read(path: string, create = false): ConfigFile {
    if (!existsSync(path)) {
      if (!create) throw new CliError(`${path}: no such file`);
      return new ConfigFile(path, '{\n  "allow": []\n}\n');
    }
    const text = readFileSync(path, 'utf8');
    jsonProblem(path, text);
    return new ConfigFile(path, text);
  }

  rules(list: ListName): Rule[] {
    const found = listText(this.text, list);
    return found ? found.rules.map((span) => JSON.parse(this.text.slice(span.start, span.end)) as Rule) : [];
  }

  private indexOf(list: ListName, name: string): number {
    const index = this.rules(list).findIndex((rule) => rule.name === name);
    if (index < 0) throw new CliError(`${list}: no rule named ${JSON.stringify(name)}`);
    return index;
  }

  add(list: ListName, rule: Rule): void {
    let found = listText(this.text, list);
    if (!found) {
      // A list the file does not have yet, as the object's last member.
      const all = members(this.text);
      const last = all[all.length - 1];
      const unit = indentUnit(this.text);
      const at = last ? last.value.end : this.text.indexOf('{') + 1;
      this.text = `${this.text.slice(0, at)}${last ? ',' : ''}\n${unit}${JSON.stringify(list)}: []${this.text.slice(at)}`;
      found = listText(this.text, list)!;
    }
    const unit = indentUnit(this.text);
    const last = found.rules[found.rules.length - 1];
    if (!last) {
      const outer = lineIndent(this.text, found.open);
      const text = styled(rule, null, outer + unit, unit);
      this.text = `${this.text.slice(0, found.open + 1)}\n${outer}${unit}${text}\n${outer}${this.text.slice(found.close)}`;
      return;
    }
    const model = this.text.slice(last.start, last.end);
    const previous = found.rules[found.rules.length - 2];
    // The separator between the last two rules, or a new line at the last rule's indentation.
    const separator = previous ? this.text.slice(previous.end, last.start) : `,\n${lineIndent(this.text, last.start)}`;
    const text = styled(rule, model, lineIndent(this.text, last.start), unit);
    this.text = `${this.text.slice(0, last.end)}${separator}${text}${this.text.slice(last.end)}`;
  }

  remove(list: ListName, name: string): void {
    const found = listText(this.text, list)!;
    const index = this.indexOf(list, name);
    const span = found.rules[index];
    if (found.rules.length === 1) this.text = `${this.text.slice(0, found.open + 1)}${this.text.slice(found.close)}`;
    else if (index < found.rules.length - 1) this.text = `${this.text.slice(0, span.start)}${this.text.slice(found.rules[index + 1].start)}`;
    else this.text = `${this.text.slice(0, found.rules[index - 1].end)}${this.text.slice(span.end)}`;
  }

  replace(list: ListName, name: string, rule: Rule): void {
    const found = listText(this.text, list)!;
    const span = found.rules[this.indexOf(list, name)];
    const model = this.text.slice(span.start, span.end);
    this.text = `${this.text.slice(0, span.start)}${styled(rule, model, lineIndent(this.text, span.start), indentUnit(this.text))}${this.text.slice(span.end)}`;
  }

  /** Writes the file if the filter accepts it; else nothing is written. */
  async write(): Promise<void> {
    const problem = await validate(this.text);
    if (problem !== null) throw new CliError(`${this.path}: not written, the filter would refuse the result: ${problem}`);
    const temporary = `${this.path}.${process.pid}.tmp`;
    writeFileSync(temporary, this.text);
    renameSync(temporary, this.path);
  }
}
