export { ElfError, type ElfErrorContext } from './errors.js';
export { EM, ET, PT, SHF, SHN, SHT, STB, STT, STV } from './constants.js';
export {
  ElfFile,
  parseElf,
  type ElfHeader,
  type ElfProgramHeader,
  type ElfRelocation,
  type ElfRelocationSection,
  type ElfSection,
  type ElfSymbol,
} from './file.js';
