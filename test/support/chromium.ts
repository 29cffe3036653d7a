import { accessSync, constants, mkdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { repoRoot } from '../../stack/tool-paths.js';

// The browser tests drive Debian's Chromium (installed by `npm run setup` / `npm test`:
// scripts/install-tools.sh --chromium) with playwright-core; Playwright's own browser download is
// not used (its CDN is not reachable from CI). Looked up as install-tools.sh does: CHROMIUM_PATH,
// then /usr/bin/chromium, then chromium on PATH. Missing is an error, never a skip.

const executable = (path: string) => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

export function chromiumPath(): string {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) {
    if (!executable(fromEnv)) throw new Error(`CHROMIUM_PATH=${fromEnv} is not an executable file`);
    return fromEnv;
  }
  const candidates = ['/usr/bin/chromium', ...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'chromium'))];
  const found = candidates.find(executable);
  if (!found) throw new Error('No Chromium for the browser tests: run `npm run setup` (installs Debian\'s chromium), or set CHROMIUM_PATH');
  return found;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--no-first-run', '--mute-audio'],
    timeout: 30_000,
  });
}

/** Where the test run keeps screenshots: .data/ is git-ignored. */
export const screenshotDir = join(repoRoot, '.data', 'screenshots');

/** Saves the whole page as .data/screenshots/<name>.png and prints where. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  mkdirSync(screenshotDir, { recursive: true });
  const path = join(screenshotDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`screenshot: ${path}`);
  return path;
}
