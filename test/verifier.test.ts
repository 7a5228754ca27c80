import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Assembler, BPF_DW, R0, R1, type Instruction } from '../src/asm/index.js';
import { VerifierError } from '../src/errors.js';
import { Program } from '../src/program.js';
import { ProgramType } from '../src/sys/types.js';
import { logLines, parseVerifierLog } from '../src/verifier.js';
import { kernelTest } from './helpers/kernel.js';

const TRAILER = 'processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0';

describe('parseVerifierLog', () => {
  test('finds the failing instruction and the error after it', () => {
    const log = [
      '0: R1=ctx() R10=fp0',
      '0: (b7) r1 = 0                        ; R1_w=0',
      '1: (79) r0 = *(u64 *)(r1 +0)',
      "R1 invalid mem access 'scalar'",
      TRAILER,
      '',
    ].join('\n');
    const r = parseVerifierLog(log);
    assert.deepEqual(r.reason, ['1: (79) r0 = *(u64 *)(r1 +0)', "R1 invalid mem access 'scalar'"]);
    assert.equal(r.failedInstruction, 1);
    assert.equal(r.source, undefined);
  });

  test('keeps the source annotation before the failing instruction', () => {
    const log = [
      'func#0 @0',
      '0: R1=ctx() R10=fp0',
      '; int x = *p; @ prog.bpf.c:12',
      '12: (79) r1 = *(u64 *)(r1 +0)',
      "R1 invalid mem access 'scalar'",
      'verification time 10 usec',
      'stack depth 0',
      TRAILER,
    ].join('\n');
    const r = parseVerifierLog(log);
    assert.equal(r.failedInstruction, 12);
    assert.equal(r.source, '; int x = *p; @ prog.bpf.c:12');
    assert.deepEqual(r.reason, ['; int x = *p; @ prog.bpf.c:12', '12: (79) r1 = *(u64 *)(r1 +0)', "R1 invalid mem access 'scalar'"]);
  });

  test('strips the register state printed after an instruction', () => {
    const r = parseVerifierLog('3: (95) exit                 ; R0=1\nR0 !read_ok\n');
    assert.deepEqual(r.reason, ['3: (95) exit', 'R0 !read_ok']);
    assert.equal(r.failedInstruction, 3);
  });

  test('ignores the liveness listing of log level 2', () => {
    const log = [
      'func#0 @0',
      'Live regs before insn:',
      '      0: .......... (b7) r0 = 0',
      '      1: 0......... (95) exit',
      '0: R1=ctx() R10=fp0',
      '0: (95) exit',
      'R0 !read_ok',
      TRAILER,
    ].join('\n');
    const r = parseVerifierLog(log);
    assert.equal(r.failedInstruction, 0);
    assert.deepEqual(r.reason, ['0: (95) exit', 'R0 !read_ok']);
  });

  test('errors before the walk: the last line, and the insn named in prose', () => {
    const cfg = parseVerifierLog(`jump out of range from insn 0 to 11\n${TRAILER}\n`);
    assert.deepEqual(cfg.reason, ['jump out of range from insn 0 to 11']);
    assert.equal(cfg.failedInstruction, 0);
    const noExit = parseVerifierLog(`func#0 @0\nlast insn is not an exit or jmp\n${TRAILER}\n`);
    assert.deepEqual(noExit.reason, ['last insn is not an exit or jmp']);
    assert.equal(noExit.failedInstruction, undefined);
  });

  test('an empty log explains nothing', () => {
    assert.deepEqual(parseVerifierLog(''), { reason: [] });
    assert.deepEqual(parseVerifierLog(`${TRAILER}\n\n`), { reason: [] });
  });

  test('logLines drops only the trailer', () => {
    assert.deepEqual(logLines(`a\nb\n${TRAILER}\n`), ['a', 'b']);
  });
});

function badLoad(): Instruction[] {
  // r1 is a scalar, not a pointer: the verifier stops at instruction 1.
  return new Assembler().mov64Imm(R1, 0).ldx(BPF_DW, R0, R1, 0).exit().assemble();
}

function loadError(opts: { logSize?: number; logLevel?: number } = {}): VerifierError {
  try {
    Program.load({ type: ProgramType.SOCKET_FILTER, instructions: badLoad(), license: 'GPL', name: 'bad', ...opts }).close();
  } catch (err) {
    assert.ok(err instanceof VerifierError, `expected a VerifierError, got ${String(err)}`);
    return err;
  }
  assert.fail('the program should not load');
}

describe('verifier errors from the kernel', () => {
  kernelTest('a rejected program throws VerifierError with the reason and the failing instruction', () => {
    const err = loadError();
    assert.equal(err.code, 'EACCES');
    assert.equal(err.program, 'bad');
    assert.deepEqual(err.reason, ['1: (79) r0 = *(u64 *)(r1 +0)', "R1 invalid mem access 'scalar'"]);
    assert.ok(!err.reason.some((l) => l.startsWith('processed ')));
    assert.match(err.log, /^processed \d+ insns/m);
    assert.equal(parseVerifierLog(err.log).failedInstruction, 1);
    assert.match(err.message, /verifier: R1 invalid mem access 'scalar'/);
  });

  kernelTest('a log that does not fit the first buffer still arrives whole', () => {
    const whole = loadError({ logSize: 1 << 20 }).log;
    const grown = loadError({ logSize: 128 }).log;
    assert.ok(whole.length > 128, 'the log must be longer than the first buffer');
    assert.equal(grown, whole);
    assert.match(grown, /^0: R1=ctx\(\)/);
  });

  kernelTest('a requested log is kept on success, grown from a tiny buffer', () => {
    const insns = new Assembler().mov64Imm(R0, 0).exit().assemble();
    using big = Program.load({ type: ProgramType.SOCKET_FILTER, instructions: insns, license: 'GPL', logLevel: 2, logSize: 1 << 20 });
    using small = Program.load({ type: ProgramType.SOCKET_FILTER, instructions: insns, license: 'GPL', logLevel: 2, logSize: 128 });
    assert.ok(big.verifierLog && big.verifierLog.length > 128);
    assert.equal(small.verifierLog, big.verifierLog);
    assert.match(small.verifierLog ?? '', /processed 2 insns/);
  });

  kernelTest('without a requested log level, a successful load keeps no log', () => {
    using p = Program.load({ type: ProgramType.SOCKET_FILTER, instructions: new Assembler().mov64Imm(R0, 0).exit().assemble(), license: 'GPL' });
    assert.equal(p.verifierLog, undefined);
  });
});
