import { Body, Controller, Get, Headers, Param, ParseIntPipe, Post, Put, Query, Req, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { yaml } from '../yaml-lazy';
import { AdminError } from '@mesher/contracts';
import { actorOf } from '../admin/actor';
import { parseYamlBody } from '../admin/route-rule-yaml';
import { ConfigService, versionOf } from './config.service';

const wantsYaml = (format: string | undefined, accept: string | undefined) =>
  format === 'yaml' || (format === undefined && /\b(application|text)\/(x-)?yaml\b/.test(accept ?? ''));

@ApiTags('config')
@Controller('v1')
export class ConfigController {
  constructor(private readonly config: ConfigService) {}

  /** The whole declarative configuration, as JSON or YAML (?format=yaml or Accept: application/yaml). */
  @Get('config')
  async export(@Query('format') format: string | undefined, @Headers('accept') accept: string | undefined, @Res() reply: FastifyReply) {
    if (format !== undefined && format !== 'yaml' && format !== 'json') throw new AdminError('INVALID', 'format must be yaml or json', [{ field: 'format', message: 'format must be yaml or json' }]);
    const cfg = await this.config.current();
    reply.header('etag', `"${versionOf(cfg)}"`);
    if (wantsYaml(format, accept)) return reply.type('application/yaml; charset=utf-8').send(yaml().stringify(cfg));
    return reply.type('application/json; charset=utf-8').send(cfg);
  }

  /** Applies a whole document, all or nothing; ?dryRun=true only validates and diffs. */
  @Put('config')
  apply(@Body() body: unknown, @Query('dryRun') dryRun: string | undefined, @Headers('if-match') ifMatch: string | undefined, @Req() req: FastifyRequest) {
    if (dryRun !== undefined && dryRun !== 'true' && dryRun !== 'false') throw new AdminError('INVALID', 'dryRun must be true or false', [{ field: 'dryRun', message: 'dryRun must be true or false' }]);
    return this.config.apply(parseYamlBody(body), actorOf(req), { dryRun: dryRun === 'true', ifMatch });
  }

  @Get('revisions')
  revisions(@Query('offset') offset = '0', @Query('limit') limit = '50') {
    const o = Number(offset);
    const l = Number(limit);
    if (!Number.isInteger(o) || o < 0) throw new AdminError('INVALID', 'offset must be a non-negative integer', [{ field: 'offset', message: 'offset must be a non-negative integer' }]);
    if (!Number.isInteger(l) || l < 1 || l > 500) throw new AdminError('INVALID', 'limit must be an integer from 1 to 500', [{ field: 'limit', message: 'limit must be an integer from 1 to 500' }]);
    return this.config.revisions(o, l);
  }

  @Get('revisions/:id')
  revision(@Param('id', ParseIntPipe) id: number) {
    return this.config.revision(id);
  }

  @Get('revisions/:a/diff/:b')
  diff(@Param('a', ParseIntPipe) a: number, @Param('b', ParseIntPipe) b: number) {
    return this.config.diff(a, b);
  }

  @Post('revisions/:id/rollback')
  rollback(@Param('id', ParseIntPipe) id: number, @Req() req: FastifyRequest) {
    return this.config.rollback(id, actorOf(req));
  }
}
