#!/usr/bin/env node
// The CLI runs from TypeScript sources through tsx's loader, so there is no build step to forget.
import { register } from 'tsx/esm/api';

register();
const { main, exitAfterDrain, quietOnClosedPipe } = await import('../src/cli/main.ts');
quietOnClosedPipe(process.stdout);
await exitAfterDrain(await main(process.argv));
