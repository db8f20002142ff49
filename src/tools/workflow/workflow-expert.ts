import type { Consolidated, ToolRun, WorkflowDefinition } from './workflow.types';

/** Expert statuses that mean "not done yet": they become the answer's own status. */
export const PAUSING_EXPERT_STATUSES = new Set([
  'files_required_to_continue',
  'investigation_paused',
  'refactoring_paused',
]);

function bullet(items: string[]): string {
  return items.map((i) => `- ${i}`).join('\n');
}

function settingValue(v: unknown): string {
  if (Array.isArray(v)) return v.length === 0 ? '(none)' : v.map((x) => settingValue(x)).join(', ');
  if (v === undefined || v === null || v === '') return '(not set)';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

/**
 * The expert's user prompt: the request, what the agent found, the tool's
 * settings, the tool's own sections, then the files (or their paths) and the
 * closing instruction. Sections are joined with real newlines.
 */
export function expertPrompt(
  def: WorkflowDefinition,
  run: ToolRun,
  c: Consolidated,
  files: { block?: string; note?: string },
  extraSections: string[] = [],
): string {
  const spec = def.expert!;
  const sections: string[] = [`## Request\n${c.initialRequest}`];
  const summary = [
    `Steps taken: ${c.stepsTaken}; files examined: ${c.filesChecked.length}; relevant files: ${c.relevantFiles.length}; ` +
      `code elements: ${c.relevantContext.length}; issues recorded: ${c.issues.length}; final confidence: ${c.confidence}.`,
  ];
  if (c.findings.length > 0) summary.push(c.findings.map((f) => `Step ${f.step}: ${f.text}`).join('\n\n'));
  sections.push(`## What the agent found\n${summary.join('\n\n')}`);
  const settingKeys = Object.keys(run.settings);
  if (settingKeys.length > 0) {
    sections.push(
      `## Settings for this ${def.name}\n${bullet(settingKeys.map((k) => `${k}: ${settingValue(run.settings[k])}`))}`,
    );
  }
  if (c.relevantContext.length > 0) sections.push(`## Code elements in focus\n${bullet(c.relevantContext)}`);
  if (c.issues.length > 0) {
    sections.push(
      `## Issues recorded by the agent\n${bullet(
        c.issues.map((i) => {
          const type = typeof i.type === 'string' ? ` ${i.type.toUpperCase()}:` : '';
          return `[${i.severity.toUpperCase()}]${type} ${i.description}`;
        }),
      )}`,
    );
  }
  if (c.hypotheses.length > 0) {
    sections.push(
      `## How the hypothesis evolved\n${bullet(c.hypotheses.map((h) => `step ${h.step} (${h.confidence}): ${h.hypothesis}`))}`,
    );
  }
  if (c.images.length > 0) sections.push(`## Images the agent looked at (not attached)\n${bullet(c.images)}`);
  sections.push(...(spec.sections?.(c, run) ?? []), ...extraSections);
  if (files.block) {
    sections.push(`## Files (line numbers are for reference only, not part of the code)\n${files.block}`);
  } else if (c.relevantFiles.length > 0) {
    sections.push(`## Relevant files (paths only)\n${bullet(c.relevantFiles)}`);
  }
  if (files.note) sections.push(files.note);
  sections.push(`## Your task\n${spec.instruction}`);
  return sections.join('\n\n');
}

/** The expert's reply as an object: its JSON when it sent JSON, otherwise the text as the analysis. */
export function parseExpertReply(text: string): Record<string, unknown> {
  const trimmed = text.trim();
  if (trimmed === '') return { status: 'empty_response', error: 'the expert model returned an empty reply' };
  const fenced = /^```(?:json)?\s*\n([\s\S]*?)\n```$/.exec(trimmed);
  const candidate = fenced ? fenced[1] : trimmed;
  if (candidate.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(candidate);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    } catch {
      // Falls through: a reply that only looks like JSON is still a useful analysis.
    }
  }
  return { status: 'analysis_complete', raw_analysis: text, parse_error: 'the reply was not a JSON object' };
}
