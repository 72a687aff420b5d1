/** A start-up option that cannot work: the message names the option; the CLI prints it and exits 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
