// `tsbpf map dump` of a map created with BTF: keys and values decoded as bpftool prints them.
import assert from 'node:assert/strict';
import { CollectionSpec } from '../src/index.js';
import { corpus } from './bpf/corpus.js';
import { kernelTest, testPinDir } from './helpers/kernel.js';
import { type InProcessRun, runCliInProcess } from './helpers/cli.js';

const run = (...argv: string[]): Promise<InProcessRun> => runCliInProcess(argv);

kernelTest('map dump decodes keys and values through the map BTF; --hex gives the bytes; JSON adds "formatted"', async (t) => {
  const spec = CollectionSpec.fromFile(corpus('maps.bpf.o'));
  const c = spec.load({ pinPath: testPinDir(t) });
  try {
    const records = c.maps.records!;
    records.update({ x: 3, y: -4 }, { count: 7n, where: { x: 1, y: 2 }, raw: { word: 0 }, colour: 'GREEN', label: 'hi', flag: true, small: 5, rest: 1 });
    const id = String(records.id);
    const text = await run('map', 'dump', id);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^key: \{"x":3,"y":-4\} {2}value: \{"count":7,"where":\{"x":1,"y":2\},.*"label":"hi","flag":true,"small":5,"rest":1,.*\}$/m);
    assert.match(text.stdout, /^Found 1 element$/m);
    const bytes = await run('map', 'dump', id, '--hex');
    assert.match(bytes.stdout, /^key: 03 00 00 00 fc ff ff ff {2}value: 07 00 /m);
    const json = JSON.parse((await run('map', 'dump', id, '--json')).stdout) as Array<{ key: string[]; value: string[]; formatted: { key: unknown; value: { count: number; label: string } } }>;
    assert.deepEqual(json[0]!.key, ['0x03', '0x00', '0x00', '0x00', '0xfc', '0xff', '0xff', '0xff']);
    assert.deepEqual(json[0]!.formatted.key, { x: 3, y: -4 });
    assert.equal(json[0]!.formatted.value.count, 7);
    assert.equal(json[0]!.formatted.value.label, 'hi');
    const raw = JSON.parse((await run('map', 'dump', id, '--json', '--hex')).stdout) as Array<{ formatted?: unknown }>;
    assert.equal(raw[0]!.formatted, undefined);
  } finally {
    c.close();
  }
});
