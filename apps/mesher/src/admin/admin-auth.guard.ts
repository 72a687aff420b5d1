import { type CanActivate, type ExecutionContext, ForbiddenException, HttpException, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { MesherConfig } from '../config/config.schema';
import { MESHER_CONFIG } from '../tokens';
import { setAdminScope } from './actor';
import { AuthFailureLimiter } from './auth-failure-limiter';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Routes anyone may call: probes and scrapers carry no token. Everything else is denied by default. */
const PUBLIC = (url: string) => url.startsWith('/health/') || url === '/metrics';
const READ_METHODS = new Set(['GET', 'HEAD']);

/**
 * With an admin token configured, every admin route except health and /metrics needs `Authorization: Bearer <token>`:
 * the operator token (--admin-token) may do anything, the viewer token (--admin-viewer-token) only GET and HEAD.
 * Wrong tokens are counted per client address; past the limit that address gets 429 until its window ends.
 */
@Injectable()
export class AdminAuthGuard implements CanActivate {
  private readonly operator: Buffer | null;
  private readonly viewer: Buffer | null;
  readonly failures = new AuthFailureLimiter();

  constructor(@Inject(MESHER_CONFIG) cfg: MesherConfig) {
    this.operator = cfg.adminToken ? digest(cfg.adminToken) : null;
    this.viewer = cfg.adminToken && cfg.adminViewerToken ? digest(cfg.adminViewerToken) : null;
  }

  canActivate(ctx: ExecutionContext): boolean {
    if (!this.operator) return true;
    const req = ctx.switchToHttp().getRequest<FastifyRequest>();
    // The matched route, not the raw URL, so no spelling of a path can slip past.
    if (PUBLIC(req.routeOptions?.url ?? req.url)) return true;
    const now = Date.now();
    const wait = this.failures.retryAfterMs(req.ip, now);
    if (wait > 0) {
      const seconds = Math.ceil(wait / 1000);
      ctx.switchToHttp().getResponse<FastifyReply>().header('retry-after', String(seconds));
      throw new HttpException(`too many wrong admin tokens from ${req.ip}: try again in ${seconds}s`, 429);
    }
    const h = req.headers.authorization;
    if (h === undefined) throw new UnauthorizedException('missing admin token: send Authorization: Bearer <token>');
    const m = /^Bearer\s+(.+)$/i.exec(h);
    // Hashing first makes each comparison constant-time whatever the lengths; both always run.
    const given = digest(m ? m[1].trim() : '');
    const isOperator = timingSafeEqual(given, this.operator);
    const isViewer = this.viewer !== null && timingSafeEqual(given, this.viewer);
    if (!m || (!isOperator && !isViewer)) {
      this.failures.recordFailure(req.ip, now);
      throw new UnauthorizedException('wrong admin token: send Authorization: Bearer <token>');
    }
    if (!isOperator && !READ_METHODS.has(req.method)) {
      const path = (req.routeOptions?.url ?? req.url).slice(0, 200);
      throw new ForbiddenException(`the viewer token is read-only: ${req.method} ${path} needs the operator token (--admin-token)`);
    }
    setAdminScope(req, isOperator ? 'operator' : 'viewer');
    return true;
  }
}
