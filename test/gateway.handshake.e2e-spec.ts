import { startTestDaemon, TestDaemon } from './support/daemon';
import { TestClient } from './support/ws-client';

describe('handshake (docs/protocol.md table)', () => {
  describe('with a token', () => {
    let daemon: TestDaemon;
    beforeAll(async () => {
      // Every failing case below comes from 127.0.0.1; the per-address backoff
      // after failed hellos has its own tests (unauthenticated-load.e2e-spec).
      daemon = await startTestDaemon({
        EXAI_WS_TOKEN: 's3cret',
        EXAI_WS_HELLO_TIMEOUT: '1',
        EXAI_WS_HELLO_FAILURES_BEFORE_BACKOFF: '1000',
      });
    });
    afterAll(() => daemon.close());

    it('closes 4002 when no frame arrives in time, sending nothing', async () => {
      const c = await TestClient.connect(daemon.url);
      const closed = await c.waitClose(3000);
      expect(closed).toEqual({ code: 4002, reason: 'hello timeout or disconnect' });
      expect(c.frames).toEqual([]);
    });

    it('answers invalid_hello and closes 4000 when the first frame is not JSON', async () => {
      const c = await TestClient.connect(daemon.url);
      c.send('{not json');
      expect(await c.next()).toEqual({ op: 'hello_ack', ok: false, error: 'invalid_hello' });
      expect(await c.waitClose()).toEqual({ code: 4000, reason: 'invalid hello' });
    });

    it.each([
      ['another op', { op: 'list_tools' }],
      ['no op', { token: 's3cret' }],
      ['a JSON array', [1, 2]],
      ['an unknown op', { op: 'helo' }],
    ])('answers missing_hello and closes 4001 for %s first', async (_label, frame) => {
      const c = await TestClient.connect(daemon.url);
      c.send(frame);
      expect(await c.next()).toEqual({ op: 'hello_ack', ok: false, error: 'missing_hello' });
      expect(await c.waitClose()).toEqual({ code: 4001, reason: 'missing hello' });
    });

    it.each([
      ['a wrong token', { op: 'hello', token: 'nope' }],
      ['a missing token', { op: 'hello' }],
      ['a prefix of the token', { op: 'hello', token: 's3cre' }],
      ['a wrong token of the same length', { op: 'hello', token: 's3creT' }],
    ])('answers unauthorized and closes 4003 for %s', async (_label, frame) => {
      const c = await TestClient.connect(daemon.url);
      c.send(frame);
      expect(await c.next()).toEqual({ op: 'hello_ack', ok: false, error: 'unauthorized' });
      expect(await c.waitClose()).toEqual({ code: 4003, reason: 'unauthorized' });
    });

    it('acks ok and honours a valid client session id', async () => {
      const c = await TestClient.connect(daemon.url);
      c.send({ op: 'hello', token: 's3cret', session_id: 'agent-1' });
      expect(await c.next()).toEqual({ op: 'hello_ack', ok: true, session_id: 'agent-1' });
      c.close();
    });

    it('issues a fresh UUID when the session id is absent or malformed', async () => {
      for (const session_id of [undefined, 'has space', 'x'.repeat(129), '']) {
        const c = await TestClient.connect(daemon.url);
        c.send({ op: 'hello', token: 's3cret', session_id });
        const ack = await c.next();
        expect(ack.ok).toBe(true);
        expect(ack.session_id).toMatch(/^[0-9a-f-]{36}$/);
        c.close();
      }
    });

    it('processes frames sent right behind the hello, in the same tick', async () => {
      const c = await TestClient.connect(daemon.url);
      c.ws.send(JSON.stringify({ op: 'hello', token: 's3cret' }));
      c.ws.send(JSON.stringify({ op: 'list_tools', request_id: 'l1' }));
      expect((await c.next()).op).toBe('hello_ack');
      expect((await c.next()).op).toBe('list_tools_res');
      c.close();
    });

    it('rotates the token: the old one stops working, the new one works', async () => {
      const c = await TestClient.ready(daemon.url, { token: 's3cret' });
      c.send({ op: 'rotate_token', old: 'wrong', new: 'x' });
      expect(await c.next()).toEqual({ op: 'rotate_token_res', ok: false, error: 'unauthorized' });
      c.send({ op: 'rotate_token', old: 'S3cret', new: 'x' });
      expect(await c.next()).toEqual({ op: 'rotate_token_res', ok: false, error: 'unauthorized' });
      c.send({ op: 'rotate_token', old: 's3cret', new: '' });
      expect(await c.next()).toEqual({ op: 'rotate_token_res', ok: false, error: 'missing_params' });
      c.send({ op: 'rotate_token', old: 's3cret', new: 'n3w' });
      expect(await c.next()).toEqual({ op: 'rotate_token_res', ok: true });
      await expect(TestClient.ready(daemon.url, { token: 's3cret' })).rejects.toThrow(/unauthorized/);
      const fresh = await TestClient.ready(daemon.url, { token: 'n3w' });
      fresh.send({ op: 'rotate_token', old: 'n3w', new: 's3cret' });
      expect(await fresh.next()).toEqual({ op: 'rotate_token_res', ok: true });
      fresh.close();
      c.close();
    });
  });

  describe('without a token (auth disabled, loopback)', () => {
    let daemon: TestDaemon;
    beforeAll(async () => {
      daemon = await startTestDaemon({ EXAI_WS_TOKEN: '' });
    });
    afterAll(() => daemon.close());

    it('accepts any token', async () => {
      const c = await TestClient.ready(daemon.url, { token: 'anything' });
      c.close();
    });

    it('never turns authentication on over the wire (a web page could lock every agent out)', async () => {
      const c = await TestClient.ready(daemon.url);
      c.send({ op: 'rotate_token', old: 'x', new: 'y' });
      expect(await c.next()).toEqual({ op: 'rotate_token_res', ok: false, error: 'unauthorized' });
      c.send({ op: 'rotate_token', old: '', new: 'now-set' });
      expect(await c.next()).toEqual({ op: 'rotate_token_res', ok: false, error: 'missing_params' });
      const other = await TestClient.ready(daemon.url, { token: 'other' });
      other.close();
      c.close();
    });
  });
});
