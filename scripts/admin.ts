// Operator commands (README, Operations): `npm run --silent admin -- <command>`.
import { Client, Connection } from '@temporalio/client';
import { setTierAsOperator } from '../api/routes/admin.js';
import { loadMasterKey, operatorToken, payloadCodecKey } from '../lib/auth/platform-keys.js';
import { configFromEnv } from '../lib/config.js';
import { ErrorEnvelope, Tier } from '../lib/contracts/index.js';
import { openStore, storeConfigFromEnv } from '../lib/store/index.js';
import { encryptedDataConverter } from '../lib/temporal/codec.js';
import { runRetentionNow, startBillingClose } from '../lib/temporal/schedules.js';
import { billingCloseProgressQuery, type BillingCloseResult } from '../workflows/billing-close/messages.js';

const USAGE = `usage: npm run --silent admin -- <command>
  set-tier <userId> <${Tier.options.join('|')}>   set a user's tier (audited)
  retention-now                                 run telemetry retention now; prints the counts per tier
  close-period <YYYY-MM>                        close a billing period and report its usage (starts, or joins,
                                                billing-close-<YYYY-MM>); prints the counts
  operator-token                                print the operator token (for the codec server with Clerk:
                                                temporal … --codec-auth "Bearer <token>")`;

const config = configFromEnv();
const [command, ...args] = process.argv.slice(2);

function fail(message: string, code = 1): never {
  console.error(message);
  process.exit(code);
}

/**
 * Through the running platform's api when there is one (embedded PGlite admits one process,
 * and the platform holds it), else straight to the store.
 */
async function setTier(userId: string, tier: Tier) {
  const url = `http://127.0.0.1:${config.apiPort}/admin/users/${encodeURIComponent(userId)}/tier`;
  let res: Response | undefined;
  try {
    res = await fetch(url, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${operatorToken(loadMasterKey(process.env, config.dataDir))}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ tier }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code;
    if (code !== 'ECONNREFUSED') fail(`the platform's api at ${url} did not answer: ${String(err)}`);
  }
  if (res) {
    const body: unknown = await res.json().catch(() => null);
    if (res.ok) return body;
    const envelope = ErrorEnvelope.safeParse(body);
    fail(
      envelope.success
        ? `refused (${envelope.data.error.code}): ${envelope.data.error.message}`
        : `refused: HTTP ${res.status}`,
    );
  }
  // No platform on this api port: the store is free to open (API_PORT must be the platform's).
  const store = await openStore(storeConfigFromEnv(process.env, config.dataDir));
  try {
    return await setTierAsOperator(store, userId, tier);
  } finally {
    await store.close();
  }
}

/** A client of the running platform's Temporal, with its payload codec; closed after `fn`. */
async function withTemporal<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const address = config.temporal.address ?? `127.0.0.1:${config.temporal.devPort}`;
  const connection = await Connection.connect({ address, connectTimeout: '5s' }).catch((err: unknown) =>
    fail(`cannot reach Temporal at ${address} (is the platform running?): ${String(err)}`),
  );
  try {
    const dataConverter = encryptedDataConverter(payloadCodecKey(loadMasterKey(process.env, config.dataDir)));
    return await fn(new Client({ connection, namespace: config.temporal.namespace, dataConverter }));
  } finally {
    await connection.close();
  }
}

async function retentionNow() {
  await withTemporal(async (client) => {
    console.error('running telemetry retention (waits for the worker of the running platform)…');
    const { workflowId, result } = await runRetentionNow(client);
    console.log(`${workflowId}: ${result.deleted} raw telemetry events deleted`);
    for (const t of result.tiers)
      console.log(
        `  ${t.tier.padEnd(10)} ${String(t.deleted).padStart(8)}  (older than ${t.retentionDays} days: before ${t.cutoff})`,
      );
  });
}

function printClose(workflowId: string, r: BillingCloseResult) {
  const c = r.counts;
  console.log(
    `${workflowId}: ${r.done ? 'done' : 'not done'}, ${c.owners} owners in ${r.pages} pages (${r.runs} runs)`,
  );
  console.log(`  closed now            ${c.closedNow}`);
  console.log(`  reported now          ${c.reported}`);
  console.log(`  reported before       ${c.alreadyReported}`);
  console.log(`  no subscription item  ${c.noSubscription}  (closed, not reported)`);
  console.log(`  nothing to report     ${c.nothingToReport}  (closed, no requests in the period)`);
  console.log(`  billing off           ${c.billingOff}  (closed, not reported: no LEMONSQUEEZY_API_KEY)`);
  console.log(`  refused               ${c.refused}`);
  for (const f of r.refusals) console.log(`    ${f.ownerId} (item ${f.subscriptionItemId}): ${f.message}`);
}

async function closePeriod(period: string) {
  await withTemporal(async (client) => {
    const started = await startBillingClose(client, { period }).catch((err: unknown) =>
      fail(`close-period: ${(err as Error).message}`, 2),
    );
    const { workflowId, state, handle } = started;
    console.error(
      state === 'started'
        ? `${workflowId} started (waits for the worker of the running platform)…`
        : state === 'running'
          ? `${workflowId} is already running (the monthly Schedule or another admin started it); waiting for it…`
          : `${workflowId} has already completed:`,
    );
    const ticker = setInterval(() => {
      handle
        .query(billingCloseProgressQuery)
        .then((p) => console.error(`  … ${p.counts.owners} owners, ${p.counts.reported} reported`))
        .catch(() => undefined);
    }, 5_000);
    try {
      printClose(workflowId, await handle.result());
    } finally {
      clearInterval(ticker);
    }
  });
}

switch (command) {
  case 'set-tier': {
    const [userId, tier] = args;
    const parsed = Tier.safeParse(tier);
    if (!userId || !parsed.success || args.length !== 2) fail(USAGE, 2);
    console.log(JSON.stringify(await setTier(userId, parsed.data), null, 2));
    break;
  }
  case 'retention-now':
    if (args.length !== 0) fail(USAGE, 2);
    await retentionNow();
    break;
  case 'close-period': {
    const [period] = args;
    if (!period || args.length !== 1) fail(USAGE, 2);
    await closePeriod(period);
    break;
  }
  case 'operator-token':
    if (args.length !== 0) fail(USAGE, 2);
    console.log(operatorToken(loadMasterKey(process.env, config.dataDir)));
    break;
  default:
    fail(command ? `unknown command: ${command}\n${USAGE}` : USAGE, 2);
}
