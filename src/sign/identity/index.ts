export {
  resolveIdentityToken,
  type IdentityToken,
  type IdentityTokenSource,
  type ResolveIdentityTokenOptions,
} from './identity-token.ts';
export { checkIdentityToken, type IdentityClaims } from './jwt.ts';
export { githubActionsToken, type GitHubActionsTokenOptions } from './github-actions.ts';
