// `tsbpf link`: list, show and detach the bpf_links in the kernel, as bpftool prints them.
import { TsbpfError } from '../errors.js';
import { describeDetails, type LinkInfo } from '../link/info.js';
import { Link } from '../link/link.js';
import { allIds } from '../sys/attrs.js';
import { Cmd } from '../sys/types.js';
import { OUTPUT_OPTIONS, parse, parseSelector, type ObjectSelector, UsageError, writeJson, type Command, type CommandIO, defineCommand } from './framework/index.js';
import * as help from './help/link.js';

const snake = (s: string): string => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** A link as bpftool's JSON output has it: id, type, prog_id, then the type's fields. */
export function linkJson(i: LinkInfo): Record<string, unknown> {
  const out: Record<string, unknown> = { id: i.id, type: i.typeName, prog_id: i.progId };
  for (const [k, v] of Object.entries(i.details)) {
    if (k === 'kind' || v === undefined) continue;
    out[snake(k)] = v;
  }
  return out;
}

/** The plain text of one link, in bpftool's layout. */
export function linkText(i: LinkInfo): string {
  return `${i.id}: ${i.typeName}  prog ${i.progId}\n\t${describeDetails(i.details)}\n`;
}

const SKIPPED = new Set(['ENOENT']);

/** Info of every link; links that go away while we look are skipped. */
function allLinks(): LinkInfo[] {
  const out: LinkInfo[] = [];
  for (const id of allIds(Cmd.LINK_GET_NEXT_ID)) {
    let link: Link;
    try {
      link = Link.fromId(id);
    } catch (err) {
      if (err instanceof TsbpfError && SKIPPED.has(err.code)) continue;
      throw err;
    }
    try {
      out.push(link.info());
    } finally {
      link.close();
    }
  }
  return out;
}

function open(sel: ObjectSelector): Link {
  if (sel.by === 'id') return Link.fromId(sel.id);
  if (sel.by === 'pinned') return Link.openPinned(sel.path);
  throw new UsageError(`link: select a link by id or pinned path`);
}

function output(io: CommandIO, values: { json?: boolean | undefined; pretty?: boolean | undefined }, infos: LinkInfo[], single: boolean): void {
  if (values.json || values.pretty) {
    const docs = infos.map(linkJson);
    writeJson(io.stdout, single ? docs[0] : docs, values.pretty === true);
    return;
  }
  io.stdout.write(listText(infos));
}

/** The text of `link list`: each link as bpftool prints it, or a line saying there is none. */
export function listText(infos: readonly LinkInfo[]): string {
  return infos.length === 0 ? 'no links\n' : infos.map(linkText).join('');
}

async function list(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('link list', argv, OUTPUT_OPTIONS);
  if (positionals.length > 0) throw new UsageError(`link list: unexpected argument '${positionals[0]}'`);
  output(io, values, allLinks(), false);
  return 0;
}

async function show(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('link show', argv, OUTPUT_OPTIONS);
  if (positionals.length === 0) return list(argv, io);
  const [sel, used] = parseSelector('link show', positionals);
  if (positionals.length > used) throw new UsageError(`link show: unexpected argument '${positionals[used]}'`);
  const link = open(sel);
  try {
    output(io, values, [link.info()], true);
  } finally {
    link.close();
  }
  return 0;
}

async function detach(argv: string[], io: CommandIO): Promise<number> {
  const { positionals } = parse('link detach', argv, { help: OUTPUT_OPTIONS.help });
  const [sel, used] = parseSelector('link detach', positionals);
  if (positionals.length > used) throw new UsageError(`link detach: unexpected argument '${positionals[used]}'`);
  const link = open(sel);
  try {
    const id = link.id;
    link.detach();
    io.stdout.write(`detached link ${id} (${link.hook} on ${link.target})\n`);
  } finally {
    link.close();
  }
  return 0;
}

export const command: Command = defineCommand({
  name: 'link',
  summary: 'list, show and detach the bpf_links in the kernel',
  help,
  verbs: { list, show, detach },
});
