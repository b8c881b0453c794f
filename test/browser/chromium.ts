import { existsSync } from 'node:fs';

/**
 * Debian's Chromium, which playwright-core drives (nothing is downloaded by Playwright).
 * `.ci/run` installs it (`apt-get install -y chromium`) when missing.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Without Chromium the browser layer is skipped, loudly; in CI (`CI` set) that is a failure. */
export function chromiumMissing(): string | null {
  if (existsSync(CHROMIUM)) return null;
  const message = `${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) to run the browser tests`;
  if (process.env.CI) throw new Error(message);
  console.warn(`browser tests skipped: ${message}`);
  return message;
}
