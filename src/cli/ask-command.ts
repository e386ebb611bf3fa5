import type { Command } from 'commander';
import type { CliContext } from './cli-context.ts';

export function registerAskCommands(_program: Command, _context: CliContext): void {}
