/** Required actions chosen by where the work stands: the first step, then by confidence. */
export interface ActionPhases {
  first: string[];
  early: string[];
  middle: string[];
  late: string[];
}

const EARLY = new Set(['exploring', 'low']);
const MIDDLE = new Set(['medium', 'high']);

export function actionsFor(phases: ActionPhases, step: number, confidence: string): string[] {
  if (step <= 1) return phases.first;
  if (EARLY.has(confidence)) return phases.early;
  if (MIDDLE.has(confidence)) return phases.middle;
  return phases.late;
}
