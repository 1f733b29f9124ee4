import test from 'ava';
import { ProgressDisplay, formatProgress } from '../../src/loadgen/progress-display.ts';

const figures = {
  elapsedMs: 3200,
  totalMs: 10_000,
  sent: 5000,
  totalMessages: undefined,
  connections: 100,
  receivedPerSecond: 12345.67,
  p99Ms: 1.2345,
  errors: 2,
};

class Capture {
  text = '';
  readonly isTTY: boolean;
  constructor(isTTY: boolean) {
    this.isTTY = isTTY;
  }
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

test('the progress line shows elapsed/total, connections, msgs/s, p99 and errors', (t) => {
  t.is(formatProgress(figures), '[3.2s / 10.0s] 100 conns | 12,346 msgs/s | p99 1.234 ms | errors 2');
  t.is(
    formatProgress({ ...figures, totalMs: undefined, totalMessages: 20_000 }),
    '[3.2s, 5,000 / 20,000 msgs] 100 conns | 12,346 msgs/s | p99 1.234 ms | errors 2',
  );
});

test('on a terminal the line is rewritten in place; elsewhere one plain line per second', (t) => {
  const tty = new Capture(true);
  const live = new ProgressDisplay(tty);
  live.second(figures);
  live.tick(3450);
  live.end();
  // Column 0 (CSI G) and erase line (CSI 2K) before each redraw, no newline.
  t.is(
    tty.text,
    '\x1b[1G\x1b[2K' + formatProgress(figures) + '\x1b[1G\x1b[2K' + formatProgress({ ...figures, elapsedMs: 3450 }) + '\x1b[1G\x1b[2K',
  );
  const pipe = new Capture(false);
  const plain = new ProgressDisplay(pipe);
  plain.second(figures);
  plain.tick(3450);
  plain.second({ ...figures, elapsedMs: 4200 });
  plain.end();
  t.is(pipe.text, formatProgress(figures) + '\n' + formatProgress({ ...figures, elapsedMs: 4200 }) + '\n');
});

test('a message in live mode clears the line, prints, and redraws it', (t) => {
  const tty = new Capture(true);
  const live = new ProgressDisplay(tty);
  live.second(figures);
  tty.text = '';
  live.message('warning: x');
  t.is(tty.text, '\x1b[1G\x1b[2Kwarning: x\n\x1b[1G\x1b[2K' + formatProgress(figures));
});
