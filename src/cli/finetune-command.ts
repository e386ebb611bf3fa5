import type { Command } from 'commander';
import type { CliContext } from './cli-context.ts';

export function registerFinetuneCommands(_program: Command, _context: CliContext): void {}
