import type * as YamlModule from 'yaml';

let loaded: typeof YamlModule | null = null;

/**
 * The `yaml` package, loaded on first use: most Meshers never read or write YAML (route-rule files, config
 * as code, `--config`), and loading it at start-up costs about 4 MB of idle RSS.
 */
export function yaml(): typeof YamlModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (loaded ??= require('yaml') as typeof YamlModule);
}
