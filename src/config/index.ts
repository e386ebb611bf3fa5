export {
  type AttuneConfig,
  type AttuneConfigInput,
  CONFIG_FILE_NAME,
  ConfigError,
  configSchema,
  defaultConfig,
  type LoadConfigOptions,
  loadConfig,
} from './config.ts';
