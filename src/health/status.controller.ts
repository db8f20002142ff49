import { Controller, Get, Header, Redirect } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OperatorOnly } from '../http/operator-only.decorator';

const FAVICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">' +
  '<rect width="32" height="32" rx="7" fill="#2f6fde"/>' +
  '<path d="M9 8h14v3.5H13v3h9v3.5h-9v3h10V24H9z" fill="#fff"/></svg>';

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

  /** A browser pointed at the daemon lands on the page a person wants. */
  @Get()
  @Redirect('/status', 302)
  root(): void {
    return undefined;
  }

  /** Browsers ask for it on every page view; without it each view logs a 404. SVG, which they accept here. */
  @Get(['favicon.ico', 'favicon.svg'])
  @Header('Content-Type', 'image/svg+xml')
  @Header('Cache-Control', 'public, max-age=86400')
  favicon(): string {
    return FAVICON_SVG;
  }
}
