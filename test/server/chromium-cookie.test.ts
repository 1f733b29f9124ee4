/**
 * Chromium logs in on a page our server's http.Server serves (Set-Cookie), then opens a
 * WebSocket to the same origin: the browser sends the cookie, the upgrade handler admits it, and
 * the handler module in the pool thread sees the user. Without the cookie the upgrade is refused.
 */
import http from 'node:http';
import test from 'ava';
import type { Page } from 'playwright-core';
import { launchChromium, type ChromiumSession } from '../helpers/chromium.ts';
import type { UpgradeHandler } from '../../src/main/upgrade-handler.ts';
import { bothTransports, EchoHandlerUrl, startServer, within } from './support.ts';

let browser: ChromiumSession | undefined;
test.before(async () => {
  browser = await launchChromium();
});
test.after.always(async () => {
  await browser?.close();
});

const app = http.createServer((req, res) => {
  if (req.url === '/login') res.setHeader('Set-Cookie', 'session=s3cr3t; Path=/; HttpOnly; SameSite=Strict');
  res.setHeader('Content-Type', 'text/html');
  res.end('<!doctype html><title>chat</title><p>chat');
});

const cookieGate: UpgradeHandler = (request) => {
  const cookie = request.headers.find(([name]) => name.toLowerCase() === 'cookie')?.[1] ?? '';
  if (!/(?:^|;\s*)session=s3cr3t(?:;|$)/.test(cookie)) {
    return { accept: false, status: 401, headers: { 'WWW-Authenticate': 'Cookie' }, body: 'log in first' };
  }
  return { accept: true, attachment: { user: 'ada', origin: request.origin } };
};

/** In the page: opens a WebSocket to its own origin, asks 'whoami', resolves with the answer or 'refused'. */
function whoami(page: Page, url: string): Promise<string> {
  return page.evaluate((url) => new Promise<string>((resolve) => {
    const socket = new WebSocket(url);
    socket.onopen = () => socket.send('whoami');
    socket.onmessage = (event) => {
      resolve(String(event.data));
      socket.close(1000);
    };
    socket.onclose = () => resolve('refused');
  }), url);
}

bothTransports('Chromium: a cookie set by a page of the same origin admits its WebSocket; the handler sees the user', async (t, workers) => {
  const server = await startServer(t, workers, { handler: EchoHandlerUrl, httpServer: app, upgradeHandler: cookieGate });
  const origin = `http://127.0.0.1:${server.serverPort()}`;
  // Cookies are per host, not per port: the tests run one after the other, each from no cookie.
  await browser!.context.clearCookies();
  const page = await browser!.context.newPage();
  const url = `ws://127.0.0.1:${server.serverPort()}/chat`;
  t.teardown(() => page.close());

  await page.goto(`${origin}/`);
  t.is(await within(whoami(page, url), 20_000, 'the anonymous attempt'), 'refused');

  await page.goto(`${origin}/login`);
  const seen = JSON.parse(await within(whoami(page, url), 20_000, 'the logged-in attempt')) as { attachment: { user: string; origin: string }; cookie: string; threadId: number };
  t.deepEqual(seen.attachment, { user: 'ada', origin });
  t.regex(seen.cookie, /session=s3cr3t/);
  t.is(seen.threadId !== 0, workers > 0);
}, true);
