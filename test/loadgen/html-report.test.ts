import test from 'ava';
import { defaultBenchOptions } from '../../src/loadgen/bench-options.ts';
import { buildReport } from '../../src/loadgen/build-report.ts';
import { emptyErrorCounts } from '../../src/loadgen/generator-protocol.ts';
import { percentileAxis, renderHtmlReport } from '../../src/loadgen/html-report.ts';
import { createLatencyHistogram, encodeHistogram, recordMicros } from '../../src/loadgen/latency-histogram.ts';
import { RunAggregator } from '../../src/loadgen/run-aggregator.ts';
import { htmlProblems } from '../helpers/html-balance.ts';

function sampleReport() {
  const run = new RunAggregator(1);
  for (let second = 0; second < 3; second++) {
    const rtt = createLatencyHistogram();
    for (let i = 0; i < 1000; i++) recordMicros(rtt, 100 + (i % 50) * 10 + (i === 999 ? 20_000 : 0));
    run.addBin({
      thread: 0, second, sent: 1000, received: 1000, bytesSent: 70_000, bytesReceived: 66_000,
      connectionsOpened: second === 0 ? 4 : 0, connectionsFailed: 0, peakConnections: 4, openConnections: 4, errors: 0,
      roundTrip: encodeHistogram(rtt), handshake: encodeHistogram(createLatencyHistogram()), cpuMicros: 200_000, wallMs: 1000,
    });
  }
  run.addResult({
    thread: 0, binsPosted: 3, lastBin: undefined, connectionsAttempted: 4, errorsByKind: emptyErrorCounts(),
    errorSamples: ['mismatch: <script>alert(1)</script>'], closeCodes: { '1000': 4 },
    firstSendEpochMs: 5000, lastReplyEpochMs: 8000, firstFailureEpochMs: 0, cpuMicros: 600_000, wallMs: 3000,
  });
  return buildReport(run, {
    options: { ...defaultBenchOptions(), connections: 4, durationMs: 3000, rate: 1000 },
    url: 'ws://127.0.0.1:9/<x>',
    embeddedServer: false,
    startedAtEpochMs: 5000,
    wallMs: 3000,
    thresholds: { maxP99Ms: 1, maxErrors: undefined, minRate: undefined },
  });
}

test('the HTML report is well formed, self-contained, and embeds the JSON report', (t) => {
  const report = sampleReport();
  const html = renderHtmlReport(report);
  t.true(html.startsWith('<!DOCTYPE html>'));
  t.deepEqual(htmlProblems(html), []);
  // Nothing to fetch: no URL of any resource, no external script or stylesheet.
  t.notRegex(html, /https?:\/\//);
  t.notRegex(html, /\ssrc=|<link|@import|url\(/);
  t.is((html.match(/<svg /g) ?? []).length, 3);
  t.regex(html, /<path d="M[\d.]+,[\d.]+ L/);
  // User-controlled text is escaped.
  t.false(html.includes('<x>'));
  const data = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html);
  t.truthy(data);
  t.deepEqual(JSON.parse(data![1]!), JSON.parse(JSON.stringify(report)));
});

test('the latency chart stretches the tail: 90% is one step, 99% two, 99.9% three', (t) => {
  t.is(percentileAxis(0), 0);
  t.is(percentileAxis(90), 1);
  t.true(Math.abs(percentileAxis(99) - 2) < 1e-9);
  t.true(Math.abs(percentileAxis(99.9) - 3) < 1e-9);
});

test('the well-formedness check itself catches misnested, unclosed and stray markup', (t) => {
  t.deepEqual(htmlProblems('<div><p>a</p></div>'), []);
  t.true(htmlProblems('<div><span></div>').length > 0);
  t.true(htmlProblems('<div>').length > 0);
  t.true(htmlProblems('<div a=b></div>').length > 0);
  t.deepEqual(htmlProblems('<script>if (a < b) x("</div>")</script>'), []);
});
