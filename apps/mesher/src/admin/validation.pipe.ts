import { BadRequestException, ValidationPipe, type ValidationError } from '@nestjs/common';

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

/** Global DTO validation: unknown fields and wrong types are 400s naming each field. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    exceptionFactory: (errors) => {
      const list = flatten(errors);
      return new BadRequestException({ message: list.map((e) => e.message).join('; '), errors: list });
    },
  });
}
