import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post, Put, Query, Req, Res } from '@nestjs/common';
import { ApiBody, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { versionOf } from '../config-as-code/config.service';
import { actorOf } from './actor';
import { RoutesService } from './routes.service';

const RULE_EXAMPLE = {
  service: 'cart',
  precedence: 10,
  match: { headers: { 'x-canary': { exact: 'yes' } } },
  route: [
    { tags: { version: '2.0.0' }, weight: 90 },
    { tags: { version: '1.0.0' }, weight: 10 },
  ],
};

@ApiTags('routes')
@Controller('v1/routes')
export class RoutesController {
  constructor(private readonly routes: RoutesService) {}

  @Get()
  list(@Query('service') service?: string) {
    return this.routes.list(service || undefined);
  }

  @Post()
  @ApiBody({ schema: { type: 'object', example: RULE_EXAMPLE } })
  create(@Body() body: unknown, @Req() req: FastifyRequest) {
    return this.routes.create(body, actorOf(req));
  }

  @Get(':id')
  async get(@Param('id') id: string, @Res({ passthrough: true }) reply: FastifyReply) {
    const rule = await this.routes.get(id);
    reply.header('etag', `"${versionOf(rule)}"`);
    return rule;
  }

  @Put(':id')
  @ApiBody({ schema: { type: 'object', example: RULE_EXAMPLE } })
  replace(@Param('id') id: string, @Body() body: unknown, @Req() req: FastifyRequest, @Headers('if-match') ifMatch?: string) {
    return this.routes.replace(id, body, actorOf(req), ifMatch);
  }

  @Delete(':id')
  @HttpCode(204)
  remove(@Param('id') id: string, @Req() req: FastifyRequest, @Headers('if-match') ifMatch?: string) {
    return this.routes.remove(id, actorOf(req), ifMatch);
  }
}
