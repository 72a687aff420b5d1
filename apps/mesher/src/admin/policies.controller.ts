import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Put, Req, Res } from '@nestjs/common';
import { ApiBody, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { versionOf } from '../config-as-code/config.service';
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
  async get(@Param('service') service: string, @Res({ passthrough: true }) reply: FastifyReply) {
    const p = await this.policies.get(service);
    reply.header('etag', `"${versionOf(p.spec)}"`);
    return p;
  }

  @Put(':service')
  @ApiBody({
    schema: {
      type: 'object',
      example: { loadBalancer: { strategy: 'RoundRobin' }, timeout: { requestMs: 5000 }, retry: { attempts: 3 }, rateLimit: { requestsPerSecond: 100 } },
    },
  })
  put(@Param('service') service: string, @Body() body: unknown, @Req() req: FastifyRequest, @Headers('if-match') ifMatch?: string) {
    return this.policies.put(service, body, actorOf(req), ifMatch);
  }

  @Delete(':service')
  @HttpCode(204)
  remove(@Param('service') service: string, @Req() req: FastifyRequest, @Headers('if-match') ifMatch?: string) {
    return this.policies.remove(service, actorOf(req), ifMatch);
  }
}
