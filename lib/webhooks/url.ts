import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { AppError } from '../contracts/index.js';

// Where a webhook may be sent (README, Webhooks). An endpoint URL is the tenant's input, and
// the platform's workers send to it from inside the platform's network: a URL that named a
// private address would let a tenant reach the databases, Temporal or the local runtime's
// control API (SSRF). So: https only; no address on loopback, private, link-local, shared,
// multicast or reserved ranges, whether the URL names it or DNS answers it (checked at connect
// time, on the address actually used, so a name that changes its answer gains nothing).
//
// `allowLoopback` (WEBHOST_WEBHOOKS_ALLOW_LOOPBACK=1, for local development and tests) lets
// http:// or https:// reach loopback only (localhost, 127.0.0.0/8, ::1); other private ranges
// stay refused.

export interface WebhookUrlPolicy {
  allowLoopback: boolean;
}

/** The policy from the environment: loopback only when `WEBHOST_WEBHOOKS_ALLOW_LOOPBACK=1`. */
export const webhookUrlPolicyFromEnv = (env: NodeJS.ProcessEnv): WebhookUrlPolicy => ({
  allowLoopback: env.WEBHOST_WEBHOOKS_ALLOW_LOOPBACK === '1',
});

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/** Everything that is not the public internet (IANA special-purpose registries). */
const notPublic = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  notPublic.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  notPublic.addSubnet(net, prefix, 'ipv6');

/** An IPv4 address written as IPv6 (`::ffff:10.0.0.1`) is judged as the IPv4 one. */
function unmapped(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return { address: mapped[1]!, family: 'ipv4' };
  return { address, family: isIP(address) === 6 ? 'ipv6' : 'ipv4' };
}

/** Whether a webhook may be sent to this address under the policy. */
export function addressAllowed(address: string, policy: WebhookUrlPolicy): boolean {
  const a = unmapped(address);
  if (policy.allowLoopback && loopback.check(a.address, a.family)) return true;
  return !notPublic.check(a.address, a.family);
}

const isLocalhostName = (host: string) => host === 'localhost' || host.endsWith('.localhost');

/**
 * The endpoint URL if a webhook may be sent to it, else `validation_failed` saying why. What DNS
 * will answer is checked again when each delivery connects (`guardedLookup`).
 */
export function checkWebhookUrl(raw: string, policy: WebhookUrlPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AppError('validation_failed', 'url: must be an absolute URL');
  }
  if (url.username || url.password) throw new AppError('validation_failed', 'url: must not hold credentials');
  // the URL parser keeps IPv6 literals in brackets
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  const literal = isIP(host) !== 0 ? unmapped(host) : null;
  const isLoopbackHost = isLocalhostName(host) || (literal !== null && loopback.check(literal.address, literal.family));
  const loopbackAllowed = policy.allowLoopback && isLoopbackHost;
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopbackAllowed)) {
    throw new AppError('validation_failed', 'url: must be https');
  }
  if (isLoopbackHost && !loopbackAllowed) {
    throw new AppError('validation_failed', 'url: must not point at a private or loopback address');
  }
  if (isIP(host) !== 0 && !addressAllowed(host, policy)) {
    throw new AppError('validation_failed', 'url: must not point at a private or loopback address');
  }
  return url;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * `dns.lookup` for the delivery's sockets (undici `connect.lookup`): resolves every address and
 * refuses the connection when any of them may not be reached, so the address connected to is
 * one that was checked.
 */
export function guardedLookup(policy: WebhookUrlPolicy) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const refused = addresses.find((a) => !addressAllowed(a.address, policy));
      if (refused || addresses.length === 0) {
        const e: NodeJS.ErrnoException = new Error(
          `${hostname} resolves to an address webhooks may not be sent to (private, loopback or reserved)`,
        );
        e.code = 'EADDRNOTALLOWED';
        return callback(e, []);
      }
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}
