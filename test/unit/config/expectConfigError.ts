/** Test helper: runs `fn`, which must throw a ConfigError, and returns that error. */
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/config/errors.ts';

export function expectConfigError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ConfigError, nothing was thrown');
}
