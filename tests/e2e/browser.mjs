// Debian's Chromium driven by playwright-core: never a downloaded browser.
import { chromium } from 'playwright-core';

const CHROMIUM_FLAGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
  '--disable-background-networking', '--disable-component-update', '--no-first-run'];

const OPTIONS = { executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS, headless: true };

export function launch() {
  return chromium.launch(OPTIONS);
}

/** A browser of its own, with its profile in `dir`: one context, whose processes can be told apart. */
export function launchWithProfile(dir) {
  return chromium.launchPersistentContext(dir, OPTIONS);
}

/** Throws with `what` unless `condition` holds; prints it when it does. */
export function check(condition, what) {
  if (!condition) throw new Error(`FAILED: ${what}`);
  console.log(`  ok  ${what}`);
}
