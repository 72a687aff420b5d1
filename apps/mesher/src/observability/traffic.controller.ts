import { Controller, Get, Query, Req, Res } from '@nestjs/common';
import { AdminError } from '@mesher/contracts';
import { ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ObservabilityService } from './observability.service';
import { TrafficHistoryService } from './traffic-history.service';

function epochMs(v: string | undefined, field: string, fallback: number): number {
  if (v === undefined || v === '') return fallback;
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(n)) throw new AdminError('INVALID', `${field} must be epoch milliseconds or an ISO date`, [{ field, message: `${field} is not a time` }]);
  return n;
}

/** Live edge statistics, as JSON and as a Server-Sent Events stream (one event per second). */
@ApiTags('observability')
@Controller('v1/traffic')
export class TrafficController {
  constructor(
    private readonly obs: ObservabilityService,
    private readonly history: TrafficHistoryService,
  ) {}

  /** Per-minute rollups from SQLite (default: the last hour). */
  @Get('history')
  async historyRows(@Query('service') service?: string, @Query('from') from?: string, @Query('to') to?: string) {
    const now = Date.now();
    const t = epochMs(to, 'to', now);
    const f = epochMs(from, 'from', t - 3_600_000);
    if (f > t) throw new AdminError('INVALID', 'from must not be after to', [{ field: 'from', message: 'from must not be after to' }]);
    return this.history.store.query(f, t, service || undefined);
  }

  @Get()
  snapshot() {
    return this.obs.traffic.snapshot(Date.now());
  }

  @Get('stream')
  stream(@Req() req: FastifyRequest, @Res() reply: FastifyReply): void {
    const raw = reply.raw;
    reply.hijack();
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const send = () => raw.write(`event: traffic\ndata: ${JSON.stringify(this.obs.traffic.snapshot(Date.now()))}\n\n`);
    raw.write('retry: 2000\n\n');
    send();
    const timer = setInterval(send, 1000);
    const stop = () => clearInterval(timer);
    req.raw.on('close', stop);
    raw.on('close', stop);
    raw.on('error', stop);
  }
}
