import type { IncomingMessage } from 'node:http';
import { ClientAddressService } from '../src/gateway/client-address.service';
import { GatewayEnv, toGatewayConfig } from '../src/gateway/gateway.config';
import { ConfigValidationError, parseEnv } from '../src/config/validate-config';

const service = (trusted: string) =>
  new ClientAddressService(toGatewayConfig(parseEnv(GatewayEnv, { EXAI_TRUSTED_PROXIES: trusted })));

const request = (peer: string | undefined, xff?: string | string[]) =>
  ({
    socket: { remoteAddress: peer },
    headers: xff === undefined ? {} : { 'x-forwarded-for': xff },
  }) as unknown as IncomingMessage;

describe('ClientAddressService: the address per-address bounds are keyed by', () => {
  it('is the socket peer, whatever X-Forwarded-For says, when no proxy is trusted', () => {
    expect(service('').of(request('203.0.113.9', '198.51.100.1'))).toBe('203.0.113.9');
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', () => {
    expect(service('10.0.0.5').of(request('203.0.113.9', '198.51.100.1'))).toBe('203.0.113.9');
  });

  it('behind a trusted proxy, is the address the proxy appended', () => {
    expect(service('10.0.0.5').of(request('10.0.0.5', '198.51.100.1'))).toBe('198.51.100.1');
  });

  it('reads right to left, so a client cannot choose its address by sending its own header', () => {
    // The client wrote "1.2.3.4"; the proxy appended the address it saw.
    expect(service('10.0.0.5').of(request('10.0.0.5', '1.2.3.4, 198.51.100.1'))).toBe('198.51.100.1');
  });

  it('skips every trusted hop of a proxy chain, by CIDR range, across repeated headers', () => {
    const chain = service('10.0.0.0/8, 192.168.1.1');
    expect(chain.of(request('10.1.2.3', ['1.2.3.4, 198.51.100.1', '192.168.1.1, 10.9.9.9']))).toBe('198.51.100.1');
  });

  it('treats an IPv4 peer on a dual-stack socket as its IPv4 address, and handles IPv6 ranges', () => {
    expect(service('10.0.0.5').of(request('::ffff:10.0.0.5', '::ffff:198.51.100.1'))).toBe('198.51.100.1');
    expect(service('fd00::/8').of(request('fd00::7', '2001:db8::1'))).toBe('2001:db8::1');
    expect(service('').of(request('::ffff:203.0.113.9'))).toBe('203.0.113.9');
  });

  it('stops at a malformed hop, or when every hop is trusted, and keeps the proxy’s own address', () => {
    const s = service('10.0.0.5');
    expect(s.of(request('10.0.0.5', '198.51.100.1, not-an-ip'))).toBe('10.0.0.5');
    expect(s.of(request('10.0.0.5', '10.0.0.5'))).toBe('10.0.0.5');
    expect(s.of(request('10.0.0.5'))).toBe('10.0.0.5');
    expect(s.of(request(undefined))).toBe('unknown');
  });

  it('refuses at boot an entry that is not an address or CIDR range, naming it', () => {
    for (const bad of ['haproxy', '10.0.0.0/33', '10.0.0.1/8/2', '::1/129', '10.0.0.0/x']) {
      expect(() => parseEnv(GatewayEnv, { EXAI_TRUSTED_PROXIES: bad })).toThrow(ConfigValidationError);
      expect(() => parseEnv(GatewayEnv, { EXAI_TRUSTED_PROXIES: bad })).toThrow(/EXAI_TRUSTED_PROXIES/);
    }
    expect(toGatewayConfig(parseEnv(GatewayEnv, { EXAI_TRUSTED_PROXIES: ' 10.0.0.0/8 ,::1 ' })).trustedProxies).toEqual(
      ['10.0.0.0/8', '::1'],
    );
  });
});
