import { bySeverity, enoughForExpert } from '../workflow-steps';
import { SEVERITY_FILTER } from '../workflow.schema';
import type { WorkflowDefinition } from '../workflow.types';

// A fixed plan: each step of the audit covers one area, in this order.
const PLAN = [
  [
    'Define the scope: what the application does, its users, data and trust boundaries',
    'Map the attack surface: entry points, external inputs, integrations',
  ],
  ['Audit authentication and authorisation: sessions, tokens, role checks, privilege boundaries'],
  ['Audit input validation, output encoding and cryptography: injection, deserialisation, key handling'],
  ['Walk the OWASP Top 10 (2021) against the code, category by category'],
  ['Audit dependencies, configuration and secrets handling: versions, defaults, hard-coded credentials'],
  ['Check the compliance requirements given and draft a remediation roadmap by risk'],
];

export const SECAUDIT: WorkflowDefinition = {
  name: 'secaudit',
  description:
    'Security audit in steps (OWASP Top 10, authentication, input handling, dependencies, compliance): you audit between calls ' +
    '(intermediate steps answered at once, no model call); the final step sends your findings and the files to an expert model.',
  properties: {
    security_scope: { type: 'string', description: 'What is being audited: the application, its stack and exposure.' },
    threat_level: {
      enum: ['low', 'medium', 'high', 'critical'],
      default: 'medium',
      description: 'How exposed the application is; raises the bar of the audit.',
    },
    compliance_requirements: {
      type: 'array',
      items: { type: 'string' },
      default: [],
      description: 'Frameworks to check against (e.g. SOC2, PCI DSS, HIPAA, GDPR, ISO 27001, NIST).',
    },
    audit_focus: {
      enum: ['owasp', 'compliance', 'infrastructure', 'dependencies', 'comprehensive'],
      default: 'comprehensive',
      description: 'Where the audit concentrates.',
    },
    severity_filter: SEVERITY_FILTER,
  },
  required: ['findings'],
  settings: ['security_scope', 'threat_level', 'compliance_requirements', 'audit_focus', 'severity_filter'],
  names: {
    pause: 'pause_for_security_audit',
    complete: 'security_audit_complete',
    certainSkip: 'security_analysis_complete',
    skipStatus: 'skipped_due_to_certain_audit_confidence',
    completeKey: 'complete_security_audit',
    statusKey: 'security_audit_status',
  },
  requiredActions: (step) => PLAN[Math.min(step, PLAN.length) - 1],
  statusExtras: (c) => ({ vulnerabilities_by_severity: bySeverity(c.issues), audit_confidence: c.confidence }),
  expert: {
    systemPrompt:
      'You are an application security auditor. Assess the code against the OWASP Top 10 (2021) and any compliance frameworks named, ' +
      'weighting risk as likelihood times impact at the given threat level and within the given scope and focus. Report only what the ' +
      'code shows; never invent a vulnerability. Reply with one JSON object: {"status":"security_analysis_complete","summary":"…",' +
      '"security_findings":[{"category":"…","severity":"critical|high|medium|low","vulnerability":"…","description":"…","impact":"…",' +
      '"remediation":"…","timeline":"…","file_references":["file:line"]}],"owasp_top_10_summary":{"A01":"Vulnerable|Secure|Not_Applicable",' +
      '"…":"…","A10":"…"},"risk_assessment":{"overall_risk":"…","key_risks":["…"]},"remediation_roadmap":[{"priority":1,"action":"…"}],' +
      '"positive_findings":["…"],"investigation_summary":"…"}. If you need more code, reply only with ' +
      '{"status":"files_required_to_continue","mandatory_instructions":"…","files_needed":["…"]}.',
    instruction: 'Audit the code above as described and return the JSON object.',
    embedFiles: true,
    deepThinking: true,
    temperature: 0.2,
    skipOn: ['certain'],
    wants: enoughForExpert,
    sections: (c) =>
      c.relevantContext.length > 0
        ? [`## Security-critical code\n${c.relevantContext.map((x) => `- ${x}`).join('\n')}`]
        : [],
    considerations:
      'Confirm each finding in the code and fix the critical ones first; a clean report is not proof of safety.',
  },
};
