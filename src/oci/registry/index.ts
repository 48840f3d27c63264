export {
  type ListTagsOptions,
  type PutManifestResult,
  MANIFEST_SIZE_LIMIT,
  type ReferrersOptions,
  Registry,
  type RegistryOptions,
  registryFor,
} from './client.ts';
export { type ReferrersResult, referrersTag } from './referrers.ts';
export { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.ts';
export { openRegistrySource, openRegistryTarget } from './source.ts';
export { RequestCount, type RequestEvent } from './request-count.ts';
