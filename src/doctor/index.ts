export { type HealthCheck, healthChecks } from './health-check.ts';
