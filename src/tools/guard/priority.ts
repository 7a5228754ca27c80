// Falco's priorities, most severe first.
export const PRIORITIES = ['Emergency', 'Alert', 'Critical', 'Error', 'Warning', 'Notice', 'Informational', 'Debug'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** The priority a name denotes, in any case, with Falco's short forms (INFO, WARN). */
export function parsePriority(text: string): Priority | undefined {
  const t = text.trim().toLowerCase();
  const alias: Record<string, Priority> = { info: 'Informational', warn: 'Warning', err: 'Error', crit: 'Critical', emerg: 'Emergency' };
  return PRIORITIES.find((p) => p.toLowerCase() === t) ?? alias[t];
}

/** Smaller is more severe. */
export function severity(p: Priority): number {
  return PRIORITIES.indexOf(p);
}
