import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post, Put, Req, Res } from '@nestjs/common';
import { ApiBody, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { versionOf } from '../config-as-code/config.service';
import { actorOf } from './actor';
import { EdgeRulesService } from './edge-rules.service';

@ApiTags('edge')
@Controller('v1/ingress')
export class IngressController {
  constructor(private readonly rules: EdgeRulesService) {}

  @Get()
  list() {
    return this.rules.list('ingress');
  }

  @Post()
  @ApiBody({ schema: { type: 'object', example: { host: 'api.example.com', pathPrefix: '/cart', rewritePath: '/', service: 'cart' } } })
  create(@Body() body: unknown, @Req() req: FastifyRequest) {
    return this.rules.put('ingress', null, body, actorOf(req));
  }

  @Get(':id')
  async get(@Param('id') id: string, @Res({ passthrough: true }) reply: FastifyReply) {
    const r = await this.rules.get('ingress', id);
    reply.header('etag', `"${versionOf(r)}"`);
    return r;
  }

  @Put(':id')
  replace(@Param('id') id: string, @Body() body: unknown, @Req() req: FastifyRequest, @Headers('if-match') ifMatch?: string) {
    return this.rules.put('ingress', id, body, actorOf(req), ifMatch);
  }

  @Delete(':id')
  @HttpCode(204)
  remove(@Param('id') id: string, @Req() req: FastifyRequest) {
    return this.rules.remove('ingress', id, actorOf(req));
  }
}

@ApiTags('edge')
@Controller('v1/egress')
export class EgressController {
  constructor(private readonly rules: EdgeRulesService) {}

  @Get()
  list() {
    return this.rules.list('egress');
  }

  @Post()
  @ApiBody({ schema: { type: 'object', example: { host: 'api.partner.com', ports: [443], tls: true, policy: { timeout: { requestMs: 3000 } } } } })
  create(@Body() body: unknown, @Req() req: FastifyRequest) {
    return this.rules.put('egress', null, body, actorOf(req));
  }

  @Get(':id')
  async get(@Param('id') id: string, @Res({ passthrough: true }) reply: FastifyReply) {
    const r = await this.rules.get('egress', id);
    reply.header('etag', `"${versionOf(r)}"`);
    return r;
  }

  @Put(':id')
  replace(@Param('id') id: string, @Body() body: unknown, @Req() req: FastifyRequest, @Headers('if-match') ifMatch?: string) {
    return this.rules.put('egress', id, body, actorOf(req), ifMatch);
  }

  @Delete(':id')
  @HttpCode(204)
  remove(@Param('id') id: string, @Req() req: FastifyRequest) {
    return this.rules.remove('egress', id, actorOf(req));
  }
}
