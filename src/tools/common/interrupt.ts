// How long-running tools end: SIGINT and SIGTERM abort one signal that the tool's loops watch,
// and the handlers go when the run ends, so a later run in the same process starts clean.

/** Runs `body` with a signal that SIGINT or SIGTERM aborts. */
export async function untilInterrupted<T>(body: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await body(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Resolves on the first SIGINT or SIGTERM; the handlers go with it. */
export function interrupted(): Promise<void> {
  return untilInterrupted((signal) => new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true })));
}

/** Waits `ms`, or less when `signal` aborts first. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}
