import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packageRoot } from './package.js';

/** A memory mapping: the buffer JS reads and the handle that unmaps it. */
export interface NativeMapping {
  readonly buffer: ArrayBuffer;
  readonly handle: object;
}

/** The syscall primitives of the C addon. Each returns the kernel's result or -errno. */
export interface Native {
  bpf(cmd: number, attr: ArrayBufferView): number;
  /** A call bound to one attr buffer (kept alive by the function): call(cmd) runs bpf(cmd, attr). */
  bpfBound(attr: ArrayBufferView): (cmd: number) => number;
  perfEventOpen(attr: ArrayBufferView, pid: number, cpu: number, groupFd: number, flags: number): number;
  ioctl(fd: number, request: number, arg: number | bigint | ArrayBufferView): number;
  close(fd: number): number;
  mmap(fd: number, length: number, prot: number, flags: number, offset: number): NativeMapping | number;
  munmap(handle: object, buffer: ArrayBuffer): number;
  pollStart(fd: number, events: number, callback: (status: number, events: number) => void): object | number;
  pollStop(handle: object): number;
  pollRef(handle: object, ref: boolean): number;
  setsockopt(fd: number, level: number, name: number, value: ArrayBufferView): number;
  setrlimit(resource: number, cur: number, max: number): number;
  addressOf(buffer: ArrayBufferView | ArrayBuffer): bigint;
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: ArrayBufferView): number;
  send(fd: number, data: ArrayBufferView, flags: number): number;
  recv(fd: number, data: ArrayBufferView, flags: number): number;
  read(fd: number, data: ArrayBufferView): number;
  dup(fd: number): number;
  write(fd: number, data: ArrayBufferView): number;
  fanotifyInit(flags: number, eventFlags: number): number;
  /** `path` is NUL-terminated bytes. */
  fanotifyMark(fd: number, flags: number, mask: number, dirfd: number, path: ArrayBufferView): number;
  readonly constants: { readonly PAGE_SIZE: number; readonly RLIMIT_MEMLOCK: number };
}

/**
 * The path of the addon node-gyp-build picks: a local build (build/Release) first, else the
 * prebuilt binary for this platform shipped in prebuilds/ (linux-x64 and linux-arm64 with glibc),
 * so running needs no C compiler where one fits. Worker threads load the same file.
 */
export function nativeAddonPath(): string {
  const root = packageRoot();
  const nodeGypBuild = createRequire(import.meta.url)('node-gyp-build') as { resolve(dir: string): string };
  try {
    return nodeGypBuild.resolve(root);
  } catch (err) {
    throw new Error(
      `tsbpf: no native addon fits this machine (${process.platform}-${process.arch}): no build in ${join(root, 'build', 'Release')} and no prebuilt binary in ${join(root, 'prebuilds')}; run \`npm install\` (which builds it with node-gyp) or \`npx node-gyp rebuild\` in ${root}`,
      { cause: err },
    );
  }
}

function load(): Native {
  return createRequire(import.meta.url)(nativeAddonPath()) as Native;
}

type NativeMethod = Exclude<keyof Native, 'constants'>;

/** Every function of the addon (a test checks the list against the addon). */
export const NATIVE_METHODS: readonly NativeMethod[] = [
  'bpf', 'bpfBound', 'perfEventOpen', 'ioctl', 'close', 'mmap', 'munmap', 'pollStart', 'pollStop', 'pollRef',
  'setsockopt', 'setrlimit', 'addressOf', 'socket', 'bind', 'send', 'recv', 'read', 'dup', 'write', 'fanotifyInit', 'fanotifyMark',
];

let addon: Native | undefined;

/** The addon itself, loaded (dlopen) the first time it is needed. */
export function loadNative(): Native {
  if (addon === undefined) {
    addon = load();
    // From now on every method is the addon's own function: no stub stays on the call path.
    for (const name of NATIVE_METHODS) (native as unknown as Record<string, unknown>)[name] = addon[name];
  }
  return addon;
}

/**
 * The addon's functions. The addon loads on the first system call, not on import, so a command
 * that makes none (help, reading an object file) does not pay for it. Until then each method
 * is a stub that loads the addon and calls through.
 */
export const native: Native = {
  get constants() {
    return loadNative().constants;
  },
  ...(Object.fromEntries(NATIVE_METHODS.map((name) => [name, (...args: unknown[]) => (loadNative()[name] as (...a: unknown[]) => unknown)(...args)])) as Omit<Native, 'constants'>),
};

/** The value last given to keepAlive(): a store the optimiser cannot drop. */
const kept: { value: unknown } = { value: undefined };

/**
 * Keeps `value` reachable up to this call. A buffer whose address went into an attr must
 * outlive the system call that reads it; optimised code may otherwise treat a local that is not
 * used after native.addressOf() as garbage before the call is made. Only the last value is
 * held on to.
 */
export function keepAlive(value: unknown): void {
  kept.value = value;
}

