// Debian's Chromium driven by playwright-core: never a downloaded browser.
import { chromium } from 'playwright-core';

export const CHROMIUM_FLAGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
  '--disable-background-networking', '--disable-component-update', '--no-first-run'];

export function launch() {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS, headless: true });
}

/** Throws with `what` unless `condition` holds; prints it when it does. */
export function check(condition, what) {
  if (!condition) throw new Error(`FAILED: ${what}`);
  console.log(`  ok  ${what}`);
}
