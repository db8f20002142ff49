import { IsString, Matches } from 'class-validator';

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * The address every front door listens on. Its own class so that features
 * whose defaults depend on it (file roots) read it without depending on the
 * gateway; GatewayEnv extends it.
 */
export class ListenHostEnv {
  @IsString()
  @Matches(/^[^\s]+$/, { message: 'must be a host name or address' })
  EXAI_WS_HOST = '127.0.0.1';
}
