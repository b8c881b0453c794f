// Prints a bearer token for a local user: `npm run --silent token -- alice`.
import { ensureLocalKeyPair } from '../lib/auth/local-keys.js';
import { signLocalToken } from '../lib/auth/sign.js';
import { configFromEnv } from '../lib/config.js';

const userId = process.argv[2];
if (!userId || !/^[A-Za-z0-9_-]{1,64}$/.test(userId)) {
  console.error('usage: npm run --silent token -- <user-id>   (letters, digits, _ and -)');
  process.exit(2);
}
if (process.env.CLERK_JWT_KEY || process.env.CLERK_SECRET_KEY) {
  console.error('Clerk keys are set: sign in through Clerk to get a token; local tokens would not verify.');
  process.exit(2);
}
const { privateKeyPem } = ensureLocalKeyPair(configFromEnv().dataDir);
console.log(await signLocalToken(privateKeyPem, userId));
