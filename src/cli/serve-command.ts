import type { Command } from 'commander';
import { AttuneError } from '../models/model-error.ts';
import { createMcpServer, startServer } from '../server/index.ts';
import type { CliContext } from './cli-context.ts';
import { positiveInt, printable } from './flags.ts';
import { parsePrincipal } from './knowledge-command.ts';

/** Resolves on SIGINT or SIGTERM: a server command runs until it is told to stop. */
function untilSignalled(): Promise<string> {
  return new Promise((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve(signal));
  });
}

export function registerServeCommands(program: Command, context: CliContext): void {
  program
    .command('serve')
    .description('the HTTP API (Attune routes, OpenAI-compatible /v1, MCP at /mcp) on loopback')
    .option('--port <n>', 'port (0: any free one)', '8787')
    .option(
      '--host <address>',
      'address to bind; anything but loopback exposes the knowledge base',
      '127.0.0.1',
    )
    .option('--rate <n>', 'requests per key per minute', '600')
    .option('--max-waiting <n>', 'answers that may wait for the generator before 503', '16')
    .action(async (flags: { port: string; host: string; rate: string; maxWaiting: string }) => {
      const port = Number(flags.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new AttuneError(`--port must be 0-65535; got "${flags.port}".`);
      const attune = context.attune();
      await attune.knowledgeBase({ create: false });
      if (
        attune
          .keys()
          .list()
          .filter((k) => !k.revokedAt).length === 0
      )
        process.stderr.write(
          'warning: no API keys yet; every request will get 401. Create one: attune keys create\n',
        );
      const server = await startServer(attune, {
        port,
        host: flags.host,
        ratePerMinute: positiveInt(flags.rate, '--rate'),
        generation: { maxWaiting: positiveInt(flags.maxWaiting, '--max-waiting') },
      });
      process.stderr.write(
        `attune serving ${server.url}  (web app ${server.url}/app/, API docs ${server.url}/docs)\n`,
      );
      context.out(JSON.stringify({ url: server.url, port: server.port }));
      const signal = await untilSignalled();
      process.stderr.write(`${signal}: stopping\n`);
      await server.close();
    });

  program
    .command('mcp')
    .description('an MCP server on stdio (tools search_knowledge, ask, list_documents, get_document)')
    .requiredOption(
      '--principal <user[:group,group]>',
      'every call reads as this person (required: no default view)',
    )
    .action(async (flags: { principal: string }) => {
      const { StdioServerTransport } = await import('@modelcontextprotocol/sdk/server/stdio.js');
      const attune = context.attune();
      await attune.knowledgeBase({ create: false });
      const principal = parsePrincipal(flags.principal);
      const server = createMcpServer({
        attune,
        principal,
        answer: async (question, p, signal) =>
          (await attune.answerer()).answer(question, {
            principal: p,
            ...(signal ? { abortSignal: signal } : {}),
          }),
      });
      const transport = new StdioServerTransport();
      const closed = new Promise<void>((resolve) => {
        transport.onclose = () => resolve();
      });
      await server.connect(transport);
      process.stdin.once('end', () => void server.close());
      await Promise.race([closed, untilSignalled()]);
      await server.close();
    });

  const keys = program.command('keys').description('API keys for attune serve, each mapped to a principal');
  keys
    .command('create')
    .requiredOption('--principal <user[:group,group]>', 'whom the key reads as')
    .option('--name <text>', 'a label (default the user)')
    .option('--admin', 'may manage documents and see every audit record')
    .option('--json', 'machine-readable output')
    .action((flags: { principal: string; name?: string; admin?: boolean }, command: Command) => {
      const principal = parsePrincipal(flags.principal);
      const { key, info } = context
        .attune()
        .keys()
        .create({ principal, ...(flags.name ? { name: flags.name } : {}), admin: flags.admin === true });
      if (command.optsWithGlobals().json) context.out(JSON.stringify({ key, ...info }, null, 2));
      else {
        context.out(key);
        process.stderr.write(
          `key ${info.id} for ${printable(info.principal.user)} — shown once; only its hash is kept\n`,
        );
      }
    });
  keys
    .command('ls')
    .option('--json', 'machine-readable output')
    .action((_flags: unknown, command: Command) => {
      const list = context.attune().keys().list();
      if (command.optsWithGlobals().json) return context.out(JSON.stringify(list, null, 2));
      for (const k of list)
        context.out(
          `${k.id}  ${printable(k.name).padEnd(16)} ${printable(`${k.principal.user}${k.principal.groups.length ? `:${k.principal.groups.join(',')}` : ''}`).padEnd(28)} ${k.admin ? 'admin ' : '      '} ${k.revokedAt ? `revoked ${k.revokedAt}` : `created ${k.createdAt}`}`,
        );
      context.out(`${list.length} key(s)`);
    });
  keys
    .command('revoke')
    .argument('<id>', 'key id (keys ls)')
    .action((id: string) => {
      if (!context.attune().keys().revoke(id))
        throw new AttuneError(`No key "${printable(id)}".`, { hint: 'List keys with: attune keys ls' });
      context.out(`revoked ${id}`);
    });
}
