// A test that cannot run on this machine says why and how to enable it. The reason goes to node's
// runner (the `skip` option) and, when the suite runs through `npm test`, to a report the runner
// prints in the suite's closing lines (scripts/run-tests.mjs), where nobody can miss it.
import { appendFileSync, existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** `false` when the test can run; otherwise the skip reason, also recorded for the closing lines. */
export function skipUnless(canRun: boolean, test: string, why: string, enable: string): false | string {
  if (canRun) return false;
  const report = process.env.TEST_SKIP_REPORT;
  if (report) appendFileSync(report, `${JSON.stringify({ test, why, enable })}\n`);
  return `${why}. To run it: ${enable}`;
}

/** Debian's Chromium (CHROMIUM_PATH overrides), driven through playwright-core. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The skip option of a browser test. */
export function skipWithoutChromium(test: string): false | string {
  return skipUnless(
    existsSync(CHROMIUM),
    test,
    `no Chromium at ${CHROMIUM}`,
    "install Debian's chromium (sudo apt-get install chromium), or set CHROMIUM_PATH to a Chromium or Chrome binary",
  );
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}
