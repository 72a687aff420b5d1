import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post, Put, Req, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { versionOf } from '../config-as-code/config.service';
import { actorOf } from './actor';
import { CreateServiceDto } from './dto/create-service.dto';
import { RegisterInstanceDto } from './dto/register-instance.dto';
import { UpdateInstanceDto } from './dto/update-instance.dto';
import { ServicesService } from './services.service';

@ApiTags('services')
@Controller('v1/services')
export class ServicesController {
  constructor(private readonly services: ServicesService) {}

  @Get()
  list() {
    return this.services.list();
  }

  @Post()
  create(@Body() dto: CreateServiceDto, @Req() req: FastifyRequest) {
    return this.services.create({ name: dto.name, app: dto.app ?? null, description: dto.description ?? null }, actorOf(req));
  }

  @Get(':name')
  async get(@Param('name') name: string) {
    const { instanceList, ...summary } = await this.services.get(name);
    return { ...summary, instances: instanceList, counts: summary.instances };
  }

  @Delete(':name')
  @HttpCode(204)
  remove(@Param('name') name: string, @Req() req: FastifyRequest) {
    return this.services.remove(name, actorOf(req));
  }

  @Get(':name/instances')
  instances(@Param('name') name: string) {
    return this.services.listInstances(name);
  }

  @Post(':name/instances')
  register(@Param('name') name: string, @Body() dto: RegisterInstanceDto, @Req() req: FastifyRequest) {
    return this.services.register(name, dto, actorOf(req));
  }

  @Get(':name/instances/:id')
  async instance(@Param('name') name: string, @Param('id') id: string, @Res({ passthrough: true }) reply: FastifyReply) {
    const inst = await this.services.getInstance(name, id);
    reply.header('etag', `"${versionOf(inst)}"`);
    return inst;
  }

  @Put(':name/instances/:id')
  update(
    @Param('name') name: string,
    @Param('id') id: string,
    @Body() dto: UpdateInstanceDto,
    @Req() req: FastifyRequest,
    @Headers('if-match') ifMatch?: string,
  ) {
    return this.services.update(name, id, dto, actorOf(req), ifMatch);
  }

  @Delete(':name/instances/:id')
  @HttpCode(204)
  removeInstance(@Param('name') name: string, @Param('id') id: string, @Req() req: FastifyRequest) {
    return this.services.removeInstance(name, id, actorOf(req));
  }

  @Put(':name/instances/:id/heartbeat')
  heartbeat(@Param('name') name: string, @Param('id') id: string) {
    return this.services.heartbeat(name, id);
  }
}
