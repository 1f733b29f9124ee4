#!/usr/bin/env node
/**
 * The `wsthreads` command line: `serve` (a multi-core WebSocket server with a live status page),
 * `bench` (the load tester) and `client` (an interactive client). Each command registers itself;
 * each action sets process.exitCode rather than exiting, so that output is flushed.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerBenchCommand } from './bench-command.ts';
import { registerClientCommand } from './client-command.ts';
import { registerServeCommand } from './serve-command.ts';

// package.json is two folders up from both src/cli and dist/cli.
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('wsthreads')
  .description('multi-core WebSocket server, load tester and client')
  .version(version)
  .showHelpAfterError("(run 'wsthreads --help' for the commands)");
registerServeCommand(program);
registerBenchCommand(program);
registerClientCommand(program);
// An option error is one line and a hint, not the whole help; --version works on every command.
for (const command of program.commands) {
  command.version(version).showHelpAfterError(`(run 'wsthreads ${command.name()} --help' for its options)`);
}
await program.parseAsync(process.argv);
