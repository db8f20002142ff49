import type { SimDirectives } from './simulator.directives';
import type { SimExchange } from './simulator.exchange';
import type { CompletionPlan } from './simulator.planning';
import type { ResponseDialect } from './simulator.responses';
import { splitWords } from './simulator.text';
import type { SimLatency } from './simulator.types';

/** Frames a `[[sim:drop]]` stream delivers before the cut. */
const DROP_AFTER_FRAMES = 2;

/** How one planned completion goes out: in the provider's dialect, at these latencies, with these faults. */
export interface Delivery {
  ex: SimExchange;
  dialect: ResponseDialect;
  latency: SimLatency;
  directives: SimDirectives;
  plan: CompletionPlan;
}

/** A non-streamed answer: one JSON document after the whole generation time. */
export async function sendCompletion({ ex, dialect, latency, directives: d, plan }: Delivery): Promise<void> {
  const c = plan.completion;
  const wait =
    latency.ttftMs +
    (c.reasoning ? latency.thinkingMs : 0) +
    (plan.searched ? latency.webSearchMs : 0) +
    latency.interTokenMs * splitWords(c.content).length;
  if (!(await ex.sleep(wait))) return;
  const headers = { 'Content-Type': dialect.jsonContentType, ...plan.headers };
  const json = JSON.stringify(dialect.body(c));
  // Cut mid-document, the way a proxy that gave up would.
  ex.sendBody(200, d.malformed ? json.slice(0, Math.max(1, Math.floor(json.length / 2))) : json, headers);
}

/**
 * A streamed answer: SSE frames paced like the provider (first token after
 * TTFT, reasoning spread over the thinking time, then one word per token
 * interval), with the stall, drop, malformed and missing-finish faults.
 */
export async function streamCompletion(delivery: Delivery, toolStream: boolean): Promise<void> {
  const { ex, dialect, latency: lat, directives: d, plan } = delivery;
  const c = plan.completion;
  const steps = dialect.steps(c, { toolStream, withFinish: !d.noFinish });
  const reasoningSteps = steps.filter((s) => s.phase === 'reasoning').length;
  ex.startStream(200, { 'Content-Type': dialect.streamContentType, 'Cache-Control': 'no-cache', ...plan.headers });

  let sent = 0;
  let firstToken = true;
  let last: Promise<void> = Promise.resolve();
  const interrupt = async (): Promise<boolean> => {
    if (d.stallAfter !== undefined && sent >= d.stallAfter) {
      await ex.untilClosed();
      return true;
    }
    if (d.drop && sent >= DROP_AFTER_FRAMES) {
      await last;
      ex.cut();
      return true;
    }
    return false;
  };
  for (const step of steps) {
    let wait = 0;
    if (step.phase !== 'head' && step.phase !== 'final') {
      if (firstToken) {
        wait = lat.ttftMs + (plan.searched ? lat.webSearchMs : 0);
        firstToken = false;
      } else {
        wait = step.phase === 'reasoning' ? lat.thinkingMs / reasoningSteps : lat.interTokenMs;
      }
    }
    if (!(await ex.sleep(wait))) return;
    if (await interrupt()) return;
    last = ex.write(`data: ${JSON.stringify(step.frame)}\n\n`);
    sent += 1;
    if (d.malformed && sent === 1) {
      last = ex.write(`data: {"id":"${c.id}","choices":[{"index":0,"delta":{"content":"unterminated\n\n`);
    }
  }
  if (await interrupt()) return;
  ex.end('data: [DONE]\n\n');
}

/** Latencies of a request that arrived at a busy provider (simulator.capacity.ts). */
export function stretched(lat: SimLatency, by: number): SimLatency {
  if (by === 1) return lat;
  return {
    ttftMs: lat.ttftMs * by,
    interTokenMs: lat.interTokenMs * by,
    thinkingMs: lat.thinkingMs * by,
    webSearchMs: lat.webSearchMs * by,
  };
}
