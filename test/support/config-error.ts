import { ConfigValidationError } from '../../src/config/validate-config';

/** The error `fn` throws, failing the test when it throws nothing or something else. */
export function configError(fn: () => unknown): ConfigValidationError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigValidationError);
    return err as ConfigValidationError;
  }
  throw new Error('expected a ConfigValidationError, nothing was thrown');
}
