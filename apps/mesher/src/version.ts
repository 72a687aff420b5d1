// Read once at load; package.json sits two levels above dist/apps/mesher/src.
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const MESHER_VERSION: string = (require('../../../../package.json') as { version: string }).version;
