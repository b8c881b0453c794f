// A fake of the Lemon Squeezy API on loopback, for the real `@lemonsqueezy/lemonsqueezy.js` SDK.
// The SDK calls the fixed host https://api.lemonsqueezy.com through global `fetch`; a process
// that should reach the fake installs `routeLemonSqueezyTo(fake.origin)` (an undici global
// dispatcher that sends that host's requests here), which also works in a worker child process
// while the fake, and what it recorded, lives in the test process.
//
// It speaks the JSON:API wire format the real API does: bearer key, `application/vnd.api+json`,
// `{ data: { type, id, attributes, relationships } }` documents, `{ errors: [{ status, title,
// detail }] }` on failure. Every call is recorded with the status it got. Faults are a property
// of the fake: `failNext(500, 429)` answers the next calls with those statuses, `stallNext()`
// holds the next usage record until it is released or its caller goes away (a killed worker).
//
// Routes so far: POST /v1/usage-records, GET /v1/usage-records/:id, GET /v1/subscription-items/:id.
// Add routes here (checkouts, subscriptions…) as the platform starts calling them.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, getGlobalDispatcher, setGlobalDispatcher, type Dispatcher } from 'undici';

export const LEMONSQUEEZY_ORIGIN = 'https://api.lemonsqueezy.com';
const JSON_API = 'application/vnd.api+json';

export interface LemonSqueezyCall {
  method: string;
  path: string;
  /** The parsed JSON body, if any. */
  body: unknown;
  /** What the fake answered; 0 when the caller went away before an answer (nothing applied). */
  status: number;
  at: string;
}

export interface UsageRecord {
  id: string;
  subscriptionItemId: string;
  quantity: number;
  action: 'increment' | 'set';
  createdAt: string;
}

export interface SubscriptionItem {
  id: string;
  /** The usage of its current period: what `set` records replace and `increment` ones add to. */
  usage: number;
}

export interface Stall {
  /** Resolves when the stalled call has arrived. */
  arrived: Promise<LemonSqueezyCall>;
  /** Lets the stalled call proceed (it is then applied and answered as usual). */
  release(): void;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    detail: string,
    readonly pointer?: string,
  ) {
    super(detail);
  }
}

export class FakeLemonSqueezy {
  /** Every call in arrival order, with the status it got. */
  readonly calls: LemonSqueezyCall[] = [];
  /** Usage records that were applied (answered 201), in order. */
  readonly usageRecords: UsageRecord[] = [];
  private readonly items = new Map<string, SubscriptionItem>();
  private readonly failures: number[] = [];
  private stalls: { skip: number; arrived: (call: LemonSqueezyCall) => void; released: Promise<void> }[] = [];
  private nextId = 1;
  private server: Server | undefined;
  origin = '';

  constructor(readonly opts: { apiKey: string }) {}

  /** A subscription item usage can be reported to (a usage record for another is refused with 422). */
  addSubscriptionItem(id: string): SubscriptionItem {
    const item = { id, usage: 0 };
    this.items.set(id, item);
    return item;
  }

  subscriptionItem(id: string): SubscriptionItem | undefined {
    return this.items.get(id);
  }

  /** The next calls (any route) answer these statuses, in order, with an `errors` document; nothing is applied. */
  failNext(...statuses: number[]): void {
    this.failures.push(...statuses);
  }

  /**
   * Holds a usage record before it is applied, until released or its caller goes away: the
   * next one, or the one after `skip` more have gone through.
   */
  stallNext(skip = 0): Stall {
    let arrived!: (call: LemonSqueezyCall) => void;
    let release!: () => void;
    const arrival = new Promise<LemonSqueezyCall>((r) => (arrived = r));
    const released = new Promise<void>((r) => (release = r));
    this.stalls.push({ skip, arrived, released });
    return { arrived: arrival, release };
  }

  /** Usage records applied per subscription item: more than one for the same period is a duplicate report. */
  reportsPerItem(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const r of this.usageRecords) counts.set(r.subscriptionItemId, (counts.get(r.subscriptionItemId) ?? 0) + 1);
    return counts;
  }

  async listen(): Promise<string> {
    this.server = createServer((req, res) => void this.serve(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.origin;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const call: LemonSqueezyCall = {
      method: req.method ?? 'GET',
      path,
      body: null,
      status: 0,
      at: new Date().toISOString(),
    };
    this.calls.push(call);
    let gone = false;
    res.on('close', () => (gone = !res.writableFinished));
    const answer = (status: number, doc: unknown) => {
      if (gone) return;
      call.status = status;
      res.writeHead(status, { 'content-type': JSON_API });
      res.end(JSON.stringify(doc));
    };
    try {
      if (text) {
        try {
          call.body = JSON.parse(text);
        } catch {
          throw new ApiError(400, 'Bad Request', 'The request body is not valid JSON.');
        }
      }
      if (req.headers.authorization !== `Bearer ${this.opts.apiKey}`)
        throw new ApiError(401, 'Unauthorized', 'Unauthenticated.');
      if (!String(req.headers.accept).includes(JSON_API))
        throw new ApiError(406, 'Not Acceptable', `The Accept header must be ${JSON_API}.`);
      if (text && !String(req.headers['content-type']).includes(JSON_API))
        throw new ApiError(415, 'Unsupported Media Type', `The Content-Type header must be ${JSON_API}.`);
      const failure = this.failures.shift();
      if (failure !== undefined)
        throw new ApiError(failure, failure === 429 ? 'Too Many Requests' : 'Server Error', 'Injected by the fake.');

      let m: RegExpMatchArray | null;
      if (call.method === 'POST' && path === '/v1/usage-records') {
        const stall = this.stalls[0]?.skip === 0 ? this.stalls.shift() : undefined;
        if (this.stalls[0] && !stall) this.stalls[0].skip -= 1;
        if (stall) {
          stall.arrived(call);
          await Promise.race([stall.released, new Promise((r) => res.on('close', r))]);
          if (gone) return; // the caller went away: nothing applied, call.status stays 0
        }
        return answer(201, this.createUsageRecord(call.body));
      }
      if (call.method === 'GET' && (m = path.match(/^\/v1\/usage-records\/([^/]+)$/))) {
        const record = this.usageRecords.find((r) => r.id === m![1]);
        if (!record) throw new ApiError(404, 'Not Found', 'No such usage record.');
        return answer(200, this.usageRecordDocument(record));
      }
      if (call.method === 'GET' && (m = path.match(/^\/v1\/subscription-items\/([^/]+)$/))) {
        const item = this.items.get(m[1]!);
        if (!item) throw new ApiError(404, 'Not Found', 'No such subscription item.');
        return answer(200, {
          jsonapi: { version: '1.0' },
          data: { type: 'subscription-items', id: item.id, attributes: { quantity: 1, is_usage_based: true } },
        });
      }
      throw new ApiError(404, 'Not Found', `No route for ${call.method} ${path} in the fake.`);
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(500, 'Server Error', String(err));
      answer(e.status, {
        jsonapi: { version: '1.0' },
        errors: [
          {
            status: String(e.status),
            title: e.title,
            detail: e.message,
            ...(e.pointer ? { source: { pointer: e.pointer } } : {}),
          },
        ],
      });
    }
  }

  /** Checks the document as the API does (422 with a pointer for a bad field) and applies it. */
  private createUsageRecord(body: unknown): unknown {
    const data = (body as { data?: Record<string, unknown> } | null)?.data;
    if (!data || data.type !== 'usage-records')
      throw new ApiError(422, 'Unprocessable Entity', 'The type must be usage-records.', '/data/type');
    const attributes = (data.attributes ?? {}) as Record<string, unknown>;
    const { quantity, action = 'increment' } = attributes;
    if (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity < 0)
      throw new ApiError(
        422,
        'Unprocessable Entity',
        'The quantity must be a non-negative integer.',
        '/data/attributes/quantity',
      );
    if (action !== 'increment' && action !== 'set')
      throw new ApiError(
        422,
        'Unprocessable Entity',
        'The action must be increment or set.',
        '/data/attributes/action',
      );
    const rel = (data.relationships as Record<string, { data?: { type?: unknown; id?: unknown } }> | undefined)?.[
      'subscription-item'
    ]?.data;
    if (!rel || rel.type !== 'subscription-items' || typeof rel.id !== 'string')
      throw new ApiError(
        422,
        'Unprocessable Entity',
        'The subscription-item relationship is required.',
        '/data/relationships/subscription-item',
      );
    const item = this.items.get(rel.id);
    if (!item)
      throw new ApiError(
        422,
        'Unprocessable Entity',
        'The selected subscription item is invalid.',
        '/data/relationships/subscription-item',
      );
    item.usage = action === 'set' ? quantity : item.usage + quantity;
    const record: UsageRecord = {
      id: String(this.nextId++),
      subscriptionItemId: item.id,
      quantity,
      action,
      createdAt: new Date().toISOString(),
    };
    this.usageRecords.push(record);
    return this.usageRecordDocument(record);
  }

  private usageRecordDocument(r: UsageRecord): unknown {
    const self = `${LEMONSQUEEZY_ORIGIN}/v1/usage-records/${r.id}`;
    return {
      jsonapi: { version: '1.0' },
      links: { self },
      data: {
        type: 'usage-records',
        id: r.id,
        attributes: {
          subscription_item_id: Number(r.subscriptionItemId) || r.subscriptionItemId,
          quantity: r.quantity,
          action: r.action,
          created_at: r.createdAt,
          updated_at: r.createdAt,
        },
        relationships: {
          'subscription-item': {
            links: { related: `${self}/subscription-item`, self: `${self}/relationships/subscription-item` },
          },
        },
        links: { self },
      },
    };
  }
}

/**
 * Sends this process's requests to https://api.lemonsqueezy.com to `origin` (the fake), through
 * an undici global dispatcher (what Node's `fetch` uses); other hosts are untouched. Returns the
 * undo.
 */
export function routeLemonSqueezyTo(origin: string): () => void {
  const previous: Dispatcher = getGlobalDispatcher();
  const agent = new Agent().compose(
    (dispatch) => (opts, handler) =>
      String(opts.origin) === LEMONSQUEEZY_ORIGIN ? dispatch({ ...opts, origin }, handler) : dispatch(opts, handler),
  );
  setGlobalDispatcher(agent);
  return () => {
    setGlobalDispatcher(previous);
    void agent.close();
  };
}

/** A listening fake with this process routed to it; `close` undoes both. */
export async function startFakeLemonSqueezy(opts: { apiKey: string }) {
  const fake = new FakeLemonSqueezy(opts);
  const origin = await fake.listen();
  const unroute = routeLemonSqueezyTo(origin);
  return Object.assign(fake, {
    async stop() {
      unroute();
      await fake.close();
    },
  });
}
