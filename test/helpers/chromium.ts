/**
 * A real Chromium for browser tests, independent of the test runner: Debian's `chromium`
 * package (installed with apt-get when /usr/bin/chromium is missing) driven by playwright-core.
 * The flags keep it headless and off the network: without the last ones Chromium keeps dialling
 * out (updates, sync, field trials) and the closed network refuses it.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { aptInstall } from './apt.ts';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestFn } from 'ava';
import type { BrowserContext, Page } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Installs Debian's chromium if it is not there yet (needs root, as the test machines run). */
export function ensureChromium(): string {
  if (existsSync(CHROMIUM_PATH)) return CHROMIUM_PATH;
  aptInstall('chromium');
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`apt-get installed chromium but ${CHROMIUM_PATH} is missing`);
  return CHROMIUM_PATH;
}

export interface ChromiumSession {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Launches Chromium with a fresh profile directory (removed again by close()). */
export async function launchChromium(): Promise<ChromiumSession> {
  const executablePath = ensureChromium();
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'wsthreads-chromium-'));
  // A persistent context is how playwright takes a profile directory of our choosing.
  const context = await chromium.launchPersistentContext(profile, { executablePath, args: CHROMIUM_ARGS, headless: true });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * For a test file: one Chromium and one page server for all its tests (started before, closed
 * after); `open()` gives a fresh page at the page server's origin.
 */
export function chromiumPages(test: TestFn): { open(): Promise<Page>; origin(): string } {
  let browser: ChromiumSession | undefined;
  let pageServer: { origin: string; close(): void } | undefined;
  test.before(async () => {
    browser = await launchChromium();
    pageServer = await startPageServer();
  });
  test.after.always(async () => {
    await browser?.close();
    pageServer?.close();
  });
  return {
    origin: () => pageServer!.origin,
    async open() {
      const page = await browser!.context.newPage();
      await page.goto(`${pageServer!.origin}/`);
      return page;
    },
  };
}

/** A blank page on a local HTTP server: a page needs a real origin to open WebSockets from. */
async function startPageServer(): Promise<{ origin: string; close(): void }> {
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html' });
    response.end('<!doctype html><title>wsthreads peer</title><p>peer');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

// Run directly (`node test/helpers/chromium.ts`) to install ahead of the tests.
if (import.meta.url === `file://${process.argv[1]}`) console.log(ensureChromium());
