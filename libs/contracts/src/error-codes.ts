/** Every failure Mesher itself produces on the data path carries one of these codes. */
export const MESHER_ERROR_CODES = [
  'SERVICE_NOT_FOUND',
  'NO_HEALTHY_INSTANCE',
  'UPSTREAM_UNAVAILABLE',
  'UPSTREAM_TIMEOUT',
  'CIRCUIT_OPEN',
  'RATE_LIMITED',
  'FAULT_INJECTED',
  'BAD_REQUEST',
  'LOOP_DETECTED',
  'APP_UNAVAILABLE',
  'DRAINING',
  'HEADERS_TOO_LARGE',
  'URI_TOO_LONG',
  'OVERLOADED',
  'REQUEST_TIMEOUT',
  'EGRESS_DENIED',
  'ROUTE_NOT_FOUND',
  'UPSTREAM_TLS_ERROR',
] as const;

export type MesherErrorCode = (typeof MESHER_ERROR_CODES)[number];

/** Body of every error response Mesher produces itself. */
export interface MesherErrorBody {
  code: MesherErrorCode;
  message: string;
}

/** Failures of the control plane (admin API, store), mapped to HTTP statuses at the edge. */
export const ADMIN_ERROR_CODES = ['NOT_FOUND', 'CONFLICT', 'INVALID', 'UNAVAILABLE', 'PRECONDITION_FAILED', 'UNAUTHORIZED', 'STORAGE_FULL'] as const;
export type AdminErrorCode = (typeof ADMIN_ERROR_CODES)[number];

/** A domain error with a stable code; `errors` lists field-level problems when there are several. */
export class AdminError extends Error {
  constructor(
    readonly code: AdminErrorCode,
    message: string,
    readonly errors: Array<{ field: string; message: string }> = [],
  ) {
    super(message);
    this.name = 'AdminError';
  }
}
