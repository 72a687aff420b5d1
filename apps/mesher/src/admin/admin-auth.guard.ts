import { type CanActivate, type ExecutionContext, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { MesherConfig } from '../config/config.schema';
import { MESHER_CONFIG } from '../tokens';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** With an admin token configured, every /v1 call needs `Authorization: Bearer <token>`. */
@Injectable()
export class AdminAuthGuard implements CanActivate {
  private readonly expected: Buffer | null;

  constructor(@Inject(MESHER_CONFIG) cfg: MesherConfig) {
    this.expected = cfg.adminToken ? digest(cfg.adminToken) : null;
  }

  canActivate(ctx: ExecutionContext): boolean {
    if (!this.expected) return true;
    const req = ctx.switchToHttp().getRequest<FastifyRequest>();
    if (!req.url.startsWith('/v1')) return true;
    const h = req.headers.authorization;
    const m = typeof h === 'string' ? /^Bearer\s+(.+)$/i.exec(h) : null;
    // Hashing first makes the comparison constant-time whatever the lengths.
    if (!m || !timingSafeEqual(digest(m[1].trim()), this.expected)) {
      throw new UnauthorizedException('missing or wrong admin token: send Authorization: Bearer <token>');
    }
    return true;
  }
}
