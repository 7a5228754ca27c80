// `tsbpf object inspect`: what an object file holds (programs, maps, variables, externs, CO-RE
// relocations), read without loading anything.
import type { BtfType } from '../../btf/types.js';
import { typeLabel, type BtfValue } from '../../btfcodec.js';
import { CollectionSpec, type ProgramSpec } from '../../object/index.js';
import { attachTypeName, mapTypeName, programTypeName } from '../../program/names.js';
import { parse, formatTable, jsonReplacer, plural, writeJson, type CommandIO } from '../framework/index.js';
import { file, OUTPUT } from './shared.js';

function flagsText(flags: number): string {
  return flags === 0 ? '0' : `0x${flags.toString(16)}`;
}

function btfName(t: BtfType | undefined, spec: CollectionSpec): string | undefined {
  if (t === undefined || spec.btf === undefined) return undefined;
  return typeLabel(spec.btf, t.id);
}

function coreCount(p: ProgramSpec): number {
  let n = 0;
  for (const i of p.instructions) if (i.core !== undefined) n++;
  return n;
}

function inspectDoc(spec: CollectionSpec): Record<string, unknown> {
  return {
    license: spec.license,
    programs: Object.values(spec.programs).map((p) => ({
      name: p.name,
      section: p.sectionName,
      type: programTypeName(p.type),
      ...(p.expectedAttachType !== undefined ? { attachType: attachTypeName(p.expectedAttachType) } : {}),
      ...(p.attachTo !== undefined ? { attachTo: p.attachTo } : {}),
      sleepable: p.sleepable,
      instructions: p.instructions.length,
      coreRelocations: coreCount(p),
      ...(p.problem !== undefined ? { problem: p.problem.message } : {}),
    })),
    maps: Object.values(spec.maps).map((m) => ({
      name: m.name,
      type: mapTypeName(m.type),
      keySize: m.keySize,
      ...(btfName(m.keyType, spec) !== undefined ? { keyType: btfName(m.keyType, spec) } : {}),
      valueSize: m.valueSize,
      ...(btfName(m.valueType, spec) !== undefined ? { valueType: btfName(m.valueType, spec) } : {}),
      maxEntries: m.maxEntries,
      flags: m.flags,
      ...(m.pinning !== 'none' ? { pinning: m.pinning } : {}),
      ...(m.mapExtra !== 0n ? { mapExtra: m.mapExtra } : {}),
      ...(m.innerMap !== undefined ? { innerMap: mapTypeName(m.innerMap.type) } : {}),
      ...(m.values.length > 0 && m.internal === undefined
        ? { values: m.values.map((e) => ({ key: e.key, value: e.value instanceof Uint8Array ? e.value : e.value })) }
        : {}),
      ...(m.problem !== undefined ? { problem: m.problem.message } : {}),
    })),
    variables: Object.values(spec.variables).map((v) => ({
      name: v.name,
      section: v.section,
      offset: v.offset,
      size: v.size,
      ...(v.type !== undefined && spec.btf !== undefined ? { type: typeLabel(spec.btf, v.type.id) } : {}),
      constant: v.constant,
      value: safeValue(() => v.value),
    })),
    externs: Object.values(spec.externs).map((e) => ({ name: e.name, kind: e.kind, weak: e.weak })),
    coreRelocations: Object.values(spec.programs).reduce((n, p) => n + coreCount(p), 0),
  };
}

function safeValue(get: () => BtfValue): BtfValue | null {
  try {
    return get();
  } catch {
    return null;
  }
}

function valueText(v: unknown): string {
  const s = JSON.stringify(v, jsonReplacer);
  return s === undefined ? 'null' : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function inspectText(spec: CollectionSpec, name: string): string {
  const out: string[] = [];
  out.push(`${name}: ${plural(Object.keys(spec.programs).length, 'program')}, ${plural(Object.keys(spec.maps).length, 'map')}, license ${JSON.stringify(spec.license)}`);
  out.push('');
  out.push('Programs:');
  out.push(
    formatTable(
      ['NAME', 'SECTION', 'TYPE', 'ATTACH', 'INSNS', 'CO-RE'],
      Object.values(spec.programs).map((p) => [
        p.name,
        p.sectionName,
        programTypeName(p.type),
        p.expectedAttachType !== undefined ? attachTypeName(p.expectedAttachType) : '-',
        String(p.instructions.length),
        String(coreCount(p)),
      ]),
    ).trimEnd(),
  );
  out.push('');
  out.push('Maps:');
  out.push(
    formatTable(
      ['NAME', 'TYPE', 'KEY', 'VALUE', 'MAX', 'FLAGS'],
      Object.values(spec.maps).map((m) => [
        m.name,
        mapTypeName(m.type),
        `${m.keySize}${btfName(m.keyType, spec) ? ` (${btfName(m.keyType, spec)})` : ''}`,
        `${m.valueSize}${btfName(m.valueType, spec) ? ` (${btfName(m.valueType, spec)})` : ''}`,
        String(m.maxEntries),
        `${flagsText(m.flags)}${m.pinning !== 'none' ? ' pinned' : ''}`,
      ]),
    ).trimEnd(),
  );
  const vars = Object.values(spec.variables);
  if (vars.length > 0) {
    out.push('');
    out.push('Global variables:');
    out.push(
      formatTable(
        ['NAME', 'SECTION', 'TYPE', 'VALUE'],
        vars.map((v) => [v.name, v.section, v.type !== undefined && spec.btf !== undefined ? typeLabel(spec.btf, v.type.id) : `${v.size} bytes`, valueText(safeValue(() => v.value))]),
      ).trimEnd(),
    );
  }
  const externs = Object.values(spec.externs);
  if (externs.length > 0) {
    out.push('');
    out.push('Externs:');
    out.push(formatTable(['NAME', 'KIND', 'WEAK'], externs.map((e) => [e.name, e.kind, e.weak ? 'weak' : ''])).trimEnd());
  }
  const core = Object.values(spec.programs).reduce((n, p) => n + coreCount(p), 0);
  out.push('');
  out.push(`CO-RE relocations: ${core}`);
  const problems = [
    ...Object.values(spec.programs).flatMap((p) => (p.problem !== undefined ? [`program ${p.name}: ${p.problem.message}`] : [])),
    ...Object.values(spec.maps).flatMap((m) => (m.problem !== undefined ? [`map ${m.name}: ${m.problem.message}`] : [])),
  ];
  if (problems.length > 0) {
    out.push('');
    out.push('Cannot load as they are (loading the object fails with these):');
    for (const p of problems) out.push(`  ${p}`);
  }
  return `${out.join('\n')}\n`;
}

export async function inspect(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('object inspect', argv, OUTPUT);
  const f = file('inspect', positionals);
  const spec = CollectionSpec.fromFile(f);
  if (values.json || values.pretty) writeJson(io.stdout, inspectDoc(spec), values.pretty === true);
  else io.stdout.write(inspectText(spec, f));
  return 0;
}
