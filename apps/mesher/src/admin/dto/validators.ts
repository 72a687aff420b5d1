import { registerDecorator, ValidateIf, type ValidationOptions } from 'class-validator';

/** Optional but never null: an absent field keeps its value; null would reach a NOT NULL column, so it is a 400. */
export const IsOptionalNotNull = () => ValidateIf((_o: object, v: unknown) => v !== undefined);

export const SERVICE_NAME_RE = /^[a-z0-9]([a-z0-9_.-]{0,61}[a-z0-9])?$/;

/** An absolute http(s) URL with a host and nothing after the path (it is a base). */
export function isEndpointUrl(v: unknown): boolean {
  if (typeof v !== 'string') return false;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return false;
  }
  return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '' && !u.username && !u.password && !u.search && !u.hash;
}

export function IsEndpointUrl(opts?: ValidationOptions) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isEndpointUrl',
      target: target.constructor,
      propertyName,
      options: { message: `${propertyName} must be an http(s) URL like http://127.0.0.1:8081`, ...opts },
      validator: { validate: isEndpointUrl },
    });
}

/** A flat object of string values (labels, tags). */
export function IsStringMap(opts?: ValidationOptions) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isStringMap',
      target: target.constructor,
      propertyName,
      options: { message: `${propertyName} must be an object of string values`, ...opts },
      validator: {
        validate: (v: unknown) =>
          typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string'),
      },
    });
}
