import { Global, Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { LoggerModule } from 'nestjs-pino';
import type { Options } from 'pino-http';
import { CallLogService } from './call-log.service';
import { LogDestination } from './log-destination';
import { loggingConfig } from './logging.config';
import { REDACTED_PATHS } from './logging.constants';
import { requestLogFields, responseLogFields } from './http-log.serializers';

/** Global, as nestjs-pino's own module is: every feature that ends calls writes the call line. */
@Global()
@Module({
  providers: [CallLogService],
  exports: [CallLogService],
  imports: [
    LoggerModule.forRootAsync({
      imports: [],
      providers: [LogDestination],
      inject: [loggingConfig.KEY, LogDestination],
      useFactory: (config: ConfigType<typeof loggingConfig>, destination: LogDestination) => {
        const options: Options = {
          level: config.level,
          redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
          serializers: { req: requestLogFields, res: responseLogFields },
          transport:
            config.format === 'pretty'
              ? {
                  target: 'pino-pretty',
                  options: {
                    singleLine: true,
                    translateTime: 'SYS:HH:MM:ss.l',
                    ignore: 'pid,hostname,context',
                    messageFormat: '{if context}[{context}] {end}{msg}',
                  },
                }
              : undefined,
        };
        return {
          pinoHttp: destination.stream ? [options, destination.stream] : options,
          // No per-request middleware: HttpRequestLogMiddleware (src/http) writes the request line.
          // nestjs-pino's would add two child loggers and an AsyncLocalStorage context per request.
          forRoutes: [],
        };
      },
    }),
  ],
})
export class LoggingModule {}
