import { Global, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { HttpAccessService } from './http-access.service';
import { HttpHostMiddleware } from './http-host.middleware';
import { HttpRequestLogMiddleware } from './http-request-log.middleware';
import { OperatorAuthGuard } from './operator-auth.guard';

/** Global: health and metrics controllers use OperatorAuthGuard without importing this module. */
@Global()
@Module({
  providers: [HttpAccessService, OperatorAuthGuard],
  exports: [HttpAccessService, OperatorAuthGuard],
})
export class HttpModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    // The request line first, so a request the Host check refuses is logged too.
    consumer.apply(HttpRequestLogMiddleware, HttpHostMiddleware).forRoutes('{*path}');
  }
}
