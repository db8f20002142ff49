import { Global, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { HttpAccessService } from './http-access.service';
import { HttpHostMiddleware } from './http-host.middleware';
import { OperatorAuthGuard } from './operator-auth.guard';

/** Global: health and metrics controllers use OperatorAuthGuard without importing this module. */
@Global()
@Module({
  providers: [HttpAccessService, OperatorAuthGuard],
  exports: [HttpAccessService, OperatorAuthGuard],
})
export class HttpModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(HttpHostMiddleware).forRoutes('{*path}');
  }
}
