import { Body, Controller, Get, Header, Param, Post, Put, Req } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { AdminError } from '@mesher/contracts';
import { SnapshotHolder } from '@mesher/registry';
import { MESHER_VERSION } from '../version';
import { actorOf } from './actor';
import { chassisRulesToNative, parseYamlBody, routeRulesFromDocument, rulesToYaml, serviceKey } from './route-rule-yaml';
import { RoutesService } from './routes.service';

/** ServiceComb Mesher's admin endpoints and routeRule YAML, kept for tools and files that use them. */
@ApiTags('servicecomb-compat')
@Controller('v1/mesher')
export class MesherCompatController {
  constructor(
    private readonly holder: SnapshotHolder,
    private readonly routes: RoutesService,
  ) {}

  @Get('version')
  version() {
    return { version: MESHER_VERSION, name: 'mesher', runtime: `node ${process.version}` };
  }

  @Get('health')
  health() {
    const s = this.holder.current;
    return { status: 'UP', revision: s.revision, services: s.services.size };
  }

  @Get('routeRule/:service')
  @Header('content-type', 'application/yaml; charset=utf-8')
  async getRouteRule(@Param('service') service: string) {
    return rulesToYaml(await this.routes.list(serviceKey(service)));
  }

  @Put('routeRule/:service')
  async putRouteRule(@Param('service') service: string, @Body() body: unknown, @Req() req: FastifyRequest) {
    const list = parseYamlBody(body);
    if (!Array.isArray(list)) throw new AdminError('INVALID', 'body must be a YAML list of rules', [{ field: 'body', message: 'body must be a list of rules' }]);
    return this.routes.replaceForServices(chassisRulesToNative(new Map([[serviceKey(service), list]])), actorOf(req));
  }

  @Post('routeRule')
  async importRouterYaml(@Body() body: unknown, @Req() req: FastifyRequest) {
    return this.routes.replaceForServices(routeRulesFromDocument(parseYamlBody(body)), actorOf(req));
  }
}
