#!/usr/bin/env node
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { ExaiClient } from '../client/exai-client';
import { ClientConfigError, readClientConfig } from '../client/client.config';
import { McpBridge } from './mcp-bridge';

// stdout carries MCP and nothing else: every log line goes to stderr.
const log = (message: string) => process.stderr.write(`[exai-mcp] ${message}\n`);

async function main(): Promise<void> {
  const config = readClientConfig(process.env);
  const client = new ExaiClient({ ...config, reconnect: true, log });
  const bridge = new McpBridge(client, log);
  await bridge.start(new StdioServerTransport());
  log(`Bridging MCP on stdio to ${config.url}`);
  const stop = () => {
    void bridge.close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.stdin.once('end', stop);
}

main().catch((err: unknown) => {
  log(err instanceof ClientConfigError ? err.message : `Failed to start: ${(err as Error)?.stack ?? String(err)}`);
  process.exit(1);
});
