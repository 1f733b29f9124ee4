#!/usr/bin/env node
/**
 * The `wsthreads` command line: `serve` (a multi-core WebSocket server with a live status page),
 * `bench` (the load tester) and `client` (an interactive client). Each command registers itself;
 * each action sets process.exitCode rather than exiting, so that output is flushed.
 */
import { Command } from 'commander';
import { registerBenchCommand } from './bench-command.ts';
import { registerClientCommand } from './client-command.ts';
import { registerServeCommand } from './serve-command.ts';

const program = new Command('wsthreads')
  .description('multi-core WebSocket server, load tester and client')
  .showHelpAfterError();
registerServeCommand(program);
registerBenchCommand(program);
registerClientCommand(program);
await program.parseAsync(process.argv);
