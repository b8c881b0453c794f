import { randomBytes } from 'node:crypto';
import { invokeTokens, telemetryKeys, webhookSecrets } from '../../lib/auth/platform-keys.js';
import { LocalProvider } from '../../lib/runtime/providers/local.js';
import type { LocalRuntime } from '../../runtime-local/server.js';

/** One master key per test process: every provider made here agrees on invoke tokens. */
const testMasterKey = randomBytes(32);
export const testInvokeToken = invokeTokens(testMasterKey);
/** The telemetry keys of the same master key: an api made with them takes these providers' shims' batches. */
export const testTelemetryKey = telemetryKeys(testMasterKey);
/** Webhook signing secrets of the same master key: what an api made with them shows is what workers made with them sign with. */
export const testWebhookSecret = webhookSecrets(testMasterKey);

/** The `local` provider for a runtime started in a test. */
export function localProvider(runtime: Pick<LocalRuntime, 'url' | 'token'>, token = runtime.token): LocalProvider {
  return new LocalProvider({
    controlUrl: runtime.url,
    token,
    invokeToken: testInvokeToken,
    telemetryKey: testTelemetryKey,
  });
}
