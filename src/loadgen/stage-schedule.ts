/**
 * Ramps in stages, as k6's `stages`: `--stages 10s:100,30s:1000,10s:0` moves the target (clients
 * in a storm, connections held in a hold) linearly from where the previous stage left it (0 at
 * the start) to each stage's target over that stage's duration. After the last stage the run ends.
 */
import { InvalidArgumentError } from '../shared/engine/errors.ts';
import { parseTimeSpan } from './time-span.ts';

export interface Stage {
  durationMs: number;
  target: number;
}

/** Parses `10s:100,30s:1000,10s:0` (a bare duration number is in seconds). */
export function parseStages(text: string): Stage[] {
  const stages = text.split(',').map((part) => {
    const match = /^\s*([^:]+):\s*(\d+)\s*$/.exec(part);
    if (match === null) throw new InvalidArgumentError(`a stage is duration:target, such as 30s:1000; got '${part.trim()}'`);
    return { durationMs: parseTimeSpan(match[1]!, 's'), target: Number(match[2]) };
  });
  if (stages.length === 0) throw new InvalidArgumentError('--stages needs at least one stage');
  return stages;
}

export function stagesDurationMs(stages: readonly Stage[]): number {
  return stages.reduce((sum, stage) => sum + stage.durationMs, 0);
}

/** The target `elapsedMs` into the run (whole clients or connections, rounded down). */
export function targetAt(stages: readonly Stage[], elapsedMs: number): number {
  let from = 0;
  let start = 0;
  for (const stage of stages) {
    if (elapsedMs < start + stage.durationMs) {
      return Math.floor(from + ((stage.target - from) * Math.max(0, elapsedMs - start)) / stage.durationMs);
    }
    from = stage.target;
    start += stage.durationMs;
  }
  return from;
}

/** The largest target any stage reaches. */
export function peakTarget(stages: readonly Stage[]): number {
  return stages.reduce((peak, stage) => Math.max(peak, stage.target), 0);
}
