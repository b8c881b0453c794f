import { Agent, fetch } from 'undici';
import { WEBHOOK_RESPONSE_SNIPPET_CHARS } from '../contracts/index.js';
import { checkWebhookUrl, guardedLookup, type WebhookUrlPolicy } from './url.js';

/** How long one attempt may take, connecting to the end of the answer's headers and snippet. */
export const WEBHOOK_ATTEMPT_TIMEOUT_MS = 10_000;

/** What one attempt got back: an answer, or no answer (and why). */
export type WebhookAttempt =
  { kind: 'answered'; status: number; snippet: string } | { kind: 'no_answer'; error: string };

/** How an attempt's outcome is judged (Stripe, GitHub and Svix judge them alike). */
export type WebhookVerdict = 'succeeded' | 'retry' | 'permanent';

/**
 * 2xx succeeded; 408, 429 and 5xx may pass, so they are retried, as is no answer at all
 * (timeout, refused, reset); any other status (4xx, and 3xx: redirects are not followed) will
 * not change by retrying.
 */
export function judgeAttempt(attempt: WebhookAttempt): WebhookVerdict {
  if (attempt.kind === 'no_answer') return 'retry';
  const { status } = attempt;
  if (status >= 200 && status < 300) return 'succeeded';
  if (status === 408 || status === 429 || status >= 500) return 'retry';
  return 'permanent';
}

/**
 * POSTs one signed delivery: no redirects followed, sockets only to addresses the policy allows
 * (checked on the address connected to), at most `timeoutMs` in all, and of the answer's body
 * only its first characters read. Never throws for what the receiver did: that is the attempt's
 * outcome.
 */
export async function sendWebhook(input: {
  url: string;
  headers: Record<string, string>;
  body: string;
  policy: WebhookUrlPolicy;
  timeoutMs?: number;
}): Promise<WebhookAttempt> {
  let url: URL;
  try {
    url = checkWebhookUrl(input.url, input.policy);
  } catch (err) {
    return { kind: 'no_answer', error: (err as Error).message };
  }
  const dispatcher = new Agent({ connect: { lookup: guardedLookup(input.policy) }, keepAliveTimeout: 1 });
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { ...input.headers, 'user-agent': 'webhost.systems-webhooks/1' },
      body: input.body,
      redirect: 'manual',
      dispatcher,
      signal: AbortSignal.timeout(input.timeoutMs ?? WEBHOOK_ATTEMPT_TIMEOUT_MS),
    });
    return { kind: 'answered', status: res.status, snippet: await snippetOf(res.body) };
  } catch (err) {
    return { kind: 'no_answer', error: describeNetworkError(err) };
  } finally {
    await dispatcher.destroy().catch(() => undefined);
  }
}

/** The first characters of an answer's body; the rest is never read. */
async function snippetOf(body: ReadableStream<Uint8Array> | null): Promise<string> {
  if (!body) return '';
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    while (text.length < WEBHOOK_RESPONSE_SNIPPET_CHARS) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    // the answer's status is what counts; a body cut short is fine
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return text.slice(0, WEBHOOK_RESPONSE_SNIPPET_CHARS);
}

function describeNetworkError(err: unknown): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return 'timed out';
  const cause = err instanceof Error ? (err.cause as NodeJS.ErrnoException | undefined) : undefined;
  if (cause?.message) return cause.code ? `${cause.code}: ${cause.message}` : cause.message;
  return err instanceof Error ? err.message : String(err);
}
