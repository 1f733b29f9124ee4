/** The worker end of an owner-side socket's commands: how the reasons to pause reading combine. */
import test from 'ava';
import { CommandReceiver, PauseReason, type ReceiverBackend } from '../../src/workers/command-receiver.ts';
import { ThreadTopics } from '../../src/workers/thread-topics.ts';

/** A backend that records pause and resume, for the pause reasons of a pool thread. */
function recordingBackend(): ReceiverBackend & { calls: string[] } {
  const calls: string[] = [];
  const none = (): void => {};
  return {
    calls,
    pause: () => { calls.push('pause'); },
    resume: () => { calls.push('resume'); },
    attach: none, sendText: () => 0, sendBinary: () => 0, ping: none, close: none, abort: none, flush: () => Promise.resolve(), writeQueued: () => Promise.resolve(),
    setLimit: none, setLivenessTimeout: none, bytesToWrite: () => 0, setFrameSignals: none, setOptionalSignals: none, setMaskGenerator: none,
    sendBuiltFrames: () => 0,
  };
}

test('pause reasons combine: reading resumes only when the user, the owner backlog and the pending queue all let go', (t) => {
  const receiver = new CommandReceiver(1, new ThreadTopics(() => {}));
  receiver.setPaused(PauseReason.Pending, true);
  const backend = recordingBackend();
  receiver.bind(backend);
  t.deepEqual(backend.calls, ['pause'], 'a pending connection is bound paused');
  receiver.pause();
  receiver.setPaused(PauseReason.OwnerBacklog, true);
  receiver.taken();
  receiver.setPaused(PauseReason.OwnerBacklog, false);
  t.deepEqual(backend.calls, ['pause'], 'the user still holds it');
  receiver.setPaused(PauseReason.OwnerBacklog, true);
  receiver.resume();
  t.deepEqual(backend.calls, ['pause'], 'the backlog still holds it');
  receiver.setPaused(PauseReason.OwnerBacklog, false);
  t.deepEqual(backend.calls, ['pause', 'resume']);
  receiver.setPaused(PauseReason.User, false);
  t.deepEqual(backend.calls, ['pause', 'resume'], 'letting go twice resumes once');
});
