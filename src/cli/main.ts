import { Command } from 'commander';
import { AttuneError } from '../models/model-error.ts';
import { registerAdviseCommand } from './advise-command.ts';
import { registerAskCommands } from './ask-command.ts';
import { CliContext } from './cli-context.ts';
import { registerDatasetCommands } from './dataset-command.ts';
import { registerDoctorCommand } from './doctor-command.ts';
import { registerEditorialCommands } from './editorial-command.ts';
import { registerEvalCommands } from './eval-command.ts';
import { registerFinetuneCommands } from './finetune-command.ts';
import { registerKnowledgeCommands } from './knowledge-command.ts';
import { registerModelsCommand } from './models-command.ts';
import { registerServeCommands } from './serve-command.ts';
import { registerStoreCommands } from './store-command.ts';

export async function main(argv: string[]): Promise<number> {
  const program = new Command();
  program
    .name('attune')
    .description('Adapt language models to your knowledge: RAG, fine-tuning and the hybrid, measured.')
    .option('--config <file>', 'config file (default ./attune.config.json)')
    .option('--home <dir>', 'model cache (ATTUNE_HOME)')
    .option('--dir <dir>', 'knowledge base directory (ATTUNE_DIR)')
    .option('--chat-model <name>', 'chat model name or .gguf path')
    .option('--embedding-model <name>', 'embedding model name')
    .showHelpAfterError();
  const context = new CliContext(() => {
    const o = program.opts<{
      config?: string;
      home?: string;
      dir?: string;
      chatModel?: string;
      embeddingModel?: string;
    }>();
    return {
      ...(o.config ? { configFile: o.config } : {}),
      ...(o.home ? { home: o.home } : {}),
      ...(o.dir ? { dir: o.dir } : {}),
      models: {
        ...(o.chatModel ? { chat: o.chatModel } : {}),
        ...(o.embeddingModel ? { embedding: o.embeddingModel } : {}),
      },
    };
  });
  registerModelsCommand(program, context);
  registerDoctorCommand(program, context);
  registerKnowledgeCommands(program, context);
  registerAskCommands(program, context);
  registerDatasetCommands(program, context);
  registerFinetuneCommands(program, context);
  registerEvalCommands(program, context);
  registerAdviseCommand(program, context);
  registerServeCommands(program, context);
  registerStoreCommands(program, context);
  registerEditorialCommands(program, context);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (AttuneError.isInstance(error)) {
      process.stderr.write(`error: ${error.message}\n${error.hint ? `hint: ${error.hint}\n` : ''}`);
    } else {
      process.stderr.write(`error: ${(error as Error).stack ?? String(error)}\n`);
    }
    return 1;
  } finally {
    await context.dispose();
  }
}

/**
 * Exits once stdout and stderr have drained: process.exit() drops whatever a pipe has not taken
 * yet, which cut `attune audit ls --json | ...` off at 64 KiB. A reader that goes away early
 * (`| head`) is not an error of ours: EPIPE ends the process quietly.
 */
export async function exitAfterDrain(code: number): Promise<never> {
  const drained = (stream: NodeJS.WriteStream) =>
    new Promise<void>((resolve) => {
      if (stream.destroyed || !stream.writable) return resolve();
      stream.write('', () => resolve());
    });
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
  process.exit(code);
}

export function quietOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('src/cli/main.ts')) {
  quietOnClosedPipe(process.stdout);
  main(process.argv).then(exitAfterDrain);
}
