import { type DynamicModule, Module } from '@nestjs/common';
import { DetectController } from './detect.controller';
import { DetectGateway } from './detect.gateway';
import { EDGE_CONTEXT, type EdgeContext } from './edge-context';
import { edgeProviders, EdgeService } from './edge.service';
import { HealthController } from './health.controller';
import { JobsController } from './jobs.controller';
import { ModelsController } from './models.controller';

@Module({})
export class EdgeModule {
  static forRoot(ctx: EdgeContext): DynamicModule {
    return {
      module: EdgeModule,
      controllers: [HealthController, DetectController, ModelsController, JobsController],
      providers: [{ provide: EDGE_CONTEXT, useValue: ctx }, ...edgeProviders, EdgeService, DetectGateway],
    };
  }
}
