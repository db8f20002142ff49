import { Test } from '@nestjs/testing';
import { DiscoveryService } from '@nestjs/core';
import { GatewayAuthService } from '../src/auth/gateway-auth.service';
import { parseWsFrame } from '../src/gateway/ws-message.parser';
import { LlmProviderRegistry } from '../src/providers/llm-provider-registry.service';
import { ToolRegistryService } from '../src/tools/tool-registry.service';
import { InvalidArgumentsError, InvalidToolDefinitionError, ToolNotFoundError } from '../src/tools/tools.errors';

describe('parseWsFrame', () => {
  it('maps client ops to their handler events and keeps the frame', () => {
    expect(parseWsFrame('{"op":"list_tools","request_id":"x"}')).toEqual({
      event: 'list_tools',
      data: { op: 'list_tools', request_id: 'x' },
    });
  });

  it('reads Buffer, ArrayBuffer and fragmented frames', () => {
    const text = '{"op":"health"}';
    expect(parseWsFrame(Buffer.from(text)).event).toBe('health');
    expect(parseWsFrame(new Uint8Array(Buffer.from(text)).buffer).event).toBe('health');
    expect(parseWsFrame([Buffer.from('{"op":'), Buffer.from('"health"}')]).event).toBe('health');
  });

  it('never throws and never returns nothing', () => {
    for (const raw of ['', ' ', '\u0000', '{', '1', 'true', '{"op":null}', Buffer.from([0xff, 0xfe])]) {
      const parsed = parseWsFrame(raw);
      expect(parsed).toBeDefined();
      expect(parsed.event).toBe('$invalid');
    }
  });
});

describe('GatewayAuthService', () => {
  it('accepts only the exact token', () => {
    const auth = new GatewayAuthService('abc');
    expect(auth.accepts('abc')).toBe(true);
    for (const wrong of ['', undefined, 'ab', 'abcd', 'ABC']) expect(auth.accepts(wrong)).toBe(false);
  });

  it('accepts anything when auth is disabled', () => {
    const auth = new GatewayAuthService('');
    expect(auth.accepts(undefined)).toBe(true);
    expect(auth.accepts('x')).toBe(true);
  });

  it('rotates only with the current token and non-empty params', () => {
    const auth = new GatewayAuthService('abc');
    expect(auth.rotate('', 'n')).toEqual({ ok: false, error: 'missing_params' });
    expect(auth.rotate('abc', '')).toEqual({ ok: false, error: 'missing_params' });
    expect(auth.rotate('nope', 'n')).toEqual({ ok: false, error: 'unauthorized' });
    expect(auth.rotate('abc', 'n')).toEqual({ ok: true });
    expect(auth.accepts('n')).toBe(true);
    expect(auth.accepts('abc')).toBe(false);
  });

  it('with auth disabled, never turns it on: an empty old token is missing_params', () => {
    const auth = new GatewayAuthService('');
    expect(auth.rotate('', 'n')).toEqual({ ok: false, error: 'missing_params' });
    expect(auth.rotate('x', 'n')).toEqual({ ok: false, error: 'unauthorized' });
    expect(auth.authEnabled).toBe(false);
    expect(auth.accepts(undefined)).toBe(true);
  });
});

describe('ToolRegistryService', () => {
  async function make() {
    const discovery = { getProviders: () => [], getMetadataByDecorator: () => undefined };
    const moduleRef = await Test.createTestingModule({
      providers: [
        ToolRegistryService,
        { provide: DiscoveryService, useValue: discovery },
        // No provider serves a model: these tests are about names and arguments.
        { provide: LlmProviderRegistry, useValue: { catalogue: () => [] } },
      ],
    }).compile();
    return moduleRef.get(ToolRegistryService);
  }
  const execute = () => Promise.resolve({ content: '' });
  const schema = { type: 'object', properties: { n: { type: 'integer', default: 3 } }, additionalProperties: false };

  it('refuses duplicate names, handlers without execute and schemas that do not compile', async () => {
    const reg = await make();
    reg.register({ name: 't', description: '', inputSchema: schema }, { execute });
    expect(() => reg.register({ name: 't', description: '', inputSchema: schema }, { execute })).toThrow(
      InvalidToolDefinitionError,
    );
    expect(() => reg.register({ name: 'u', description: '', inputSchema: schema }, {})).toThrow(/no execute/);
    expect(() => reg.register({ name: 'v', description: '', inputSchema: { type: 'nonsense' } }, { execute })).toThrow(
      /does not compile/,
    );
  });

  it('strips one transport suffix and reports the original name when unknown', async () => {
    const reg = await make();
    reg.register({ name: 'chat', description: '', inputSchema: schema }, { execute });
    expect(reg.resolve('chat_EXAI-WS').name).toBe('chat');
    expect(() => reg.resolve('chat_EXAI-WS_EXAI-WS')).toThrow(ToolNotFoundError);
    expect(() => reg.resolve('chat_EXAI-WS_EXAI-WS')).toThrow('Unknown tool: chat_EXAI-WS_EXAI-WS');
  });

  it('validates a copy of the arguments and fills defaults', async () => {
    const reg = await make();
    reg.register({ name: 't', description: '', inputSchema: schema }, { execute });
    const tool = reg.resolve('t');
    const input = {};
    expect(reg.validateArguments(tool, input)).toEqual({ n: 3 });
    expect(input).toEqual({});
    expect(() => reg.validateArguments(tool, { n: 'x', extra: 1 })).toThrow(InvalidArgumentsError);
  });
});
