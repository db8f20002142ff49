import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller';
import { HealthService } from './health.service';
import { StatusController } from './status.controller';

@Module({
  imports: [DiscoveryModule, TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController, StatusController],
  providers: [HealthService],
  exports: [HealthService, TerminusModule],
})
export class HealthModule {}
