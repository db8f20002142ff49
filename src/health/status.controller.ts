import { Controller, Get, Header } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OperatorOnly } from '../http/operator-only.decorator';

/**
 * Serves the live status page, a static file that polls `/health` from the
 * browser. Read once: it never changes while the daemon runs, and polling
 * pages request it often.
 */
@Controller()
export class StatusController {
  private readonly html = readFileSync(join(__dirname, 'status.html'), 'utf8');

  // Returning the string (instead of writing to @Res) keeps Express types out
  // and lets Nest send it with the headers below.
  @Get(['status', 'status/'])
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  // The page may carry ?token=; no Referer may take it elsewhere.
  @Header('Referrer-Policy', 'no-referrer')
  @OperatorOnly({ queryToken: true })
  show(): string {
    return this.html;
  }
}
