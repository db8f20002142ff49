import { ActivityService } from '../src/activity/activity.service';

const event = (i: number, session = 's1') => ({
  session_id: session,
  request_id: `r${i}`,
  tool: 'chat',
  outcome: 'success',
  admitted: true,
  duration_ms: i,
});

describe('ActivityService', () => {
  const make = (maxEvents: number, maxBytes: number, scope: 'session' | 'global' = 'session') =>
    new ActivityService({ maxEvents, maxBytes, scope });

  it('keeps at most maxEvents, dropping the oldest', () => {
    const ring = make(10, 1_000_000);
    for (let i = 0; i < 25; i++) ring.record(event(i), 1000 + i);
    expect(ring.size.events).toBe(10);
    expect(ring.recent({ sessionId: 's1', limit: 100 }).map((e) => e.event.request_id)).toEqual(
      Array.from({ length: 10 }, (_, i) => `r${15 + i}`),
    );
  });

  it('stamps each event with its exact ISO time, across second, minute and day boundaries', () => {
    const ring = make(100, 1_000_000);
    const day = Date.UTC(2026, 11, 1, 23, 59, 59);
    const times = [day + 998, day + 999, day + 1000, day + 1001, day + 1001, day + 61_000, day + 60_999, 0, 7];
    times.forEach((t, i) => ring.record(event(i), t));
    const stamps = ring.recent({ sessionId: 's1', limit: 100 }).map((e) => e.event.at);
    expect(stamps).toEqual(times.map((t) => new Date(t).toISOString()));
  });

  it('keeps its lines within maxBytes', () => {
    const ring = make(100_000, 4096);
    for (let i = 0; i < 1000; i++) ring.record(event(i), 1000 + i);
    expect(ring.size.bytes).toBeLessThanOrEqual(4096);
    const kept = ring.recent({ sessionId: 's1', limit: 100_000 });
    expect(kept.reduce((n, e) => n + Buffer.byteLength(e.line), 0)).toBe(ring.size.bytes);
    expect(kept.at(-1)!.event.request_id).toBe('r999');
  });

  it('shows a session only its own events unless the scope is global, and honours since/until', () => {
    for (const scope of ['session', 'global'] as const) {
      const ring = make(100, 1_000_000, scope);
      ring.record(event(1, 'a'), 1000);
      ring.record(event(2, 'b'), 2000);
      ring.record(event(3, 'a'), 3000);
      const seen = ring.recent({ sessionId: 'a', limit: 10 }).map((e) => e.event.request_id);
      expect([scope, seen]).toEqual([scope, scope === 'session' ? ['r1', 'r3'] : ['r1', 'r2', 'r3']]);
      expect(
        ring.recent({ sessionId: 'a', limit: 10, since: 1500, until: 3000 }).map((e) => e.event.request_id),
      ).toEqual(scope === 'session' ? ['r3'] : ['r2', 'r3']);
    }
  });

  it('writes each line as tool, outcome, provider and model when known, duration, admission and ids', () => {
    const ring = make(10, 1_000_000);
    const at = Date.UTC(2026, 11, 2, 3, 4, 5, 67);
    ring.record({ ...event(1), provider: 'GLM', model: 'glm-4.6', admitted: false, duration_ms: 0 }, at);
    ring.record({ ...event(2), outcome: 'CANCELLED', duration_ms: 12 }, at);
    expect(ring.recent({ sessionId: 's1', limit: 10 }).map((e) => e.line)).toEqual([
      '2026-12-02T03:04:05.067Z tool=chat outcome=success provider=GLM model=glm-4.6 duration_ms=0 admitted=false request_id=r1 session=s1',
      '2026-12-02T03:04:05.067Z tool=chat outcome=CANCELLED duration_ms=12 admitted=true request_id=r2 session=s1',
    ]);
  });
});
