import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestDaemon, TestDaemon } from './support/daemon';

const BRIDGE = join(__dirname, '..', 'dist', 'mcp', 'main.js');

type Body = Record<string, unknown>;

describe('workflow tools through exai-mcp, driven by the MCP SDK client', () => {
  let daemon: TestDaemon;
  let client: Client;
  let root: string;

  beforeAll(async () => {
    root = realpathSync(mkdtempSync(join(tmpdir(), 'exai-wfm-')));
    writeFileSync(join(root, 'parse.py'), 'def parse(s):\n    return int(s)\n');
    daemon = await startTestDaemon({ EXAI_PROVIDERS_MODE: 'simulated', EXAI_FILE_ROOTS: root });
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BRIDGE],
      env: { ...(process.env as Record<string, string>), EXAI_WS_URL: daemon.url, EXAI_SESSION_ID: 'mcp-debugger' },
      stderr: 'pipe',
    });
    client = new Client({ name: 'exai-workflow-host', version: '1.0.0' });
    await client.connect(transport);
  });
  afterAll(async () => {
    await client.close();
    await daemon.close();
    rmSync(root, { recursive: true, force: true });
  });

  async function step(args: Record<string, unknown>): Promise<Body> {
    const result = await client.callTool({ name: 'debug', arguments: args });
    expect(result.isError).toBeFalsy();
    return JSON.parse((result.content as Array<{ text: string }>)[0].text) as Body;
  }

  it('lists every workflow tool with a described schema', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    for (const name of ['analyze', 'codereview', 'debug', 'refactor', 'secaudit', 'testgen', 'tracer', 'planner']) {
      expect(names).toContain(name);
    }
    for (const name of ['consensus', 'docgen', 'precommit', 'thinkdeep', 'challenge']) expect(names).toContain(name);
    const debug = tools.find((t) => t.name === 'debug')!;
    expect(debug.inputSchema.required).toEqual([
      'step',
      'step_number',
      'total_steps',
      'next_step_required',
      'findings',
    ]);
  });

  it('runs a three-step debug session: two local pauses, then the expert, all on one continuation_id', async () => {
    const file = join(root, 'parse.py');
    const one = await step({
      step: 'parse("abc") crashes the importer',
      step_number: 1,
      total_steps: 3,
      next_step_required: true,
      findings: 'ValueError raised from parse',
      relevant_files: [file],
    });
    expect(one.status).toBe('pause_for_investigation');
    const id = one.continuation_id as string;
    expect((one.next_call as { arguments: Body }).arguments).toMatchObject({ step_number: 2, continuation_id: id });

    const two = await step({
      step: 'Checked the callers',
      step_number: 2,
      total_steps: 3,
      next_step_required: true,
      findings: 'No caller validates input before parse',
      hypothesis: 'parse trusts its input',
      confidence: 'medium',
      continuation_id: id,
    });
    expect(two).toMatchObject({ status: 'pause_for_investigation', continuation_id: id, next_step_number: 3 });
    expect(two.investigation_status).toMatchObject({ relevant_files: 1, current_confidence: 'medium' });

    const three = await step({
      step: 'Root cause confirmed',
      step_number: 3,
      total_steps: 3,
      next_step_required: false,
      findings: 'int() on unvalidated text',
      confidence: 'high',
      continuation_id: id,
    });
    expect(three.status).toBe('calling_expert_analysis');
    expect(three.continuation_id).toBe(id);
    expect(three.complete_investigation).toMatchObject({ steps_taken: 3, relevant_files: [file] });
    expect(three.file_context).toMatchObject({ type: 'fully_embedded', files_embedded: 1 });
    const analysis = three.expert_analysis as Body;
    // The simulator echoes the prompt: the expert saw every step and the numbered file.
    expect(String(analysis.raw_analysis)).toContain('Step 2: No caller validates input before parse');
    expect(String(analysis.raw_analysis)).toContain('   2│     return int(s)');
  });
});
