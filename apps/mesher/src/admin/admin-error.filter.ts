import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { AdminError, type AdminErrorCode } from '@mesher/contracts';
import { storeFaultError } from '@mesher/persistence';

/** One status per admin error code; the compiler insists on a row for every code. */
export const ADMIN_ERROR_STATUS: { readonly [K in AdminErrorCode]: number } = {
  NOT_FOUND: 404,
  CONFLICT: 409,
  INVALID: 422,
  UNAVAILABLE: 503,
  PRECONDITION_FAILED: 412,
  UNAUTHORIZED: 401,
  // 507 Insufficient Storage: the disk under the registry database is full.
  STORAGE_FULL: 507,
};

const STATUS_CODE: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  421: 'MISDIRECTED_REQUEST',
  422: 'INVALID',
  429: 'TOO_MANY_REQUESTS',
  503: 'UNAVAILABLE',
};

/** Every admin error answers {statusCode, code, message, errors?}. */
@Catch()
export class AdminErrorFilter implements ExceptionFilter {
  private readonly log = new Logger('admin');

  catch(err: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    // A store fault that escaped the store's own mapping (a read meeting a lock, a damaged page): 503/507, not 500.
    if (!(err instanceof AdminError)) err = storeFaultError(err, 'mesher.db') ?? err;
    let status = 500;
    let body: Record<string, unknown>;
    if (err instanceof AdminError) {
      status = ADMIN_ERROR_STATUS[err.code];
      body = { statusCode: status, code: err.code, message: err.message, ...(err.errors.length ? { errors: err.errors } : {}) };
    } else if (err instanceof HttpException) {
      status = err.getStatus();
      const r = err.getResponse();
      const msg = typeof r === 'string' ? r : (r as { message?: unknown }).message;
      const errors = typeof r === 'object' && r !== null ? (r as { errors?: unknown }).errors : undefined;
      // Terminus' readiness report ({status, info, error, details}) is kept whole: it says what is down and why.
      const report = typeof r === 'object' && r !== null && 'details' in r ? (r as { status?: unknown; info?: unknown; error?: Record<string, { message?: unknown }>; details: unknown }) : null;
      const down = report ? Object.entries(report.error ?? {}).map(([k, v]) => `${k}: ${typeof v?.message === 'string' ? v.message : 'down'}`) : [];
      body = {
        statusCode: status,
        code: STATUS_CODE[status] ?? 'ERROR',
        message: report ? `not ready: ${down.join('; ')}` : Array.isArray(msg) ? msg.join('; ') : String(msg ?? err.message),
        ...(errors ? { errors } : {}),
        ...(report ? { status: report.status, info: report.info, error: report.error, details: report.details } : {}),
      };
    } else if (typeof (err as { statusCode?: unknown })?.statusCode === 'number' && (err as { statusCode: number }).statusCode < 500) {
      // Fastify's own errors (invalid JSON, body too large, bad content type).
      status = (err as { statusCode: number }).statusCode;
      const errors = (err as { errors?: unknown }).errors;
      body = { statusCode: status, code: STATUS_CODE[status] ?? 'BAD_REQUEST', message: (err as Error).message, ...(Array.isArray(errors) ? { errors } : {}) };
    } else {
      this.log.error((err as Error)?.stack ?? String(err));
      body = { statusCode: 500, code: 'INTERNAL', message: 'internal error' };
    }
    void reply.status(status).header('content-type', 'application/json; charset=utf-8').send(body);
  }
}
