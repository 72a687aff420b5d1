import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';

/** Debian's chromium, never a downloaded browser; background networking off (no network here). */
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** Test artifacts: one screenshot per page, in the git-ignored test-artifacts/ of the repo. */
export const SHOTS = process.env.MESHER_SCREENSHOT_DIR ?? path.join(__dirname, '..', '..', '..', 'test-artifacts', 'screenshots');

/** Retries an assertion until it passes or `ms` runs out (bounded: the last failure is thrown). */
export async function eventually<T>(fn: () => Promise<T>, ms = 10_000, every = 200): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, every));
    }
  }
}

export const text = async (page: Page, selector: string) => ((await page.locator(selector).first().textContent()) ?? '').trim();

export async function shot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.evaluate('window.scrollTo(0, 0)'); // else the sticky header is drawn mid-page in a full-page shot
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}
