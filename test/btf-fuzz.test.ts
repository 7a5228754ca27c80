import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BtfError,
  BtfLayout,
  formatC,
  formatRaw,
  isComposite,
  marshalBtf,
  parseBtf,
  parseBtfExt,
} from '../src/btf/index.js';
import { ElfError, parseElf } from '../src/elf/index.js';
import { readFixture, seededRandom } from './fixtures/btf/fixture.js';

/** Everything a consumer might do with an object's BTF. */
function exercise(object: Uint8Array): void {
  const elf = parseElf(object);
  const btfSection = elf.section('.BTF');
  if (btfSection === undefined) return;
  const btf = parseBtf(elf.sectionData(btfSection));
  const layout = new BtfLayout(btf);
  for (const t of btf.types()) {
    if (isComposite(t)) {
      layout.isPacked(t);
      layout.alignOf(t.id);
      layout.sizeOf(t.id);
    }
  }
  formatRaw(btf);
  formatC(btf);
  parseBtf(marshalBtf(btf));
  marshalBtf(btf, { features: { datasec: false, float: false, declTag: false, typeTag: false, enum64: false } });
  const extSection = elf.section('.BTF.ext');
  if (extSection !== undefined) parseBtfExt(elf.sectionData(extSection), btf);
}

describe('corrupted objects', () => {
  for (const target of ['bpfel', 'bpfeb']) {
    it(`raise only ElfError or BtfError for prog.${target}.o`, () => {
      const good = readFixture(`prog.${target}.o`);
      exercise(good);
      const elf = parseElf(good);
      const regions = [
        [0, good.length],
        [elf.section('.BTF')!.offset, elf.section('.BTF')!.offset + elf.section('.BTF')!.size],
        [elf.section('.BTF.ext')!.offset, elf.section('.BTF.ext')!.offset + elf.section('.BTF.ext')!.size],
      ] as const;
      const random = seededRandom(target === 'bpfel' ? 1 : 2);
      const outcomes = new Map<string, number>();
      for (let i = 0; i < 1500; i++) {
        let input: Uint8Array;
        if (i % 4 === 0) {
          input = good.subarray(0, Math.floor(random() * good.length));
        } else {
          input = good.slice();
          const [lo, hi] = regions[i % 3]!;
          for (let f = 1 + Math.floor(random() * 4); f > 0; f--) {
            input[lo + Math.floor(random() * (hi - lo))]! ^= 1 << Math.floor(random() * 8);
          }
        }
        let outcome = 'ok';
        try {
          exercise(input);
        } catch (e) {
          if (!(e instanceof ElfError) && !(e instanceof BtfError)) {
            assert.fail(`iteration ${i}: untyped ${e instanceof Error ? e.stack : String(e)}`);
          }
          outcome = `${e.name}:${e.code}`;
        }
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }
      assert.ok((outcomes.get('BtfError:EBADBTF') ?? 0) > 0);
      assert.ok((outcomes.get('ElfError:EBADELF') ?? 0) > 0);
    });
  }
});
