export { createApp, type ServerEnv, type ServerOptions } from './app.ts';
export { GenerationQueue, type QueueStats, RateLimiter } from './limits.ts';
export { createMcpServer, handleMcpRequest, type McpDeps } from './mcp.ts';
export { Problem, problemResponse } from './problem.ts';
export { type RunningServer, startServer } from './serve.ts';
