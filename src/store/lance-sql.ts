/**
 * How ACLs and metadata become flat columns of an entry row, and how a principal or a metadata
 * filter becomes a LanceDB (DataFusion) where clause over them.
 *
 * Membership tests use `strpos`, not LIKE: LIKE gives `%`, `_` and `\` special meaning inside the
 * pattern, strpos matches the literal text, so only the quote needs escaping.
 */
import type { Acl } from '../ingest/document.ts';
import type { MetadataFilter, MetadataValue } from './knowledge-store.ts';
import { checkPrincipal, type Principal } from './principal.ts';

/** A SQL string literal. */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

// Delimiters of the flat columns must not occur inside a token.
function token(value: string): string {
  return value.replaceAll('%', '%25').replaceAll('|', '%7C').replaceAll('=', '%3D');
}

/** `|u:ann|g:hr|`: every principal the ACL names, delimited on both sides so a match is exact. */
export function aclPrincipals(acl: Acl): string {
  const names = [
    ...acl.users.map((user) => `u:${token(user)}`),
    ...acl.groups.map((group) => `g:${token(group)}`),
  ];
  return `|${names.map((name) => `${name}|`).join('')}`;
}

/** `|dept="hr"|year=2024|`: JSON values, so 2024 and "2024" stay distinct. */
export function metadataPairs(metadata: Record<string, MetadataValue>): string {
  const pairs = Object.entries(metadata).map(([key, value]) => metadataPair(key, value));
  return `|${pairs.map((pair) => `${pair}|`).join('')}`;
}

function metadataPair(key: string, value: MetadataValue): string {
  return `${token(key)}=${token(JSON.stringify(value))}`;
}

/** The ACL rule of `canRead` as a where clause; undefined for admins (everything is readable). */
export function aclWhere(principal: Principal): string | undefined {
  if (checkPrincipal(principal).admin === true) return undefined;
  const needles = [`|u:${token(principal.user)}|`, ...principal.groups.map((group) => `|g:${token(group)}|`)];
  const members = needles.map((needle) => `strpos(acl_principals, ${sqlString(needle)}) > 0`);
  return `(acl_public = true OR ${members.join(' OR ')})`;
}

export function filterWhere(filter: MetadataFilter | undefined): string | undefined {
  if (filter === undefined) return undefined;
  const clauses = Object.entries(filter).map(([key, wanted]) => {
    const values = Array.isArray(wanted) ? wanted : [wanted];
    if (values.length === 0) return 'false';
    const tests = values.map(
      (value) => `strpos(meta_pairs, ${sqlString(`|${metadataPair(key, value)}|`)}) > 0`,
    );
    return `(${tests.join(' OR ')})`;
  });
  return clauses.length === 0 ? undefined : clauses.join(' AND ');
}

export function and(...clauses: (string | undefined)[]): string {
  const present = clauses.filter((clause): clause is string => clause !== undefined && clause !== '');
  return present.map((clause) => `(${clause})`).join(' AND ');
}
