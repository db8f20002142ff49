import type { TestClient } from './ws-client';

/**
 * Sends 20 gated calls, each followed at once by its cancel, so every cancel
 * is handled while its call is still being planned; each call must end
 * CANCELLED and no cancel may be answered `unknown_request`.
 */
export async function expectCancelsBehindCallsLand(c: TestClient): Promise<void> {
  const ids = Array.from({ length: 20 }, (_, i) => `early-${i}`);
  for (const id of ids) {
    c.send({
      op: 'call_tool',
      request_id: id,
      name: 'test_gate',
      arguments: { gate: `never-${id}`, timeout_secs: 5 },
    });
    c.send({ op: 'cancel', request_id: id });
  }
  for (const id of ids) expect((await c.result(id, 15_000)).error).toMatchObject({ code: 'CANCELLED' });
  c.send({ op: 'list_tools', request_id: 'flush' });
  await c.next((f) => f.request_id === 'flush');
  expect((await c.quietFor(0)).filter((f) => f.op === 'error')).toEqual([]);
}
