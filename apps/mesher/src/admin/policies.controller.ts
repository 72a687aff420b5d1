import { Body, Controller, Delete, Get, HttpCode, Param, Put, Req } from '@nestjs/common';
import { ApiBody, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { actorOf } from './actor';
import { PoliciesService } from './policies.service';

@ApiTags('policies')
@Controller('v1/policies')
export class PoliciesController {
  constructor(private readonly policies: PoliciesService) {}

  @Get()
  list() {
    return this.policies.list();
  }

  @Get(':service')
  get(@Param('service') service: string) {
    return this.policies.get(service);
  }

  @Put(':service')
  @ApiBody({
    schema: {
      type: 'object',
      example: { loadBalancer: { strategy: 'RoundRobin' }, timeout: { requestMs: 5000 }, retry: { attempts: 3 }, rateLimit: { requestsPerSecond: 100 } },
    },
  })
  put(@Param('service') service: string, @Body() body: unknown, @Req() req: FastifyRequest) {
    return this.policies.put(service, body, actorOf(req));
  }

  @Delete(':service')
  @HttpCode(204)
  remove(@Param('service') service: string, @Req() req: FastifyRequest) {
    return this.policies.remove(service, actorOf(req));
  }
}
