/** The person (or service) a read is made for. Every read path in Attune takes one. */
export type Principal = {
  user: string;
  groups: string[];
  /** Admins see every document and every audit record. */
  admin?: boolean;
};

export const anonymous: Principal = { user: 'anonymous', groups: [] };

/** Names allowed for users and groups: no spaces, colons, commas or control characters. */
const NAME = /^[\p{L}\p{N}][\p{L}\p{N}._@+-]*$/u;

export class PrincipalError extends Error {
  override readonly name = 'PrincipalError';
  readonly hint = 'Write a principal as user or user:group1,group2 (letters, digits, . _ @ + -).';
}

/**
 * `user` or `user:group1,group2`, strictly: an empty or malformed principal is an error, never a
 * wider view (an empty string once read as the admin). Admin is never expressed in this syntax.
 */
export function parsePrincipal(text: string): Principal {
  const parts = text.split(':');
  if (parts.length > 2)
    throw new PrincipalError(
      `Principal "${text}" has ${parts.length - 1} colons; only one separates user from groups.`,
    );
  const [user = '', groups] = parts;
  if (!NAME.test(user))
    throw new PrincipalError(
      user
        ? `Principal "${text}": "${user}" is not a valid user name.`
        : `Principal "${text}" names no user.`,
    );
  const list = groups === undefined ? [] : groups.split(',');
  if (groups !== undefined && list.some((g) => !NAME.test(g)))
    throw new PrincipalError(
      `Principal "${text}": the groups "${groups}" are not a comma-separated list of names.`,
    );
  return { user, groups: [...new Set(list)] };
}

/**
 * The shape every read checks before it builds a filter from a principal, whoever made it (the
 * CLI's parser, a library caller, a server's API key): a user that is a non-empty name without
 * control characters, groups that are such names, `admin` a real boolean. A malformed principal
 * is an error here, never read as "no restriction" further down.
 */
export function checkPrincipal(principal: Principal): Principal {
  const p = principal as unknown;
  if (typeof p !== 'object' || p === null) throw new PrincipalError('A principal must be an object.');
  const { user, groups, admin } = p as Record<string, unknown>;
  if (!isName(user)) throw new PrincipalError(`Principal user ${JSON.stringify(user)} is not a name.`);
  if (!Array.isArray(groups) || !groups.every(isName))
    throw new PrincipalError(
      `Principal "${user}": groups ${JSON.stringify(groups)} are not a list of names.`,
    );
  if (admin !== undefined && typeof admin !== 'boolean')
    throw new PrincipalError(
      `Principal "${user}": admin must be true or false, not ${JSON.stringify(admin)}.`,
    );
  return principal;
}

function isName(value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== '' && !/[\p{Cc}\u2028\u2029]/u.test(value);
}
