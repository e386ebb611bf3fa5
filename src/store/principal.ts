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
