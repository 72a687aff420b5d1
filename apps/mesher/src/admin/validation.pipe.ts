import { type ArgumentMetadata, BadRequestException, ValidationPipe, type ValidationError } from '@nestjs/common';

function flatten(errors: ValidationError[], prefix = ''): Array<{ field: string; message: string }> {
  const out: Array<{ field: string; message: string }> = [];
  for (const e of errors) {
    const field = prefix ? `${prefix}.${e.property}` : e.property;
    for (const msg of Object.values(e.constraints ?? {})) {
      // class-validator says "property x should not exist" for unknown fields: name the field plainly.
      out.push({ field, message: msg.startsWith('property ') ? `${field} is not a known field` : msg });
    }
    if (e.children?.length) out.push(...flatten(e.children, field));
  }
  return out;
}

/**
 * class-validator's whitelist looks fields up in a plain object, so a body key that every object inherits
 * (constructor, toString, hasOwnProperty, ...) passes as known and is silently dropped. No DTO declares
 * such a field: they are unknown fields like any other.
 */
class DtoValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' && metadata.metatype && metadata.metatype !== Object && typeof value === 'object' && value !== null && !Array.isArray(value)) {
      const inherited = Object.keys(value).filter((k) => k in Object.prototype);
      if (inherited.length > 0) {
        const errors = inherited.map((field) => ({ field, message: `${field} is not a known field` }));
        throw new BadRequestException({ message: errors.map((e) => e.message).join('; '), errors });
      }
    }
    return super.transform(value, metadata);
  }
}

/** Global DTO validation: unknown fields and wrong types are 400s naming each field. */
export function createValidationPipe(): ValidationPipe {
  return new DtoValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    exceptionFactory: (errors) => {
      const list = flatten(errors);
      return new BadRequestException({ message: list.map((e) => e.message).join('; '), errors: list });
    },
  });
}
