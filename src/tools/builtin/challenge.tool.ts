import { Injectable } from '@nestjs/common';
import { ExaiTool } from '../exai-tool.decorator';
import type { ExaiToolHandler, PreparedCall, ToolResult } from '../tool.types';

/**
 * Makes the agent re-examine a statement instead of agreeing with it. No model
 * call: the answer is an instruction the calling agent follows itself.
 */
@ExaiTool({
  name: 'challenge',
  description:
    'Use when a claim or a correction should be checked rather than accepted: returns the statement wrapped in an instruction to ' +
    're-examine it critically (no model call).',
  inputSchema: {
    type: 'object',
    properties: {
      prompt: {
        type: 'string',
        minLength: 1,
        description:
          'The statement to re-examine, usually what the user just said or what you were about to agree with.',
      },
    },
    required: ['prompt'],
  },
  cacheable: false,
})
@Injectable()
export class ChallengeTool implements ExaiToolHandler {
  prepare(args: Record<string, unknown>): PreparedCall {
    return { args, local: true };
  }

  execute(args: Record<string, unknown>): Promise<ToolResult> {
    const statement = String(args.prompt);
    const body = {
      original_statement: statement,
      challenge_prompt:
        'Before you answer, do not simply agree. Look at the following statement on its merits: is it correct, is it complete, ' +
        'and what evidence supports or contradicts it? If it holds, say so and why; if it does not, say what is wrong and what ' +
        `is true instead.\n\nStatement: ${statement}`,
      instructions:
        'Work through the challenge_prompt yourself and answer from your own assessment, even if that means disagreeing with the user.',
    };
    return Promise.resolve({
      content: JSON.stringify(body),
      contentType: 'json',
      metadata: { tool_name: 'challenge' },
    });
  }
}
