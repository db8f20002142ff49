import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProviderSimulator } from '../src/simulator/simulator.server';
import type { RecordedRequest } from '../src/simulator/simulator.types';
import { simulatorEnv, startTestDaemon, TestDaemon } from './support/daemon';
import { Frame, TestClient, toolOutput } from './support/ws-client';

type Body = Record<string, unknown>;
interface Message {
  role: string;
  content: string;
}

/** A workflow call's frames, its wire ToolOutput and the old-shape response inside it. */
interface Called {
  frames: Frame[];
  body: Body;
  error?: { code: string; message: string };
}

describe('workflow tools over the WebSocket, expert calls against the simulator', () => {
  const sim = new ProviderSimulator({ speed: 0 });
  let base: string;
  let root: string;
  let repo: string;
  let daemon: TestDaemon;
  const clients: TestClient[] = [];
  let c: TestClient;
  let seq = 0;

  const chatRequests = (): RecordedRequest[] => sim.requests.filter((r) => r.path.endsWith('/chat/completions'));
  const messagesOf = (r: RecordedRequest) => (r.body as { messages: Message[] }).messages;
  const userText = (r: RecordedRequest) => messagesOf(r).at(-1)!.content;
  const systemText = (r: RecordedRequest) => messagesOf(r).find((m) => m.role === 'system')?.content ?? '';

  async function client(session?: string): Promise<TestClient> {
    const x = await TestClient.ready(daemon.url, session ? { session_id: session } : {});
    clients.push(x);
    return x;
  }

  async function call(on: TestClient, name: string, args: Record<string, unknown>): Promise<Called> {
    const id = `w${++seq}`;
    on.send({ op: 'call_tool', request_id: id, name, arguments: args });
    const frames = await on.callFrames(id, 15_000);
    const last = frames.at(-1)!;
    if (last.error) return { frames, body: {}, error: last.error as { code: string; message: string } };
    const out = toolOutput(last);
    return { frames, body: JSON.parse(out.content) as Body };
  }

  beforeAll(async () => {
    base = realpathSync(mkdtempSync(join(tmpdir(), 'exai-wf-')));
    root = join(base, 'root');
    repo = join(root, 'repo');
    mkdirSync(join(root, 'src'), { recursive: true });
    mkdirSync(join(base, 'outside'), { recursive: true });
    writeFileSync(join(root, 'src', 'calc.ts'), 'export function div(a: number, b: number) {\n  return a / b;\n}\n');
    writeFileSync(join(root, 'src', 'style.ts'), 'export const x = 1;\n');
    writeFileSync(join(base, 'outside', 'private.ts'), 'export const secret = "outside";\n');
    writeFileSync(join(root, '.env'), 'API_KEY=sk-live\n');
    symlinkSync(join(base, 'outside', 'private.ts'), join(root, 'src', 'link.ts'));
    mkdirSync(repo);
    const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { stdio: 'pipe' });
    git('init', '-q');
    git('-c', 'user.email=t@e.st', '-c', 'user.name=t', 'commit', '-q', '--allow-empty', '-m', 'init');
    writeFileSync(join(repo, 'tracked.ts'), 'export const before = 1;\n');
    git('add', 'tracked.ts');
    git('-c', 'user.email=t@e.st', '-c', 'user.name=t', 'commit', '-q', '-m', 'add');
    writeFileSync(join(repo, 'tracked.ts'), 'export const after_unstaged_edit = 2;\n');
    writeFileSync(join(repo, 'staged.ts'), 'export const staged_addition = 3;\n');
    git('add', 'staged.ts');

    await sim.start(0, '127.0.0.1');
    daemon = await startTestDaemon({
      ...simulatorEnv(sim),
      EXAI_FILE_ROOTS: root,
      EXAI_WS_GLOBAL_MAX_INFLIGHT: '16',
      EXAI_WS_SESSION_MAX_INFLIGHT: '16',
    });
  });
  beforeEach(async () => {
    sim.reset();
    c = await client();
  });
  afterEach(() => {
    for (const x of clients.splice(0)) x.close();
  });
  afterAll(async () => {
    await daemon.close();
    await sim.stop();
    rmSync(base, { recursive: true, force: true });
  });

  const calc = () => join(root, 'src', 'calc.ts');

  // The investigation tools: step 1 pauses locally, the final step calls the
  // expert with the tool's settings and files, and "certain" skips it.
  const table: Array<{
    tool: string;
    extra: () => Record<string, unknown>;
    pause: string;
    statusKey: string;
    completeKey: string;
    certain?: string;
    inPrompt: () => string[];
  }> = [
    {
      tool: 'debug',
      extra: () => ({ hypothesis: 'b can be zero' }),
      pause: 'pause_for_investigation',
      statusKey: 'investigation_status',
      completeKey: 'complete_investigation',
      certain: 'certain_confidence_proceed_with_fix',
      inPrompt: () => ['b can be zero', '   2│   return a / b;'],
    },
    {
      tool: 'analyze',
      extra: () => ({ analysis_type: 'performance', output_format: 'actionable' }),
      pause: 'pause_for_analysis',
      statusKey: 'analysis_status',
      completeKey: 'complete_analysis',
      inPrompt: () => ['analysis_type: performance', 'output_format: actionable', '   1│ export function div'],
    },
    {
      tool: 'codereview',
      extra: () => ({ review_type: 'security', focus_on: 'division', standards: 'strict TS', severity_filter: 'high' }),
      pause: 'pause_for_code_review',
      statusKey: 'code_review_status',
      completeKey: 'complete_code_review',
      certain: 'code_review_complete_ready_for_implementation',
      inPrompt: () => ['review_type: security', 'focus_on: division', 'standards: strict TS', 'severity_filter: high'],
    },
    {
      tool: 'refactor',
      extra: () => ({
        refactor_type: 'modernize',
        focus_areas: ['readability'],
        style_guide_examples: [join(root, 'src', 'style.ts')],
      }),
      pause: 'pause_for_refactoring_analysis',
      statusKey: 'refactoring_status',
      completeKey: 'complete_refactoring',
      certain: 'refactoring_analysis_complete_ready_for_implementation',
      inPrompt: () => [
        'refactor_type: modernize',
        'focus_areas: readability',
        `style_guide_examples: ${join(root, 'src', 'style.ts')}`,
      ],
    },
    {
      tool: 'secaudit',
      extra: () => ({
        security_scope: 'calculator API',
        threat_level: 'high',
        audit_focus: 'owasp',
        compliance_requirements: ['SOC2'],
      }),
      pause: 'pause_for_security_audit',
      statusKey: 'security_audit_status',
      completeKey: 'complete_security_audit',
      certain: 'security_analysis_complete',
      inPrompt: () => [
        'threat_level: high',
        'audit_focus: owasp',
        'compliance_requirements: SOC2',
        'security_scope: calculator API',
      ],
    },
    {
      tool: 'testgen',
      extra: () => ({}),
      pause: 'pause_for_test_analysis',
      statusKey: 'test_generation_status',
      completeKey: 'complete_test_generation',
      certain: 'test_generation_complete_ready_for_implementation',
      inPrompt: () => ['   1│ export function div'],
    },
    {
      tool: 'precommit',
      extra: () => ({ path: repo, focus_on: 'naming' }),
      pause: 'pause_for_validation',
      statusKey: 'validation_status',
      completeKey: 'complete_validation',
      certain: 'validation_complete_ready_for_commit',
      inPrompt: () => [
        '## Git: Staged changes',
        'staged_addition',
        '## Git: Unstaged changes',
        'after_unstaged_edit',
        'focus_on: naming',
      ],
    },
    {
      tool: 'thinkdeep',
      extra: () => ({ problem_context: 'a calculator library', focus_areas: ['correctness'] }),
      pause: 'pause_for_thinkdeep',
      statusKey: 'thinkdeep_status',
      completeKey: 'complete_thinkdeep',
      certain: 'deep_thinking_complete_ready_for_implementation',
      inPrompt: () => ['problem_context: a calculator library', 'focus_areas: correctness'],
    },
  ];

  describe.each(table)('$tool', (t) => {
    const step1 = () => ({
      step: `Investigate division in calc for ${t.tool}`,
      step_number: 1,
      total_steps: 2,
      next_step_required: true,
      findings: 'div divides without checking b',
      relevant_files: [calc()],
      confidence: 'low',
      ...t.extra(),
    });

    it('pauses at step 1 with no model call, then the final step calls the expert with settings and files', async () => {
      const first = await call(c, t.tool, step1());
      expect(first.error).toBeUndefined();
      expect(first.body.status).toBe(t.pause);
      expect(chatRequests()).toHaveLength(0);
      const id = first.body.continuation_id as string;
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect((first.body.required_actions as string[]).length).toBeGreaterThan(0);
      expect(first.body.next_call).toMatchObject({
        tool: t.tool,
        arguments: { step_number: 2, continuation_id: id },
      });
      expect(first.body[t.statusKey]).toMatchObject({ relevant_files: 1 });
      // A local step gets the plain tool deadline; the expert call gets the provider's (thinking + web).
      const ackTimeout = (frames: Frame[]) => frames.find((f) => f.op === 'call_tool_ack')?.timeout;
      expect(ackTimeout(first.frames)).toBe(120);

      const final = await call(c, t.tool, {
        step: 'Confirmed: nothing guards b',
        step_number: 2,
        total_steps: 2,
        next_step_required: false,
        findings: 'A zero divisor returns Infinity',
        relevant_files: [calc()],
        confidence: 'high',
        continuation_id: id,
      });
      expect(final.error).toBeUndefined();
      expect(final.body.status).toBe('calling_expert_analysis');
      expect(ackTimeout(final.frames)).toBe(t.tool === 'thinkdeep' ? 360 : 420);
      expect(final.body.continuation_id).toBe(id);
      expect(final.body[t.completeKey]).toMatchObject({ steps_taken: 2 });
      expect(final.body.expert_analysis).toMatchObject({ status: 'analysis_complete' });
      const requests = chatRequests();
      expect(requests).toHaveLength(1);
      const prompt = userText(requests[0]);
      expect(prompt).toContain(`Investigate division in calc for ${t.tool}`);
      expect(prompt).toContain('Step 2: A zero divisor returns Infinity');
      for (const s of t.inPrompt()) expect(prompt).toContain(s);
      expect(prompt).not.toContain('\\n');
      expect(systemText(requests[0]).length).toBeGreaterThan(100);
      expect((final.body.metadata as Body).model_used).toBe((requests[0].body as { model: string }).model);
      if (t.tool === 'thinkdeep') {
        expect(final.body).toMatchObject({ thinking_complete: true, complete_thinking: { steps_completed: 2 } });
      }
    });

    it('settings given on a single final step reach the expert on that first call', async () => {
      const only = await call(c, t.tool, { ...step1(), next_step_required: false, total_steps: 1 });
      expect(only.body.status).toBe('calling_expert_analysis');
      expect(chatRequests()).toHaveLength(1);
      for (const s of t.inPrompt()) expect(userText(chatRequests()[0])).toContain(s);
    });

    it(
      t.certain ? 'skips the expert on a certain final step' : 'completes locally when use_assistant_model is false',
      async () => {
        const args = t.certain
          ? { ...step1(), next_step_required: false, total_steps: 1, confidence: 'certain' }
          : { ...step1(), next_step_required: false, total_steps: 1, use_assistant_model: false };
        const done = await call(c, t.tool, args);
        expect(done.error).toBeUndefined();
        expect(done.body.status).toBe(t.certain ?? 'local_work_complete');
        expect(done.body[t.completeKey]).toMatchObject({ steps_taken: 1 });
        expect(chatRequests()).toHaveLength(0);
      },
    );
  });

  it('tracer, planner, docgen and challenge never call a model', async () => {
    const tracer1 = await call(c, 'tracer', {
      step: 'Trace div',
      step_number: 1,
      total_steps: 2,
      next_step_required: true,
      findings: 'div is exported',
      trace_mode: 'ask',
      target_description: 'the div function',
    });
    expect(tracer1.body).toMatchObject({ status: 'mode_selection_required', mode_selection_required: true });
    const tracer2 = await call(c, 'tracer', {
      step: 'Traced',
      step_number: 2,
      total_steps: 2,
      next_step_required: false,
      findings: 'div is called by main',
      trace_mode: 'precision',
      target_description: 'the div function',
      continuation_id: tracer1.body.continuation_id,
    });
    expect(tracer2.body).toMatchObject({ status: 'tracing_complete', tracing_complete: true });
    expect((tracer2.body.output as Body).instructions).toMatch(/call flow/);

    const plan1 = await call(c, 'planner', {
      step: 'Plan the migration',
      step_number: 1,
      total_steps: 5,
      next_step_required: true,
    });
    expect(plan1.body).toMatchObject({ status: 'pause_for_deep_thinking', thinking_required: true });
    const plan2 = await call(c, 'planner', {
      step: 'Alternative: big bang',
      step_number: 2,
      total_steps: 2,
      next_step_required: false,
      is_branch_point: true,
      branch_from_step: 1,
      branch_id: 'big-bang',
      continuation_id: plan1.body.continuation_id,
    });
    expect(plan2.body).toMatchObject({ status: 'planning_complete', planning_complete: true });
    expect(plan2.body.plan_summary).toBe('1. Plan the migration\n2. Alternative: big bang');
    expect((plan2.body.metadata as Body).branches).toEqual(['big-bang']);

    const docArgs = {
      step: 'Document calc',
      step_number: 1,
      total_steps: 1,
      next_step_required: false,
      findings: 'two files',
      document_complexity: true,
      document_flow: true,
      update_existing: true,
      comments_on_complex_logic: true,
      num_files_documented: 1,
      total_files_to_document: 2,
    };
    const doc = await call(c, 'docgen', docArgs);
    expect(doc.body).toMatchObject({ status: 'documentation_analysis_required', pause_for_docgen: true });
    const docDone = await call(c, 'docgen', {
      ...docArgs,
      num_files_documented: 2,
      continuation_id: doc.body.continuation_id,
    });
    expect(docDone.body.status).toBe('documentation_analysis_complete');

    const challenge = await call(c, 'challenge', { prompt: 'The earth is flat' });
    expect(challenge.body.original_statement).toBe('The earth is flat');
    expect(challenge.body.challenge_prompt).toContain('The earth is flat');
    expect(chatRequests()).toHaveLength(0);
  });

  it('consensus consults one model per step, each with its stance and blind to the agent and the others', async () => {
    const models = [
      { model: 'glm-4.5-flash', stance: 'for' },
      { model: 'kimi-k2-turbo-preview', stance: 'against' },
    ];
    const first = await call(c, 'consensus', {
      step: 'Should we replace REST with gRPC?',
      step_number: 1,
      total_steps: 2,
      next_step_required: true,
      findings: 'AGENT-PRIVATE-NOTES: latency matters',
      models,
    });
    expect(first.error).toBeUndefined();
    expect(first.body).toMatchObject({
      status: 'analysis_and_first_model_consulted',
      model_consulted: 'glm-4.5-flash',
      model_stance: 'for',
      next_step_required: true,
    });
    expect(chatRequests()).toHaveLength(1);
    const [glm] = chatRequests();
    expect(glm.provider).toBe('glm');
    expect(systemText(glm)).toMatch(/case for the proposal/);
    expect(userText(glm)).toContain('Should we replace REST with gRPC?');
    expect(userText(glm)).not.toContain('AGENT-PRIVATE-NOTES');

    const second = await call(c, 'consensus', {
      step: 'Noted the first view',
      step_number: 2,
      total_steps: 2,
      next_step_required: false,
      continuation_id: first.body.continuation_id,
    });
    expect(second.body).toMatchObject({
      status: 'consensus_workflow_complete',
      consensus_complete: true,
      model_consulted: 'kimi-k2-turbo-preview',
      model_stance: 'against',
    });
    expect(second.body.complete_consensus).toMatchObject({
      models_consulted: ['glm-4.5-flash:for', 'kimi-k2-turbo-preview:against'],
      total_responses: 2,
    });
    const kimi = chatRequests()[1];
    expect(kimi.provider).toBe('kimi');
    expect(systemText(kimi)).toMatch(/case against the proposal/);
    expect(userText(kimi)).toContain('Should we replace REST with gRPC?');
    expect(userText(kimi)).not.toContain(String((first.body.model_response as Body).verdict));
    expect(messagesOf(kimi)).toHaveLength(2);
  });

  it('consensus without models consults the quality model of each provider, as the old server chose', async () => {
    const first = await call(c, 'consensus', {
      step: 'Adopt event sourcing?',
      step_number: 1,
      total_steps: 1,
      next_step_required: true,
      findings: 'my view',
    });
    expect(first.error).toBeUndefined();
    expect(first.body).toMatchObject({ total_steps: 2, model_consulted: 'kimi-k2-thinking', model_stance: 'neutral' });
    const second = await call(c, 'consensus', {
      step: 'next',
      step_number: 2,
      total_steps: 2,
      next_step_required: false,
      continuation_id: first.body.continuation_id,
    });
    expect(second.body).toMatchObject({ status: 'consensus_workflow_complete', model_consulted: 'glm-4.6' });
    expect(chatRequests().map((r) => r.provider)).toEqual(['kimi', 'glm']);
  });

  describe('files', () => {
    const final = (files: string[]) => ({
      step: 'Review',
      step_number: 1,
      total_steps: 1,
      next_step_required: false,
      findings: 'look',
      relevant_files: files,
    });

    it('refuses a path outside the roots with INVALID_ARGUMENTS naming the roots, and calls no model', async () => {
      const r = await call(c, 'debug', final([join(base, 'outside', 'private.ts')]));
      expect(r.error?.code).toBe('INVALID_ARGUMENTS');
      expect(r.error?.message).toContain('relevant_files');
      expect(r.error?.message).toContain(`outside the readable folders (EXAI_FILE_ROOTS): ${root}`);
      expect(chatRequests()).toHaveLength(0);
    });

    it('refuses a symlink inside the root that escapes it, even in files_checked', async () => {
      const r = await call(c, 'codereview', { ...final([calc()]), files_checked: [join(root, 'src', 'link.ts')] });
      expect(r.error?.code).toBe('INVALID_ARGUMENTS');
      expect(r.error?.message).toContain(`resolves to "${join(base, 'outside', 'private.ts')}"`);
      expect(chatRequests()).toHaveLength(0);
    });

    it('refuses secret-looking files', async () => {
      const r = await call(c, 'analyze', final([join(root, '.env')]));
      expect(r.error?.code).toBe('INVALID_ARGUMENTS');
      expect(r.error?.message).toMatch(/looks like a secret/);
      expect(chatRequests()).toHaveLength(0);
    });

    it('expands a folder, embeds each file once, and does not resend files in the same thread', async () => {
      const r = await call(c, 'debug', { ...final([join(root, 'src'), calc()]), files_checked: [] });
      expect(r.error).toBeUndefined();
      const prompt = userText(chatRequests()[0]);
      expect(prompt.split(`--- BEGIN FILE: ${calc()} ---`)).toHaveLength(2);
      expect(prompt).toContain(`--- BEGIN FILE: ${join(root, 'src', 'style.ts')} ---`);
      expect(prompt).not.toContain('link.ts');
      expect(r.body.file_context).toMatchObject({ type: 'fully_embedded', files_embedded: 2 });
      const again = await call(c, 'debug', {
        ...final([calc()]),
        step_number: 2,
        total_steps: 2,
        continuation_id: r.body.continuation_id,
      });
      expect(again.error).toBeUndefined();
      const second = userText(chatRequests()[1]);
      expect(second).not.toContain(`--- BEGIN FILE: ${calc()} ---`);
      expect(second).toContain(`Already sent earlier in this conversation, so not repeated: ${calc()}`);
    });

    it('answers code_too_large, without a model call, when the files exceed the model’s budget', async () => {
      writeFileSync(join(root, 'src', 'huge.ts'), 'const filler = 1;\n'.repeat(40_000));
      try {
        const r = await call(c, 'debug', { ...final([join(root, 'src', 'huge.ts')]), model: 'glm-4.5-flash' });
        expect(r.body).toMatchObject({ status: 'code_too_large', metadata: { token_budget: 22_040 } });
        expect(chatRequests()).toHaveLength(0);
      } finally {
        rmSync(join(root, 'src', 'huge.ts'));
      }
    });
  });

  it('keeps state per thread, owned by the session: another session cannot continue it', async () => {
    const a = await client('owner-a');
    const b = await client('other-b');
    const first = await call(a, 'debug', {
      step: 'start',
      step_number: 1,
      total_steps: 2,
      next_step_required: true,
      findings: 'f1',
    });
    const id = first.body.continuation_id as string;
    const stolen = await call(b, 'debug', {
      step: 'steal',
      step_number: 2,
      total_steps: 2,
      next_step_required: false,
      findings: 'f2',
      continuation_id: id,
    });
    expect(stolen.error?.code).toBe('INVALID_ARGUMENTS');
    expect(stolen.error?.message).toContain(`unknown continuation_id "${id}"`);
    // Unrelated calls never share findings (the old daemon's shared-instance leak).
    const unrelated = await call(b, 'debug', {
      step: 'fresh',
      step_number: 1,
      total_steps: 1,
      next_step_required: false,
      findings: 'other work',
      use_assistant_model: false,
    });
    expect(unrelated.body.complete_investigation).toMatchObject({ steps_taken: 1, initial_request: 'fresh' });
    const own = await call(a, 'debug', {
      step: 'finish',
      step_number: 2,
      total_steps: 2,
      next_step_required: false,
      findings: 'f2',
      use_assistant_model: false,
      continuation_id: id,
    });
    expect(own.body.complete_investigation).toMatchObject({ steps_taken: 2, initial_request: 'start' });
  });

  it('validates old-client arguments: bare-string file lists, step-1 requirements, backtracking', async () => {
    const bare = await call(c, 'debug', {
      step: 's',
      step_number: 1,
      total_steps: 1,
      next_step_required: false,
      findings: 'f',
      relevant_files: calc(),
      use_assistant_model: false,
    });
    expect(bare.body.complete_investigation).toMatchObject({ relevant_files: [calc()] });
    const inline = await call(c, 'debug', {
      step: 's',
      step_number: 1,
      total_steps: 1,
      next_step_required: false,
      findings: 'f',
      images: ['data:image/png;base64,iVBORw0KGgo='],
      use_assistant_model: false,
    });
    expect(inline.body.investigation_status).toMatchObject({ images_collected: 1 });
    const noFiles = await call(c, 'codereview', {
      step: 's',
      step_number: 1,
      total_steps: 1,
      next_step_required: true,
      findings: 'f',
    });
    expect(noFiles.error?.message).toContain('codereview: step 1 needs relevant_files');
    const badBack = await call(c, 'debug', {
      step: 's',
      step_number: 2,
      total_steps: 2,
      next_step_required: true,
      findings: 'f',
      backtrack_from_step: 2,
    });
    expect(badBack.error?.message).toContain('backtrack_from_step (2) must be below step_number (2)');
    expect(chatRequests()).toHaveLength(0);
  });

  it('promotes an expert that asks for more files to the answer’s status, and passes a JSON verdict through', async () => {
    const ask = {
      status: 'files_required_to_continue',
      mandatory_instructions: 'send the caller',
      files_needed: ['main.ts'],
    };
    sim.script('kimi', { content: JSON.stringify(ask) }, { content: '{"status":"no_bug_found","summary":"fine"}' });
    const args = {
      step: 'why does div misbehave',
      step_number: 1,
      total_steps: 1,
      next_step_required: false,
      findings: 'div returns Infinity',
      relevant_files: [calc()],
    };
    const paused = await call(c, 'debug', args);
    expect(paused.body.status).toBe('files_required_to_continue');
    expect(JSON.parse(String(paused.body.content))).toEqual(ask);
    expect(paused.body).not.toHaveProperty('expert_analysis');
    const done = await call(c, 'debug', { ...args, continuation_id: paused.body.continuation_id });
    expect(done.body).toMatchObject({
      status: 'calling_expert_analysis',
      expert_analysis: { status: 'no_bug_found', summary: 'fine' },
    });
    // The retried final step replaced step 1 instead of adding a second one.
    expect(done.body.complete_investigation).toMatchObject({ steps_taken: 1 });
    expect(messagesOf(chatRequests()[1]).map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
  });

  it('precommit refuses a compare_to that git would read as an option, and a repository outside the roots', async () => {
    const args = { step: 's', step_number: 1, total_steps: 1, next_step_required: false, findings: 'f', path: repo };
    const option = await call(c, 'precommit', { ...args, compare_to: '--output=/tmp/pwned' });
    expect(option.error?.message).toContain('compare_to "--output=/tmp/pwned" is not a plain git ref');
    const outside = await call(c, 'precommit', { ...args, path: join(base, 'outside') });
    expect(outside.error?.message).toContain('path: ');
    expect(outside.error?.message).toContain('outside the readable folders');
    const against = await call(c, 'precommit', { ...args, compare_to: 'HEAD~1' });
    expect(against.error).toBeUndefined();
    expect(userText(chatRequests()[0])).toContain('## Git: Changes against HEAD~1');
    expect(userText(chatRequests()[0])).not.toContain('## Git: Staged changes');
    expect(chatRequests()).toHaveLength(1);
  });

  it('with no file roots (EXAI_FILE_ROOTS=none), keeps paths as names and tells the expert their contents are unavailable', async () => {
    const closed = await startTestDaemon({ ...simulatorEnv(sim), EXAI_FILE_ROOTS: 'none' });
    try {
      const x = await TestClient.ready(closed.url);
      clients.push(x);
      const r = await call(x, 'debug', {
        step: 'remote agent',
        step_number: 1,
        total_steps: 1,
        next_step_required: false,
        findings: 'f',
        relevant_files: ['/agent/machine/app.ts'],
      });
      expect(r.error).toBeUndefined();
      expect(r.body.complete_investigation).toMatchObject({ relevant_files: ['/agent/machine/app.ts'] });
      const prompt = userText(chatRequests()[0]);
      expect(prompt).toContain('- /agent/machine/app.ts');
      expect(prompt).toContain('this daemon reads no files (EXAI_FILE_ROOTS is empty)');
      expect(prompt).not.toContain('--- BEGIN FILE');
    } finally {
      await closed.close();
    }
  });

  it('thinkdeep accepts a free-text confidence, as the old thinkdeep did', async () => {
    const r = await call(c, 'thinkdeep', {
      step: 'Is the cache safe?',
      step_number: 1,
      total_steps: 2,
      next_step_required: true,
      findings: 'it is shared',
      confidence: 'fairly sure',
    });
    expect(r.body).toMatchObject({
      status: 'pause_for_thinkdeep',
      thinkdeep_status: { current_confidence: 'fairly sure' },
    });
  });

  it('thinkdeep still answers today’s prompt shape with one model call', async () => {
    c.send({ op: 'call_tool', request_id: 'td', name: 'thinkdeep', arguments: { prompt: 'why is the sky blue?' } });
    const out = toolOutput(await c.result('td', 15_000));
    expect(out.content).toContain('why is the sky blue?');
    expect(out.metadata).toMatchObject({ provider: 'KIMI', thinking: true });
    expect(chatRequests()).toHaveLength(1);
  });
});
