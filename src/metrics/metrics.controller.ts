import { Controller, Get, Header, Res } from '@nestjs/common';
import { OperatorOnly } from '../http/operator-only.decorator';
import { MetricsService } from './metrics.service';

/** The slice of the HTTP response this controller uses. */
interface PlainResponse {
  setHeader(name: string, value: string): void;
  send(body: string): void;
}

@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @Header('Cache-Control', 'no-store')
  @OperatorOnly()
  async scrape(@Res() res: PlainResponse): Promise<void> {
    const body = await this.metrics.render();
    res.setHeader('Content-Type', this.metrics.contentType);
    res.send(body);
  }
}
