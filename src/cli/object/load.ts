// `tsbpf object load`: load every program and map of an object, optionally pinned, and report
// which programs load on their own when the whole does not.
import { join } from 'node:path';
import { CollectionSpec, type Collection } from '../../collection.js';
import { mapTypeName, programTypeName } from '../../program/names.js';
import { ensureBpffs, makeBpffsDir } from '../../map/bpffs.js';
import { pinName } from '../../map/pinname.js';
import { parse, formatTable, plural, writeJson, type CommandIO } from '../framework/index.js';
import { checkPinDirFree } from '../object-pins.js';
import { applyMapSizes, applyProgramTypes } from '../spec-options.js';
import { applySettings, errorText, file, LOAD_OPTIONS, reportFailure } from './shared.js';

/** Which programs load on their own, for reporting after a failed load of the whole object. */
function programStatuses(spec: CollectionSpec, kernelBtf: string | undefined): { name: string; error?: string }[] {
  const out: { name: string; error?: string }[] = [];
  for (const name of Object.keys(spec.programs)) {
    const alone = spec.copy();
    for (const other of Object.keys(alone.programs)) if (other !== name) delete alone.programs[other];
    try {
      alone.load(kernelBtf !== undefined ? { kernelBtf } : {}).close();
      out.push({ name });
    } catch (err) {
      out.push({ name, error: errorText(err) });
    }
  }
  return out;
}

export async function load(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('object load', argv, { ...LOAD_OPTIONS, pin: { type: 'string' } });
  const f = file('load', positionals);
  const spec = CollectionSpec.fromFile(f);
  applySettings(spec, values.set ?? []);
  applyMapSizes(spec, values.map ?? []);
  applyProgramTypes(spec, values.type ?? []);
  const kernelBtf = values['kernel-btf'];
  const json = values.json === true || values.pretty === true;
  // The pin directory's filesystem, then its pins, are checked before anything is loaded or created.
  if (values.pin !== undefined) {
    ensureBpffs(values.pin);
    checkPinDirFree(values.pin, Object.keys(spec.programs), Object.keys(spec.maps).filter((m) => spec.maps[m]!.pinning !== 'byName'), pinName);
  }
  let c: Collection;
  try {
    c = spec.load({ ...(kernelBtf !== undefined ? { kernelBtf } : {}), ...(values.pin !== undefined ? { pinPath: values.pin } : {}) });
  } catch (err) {
    if (json) {
      const statuses = programStatuses(spec, kernelBtf);
      writeJson(
        io.stdout,
        {
          programs: statuses.map((s) => ({
            name: s.name,
            section: spec.programs[s.name]!.sectionName,
            type: programTypeName(spec.programs[s.name]!.type),
            loaded: false,
            ...(s.error !== undefined ? { error: s.error } : {}),
          })),
          maps: [],
        },
        values.pretty === true,
      );
    }
    reportFailure(io, err, 'load');
    return 1;
  }
  try {
    if (values.pin !== undefined) {
      makeBpffsDir(join(values.pin, 'maps'));
      for (const [name, p] of Object.entries(c.programs)) p.pin(join(values.pin, pinName(name)));
      for (const [name, m] of Object.entries(c.maps)) if (m.pinnedPath === undefined) m.pin(join(values.pin, 'maps', pinName(name)));
    }
    const doc = {
      programs: Object.entries(c.programs).map(([name, p]) => ({ name, section: spec.programs[name]!.sectionName, type: programTypeName(p.type), loaded: true, id: p.id })),
      maps: Object.entries(c.maps).map(([name, m]) => ({ name, type: mapTypeName(m.type), id: m.id })),
    };
    if (json) writeJson(io.stdout, doc, values.pretty === true);
    else {
      io.stdout.write(`${f}: loaded ${plural(doc.programs.length, 'program')} and ${plural(doc.maps.length, 'map')}${values.pin !== undefined ? `, pinned under ${values.pin}` : ''}\n`);
      io.stdout.write(formatTable(['PROGRAM', 'SECTION', 'TYPE', 'ID'], doc.programs.map((p) => [p.name, p.section, p.type, String(p.id)])));
      io.stdout.write(formatTable(['MAP', 'TYPE', 'ID'], doc.maps.map((m) => [m.name, m.type, String(m.id)])));
    }
  } finally {
    c.close();
  }
  return 0;
}
