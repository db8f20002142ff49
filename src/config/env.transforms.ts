import { Transform } from 'class-transformer';

// Environment values are strings; these decorators turn them into typed values
// and leave anything unparseable as a value the validators will reject with the
// key's name, instead of silently falling back to a default.

export function EnvInt(): PropertyDecorator {
  return Transform(({ value }: { value: unknown }) => {
    if (typeof value !== 'string') return value;
    return /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : value;
  });
}

export function EnvNumber(): PropertyDecorator {
  return Transform(({ value }: { value: unknown }) => {
    if (typeof value !== 'string') return value;
    const n = Number(value.trim());
    return value.trim() !== '' && Number.isFinite(n) ? n : value;
  });
}

export function EnvBool(): PropertyDecorator {
  return Transform(({ value }: { value: unknown }) => {
    if (typeof value !== 'string') return value;
    const v = value.trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(v)) return true;
    if (['false', '0', 'no', 'off'].includes(v)) return false;
    return value;
  });
}

export function EnvList(): PropertyDecorator {
  return Transform(({ value }: { value: unknown }) => {
    if (typeof value !== 'string') return value;
    return value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
  });
}
