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
  return `|${aclList(acl)
    .map((name) => `${name}|`)
    .join('')}`;
}

/** `|dept="hr"|year=2024|`: JSON values, so 2024 and "2024" stay distinct. */
export function metadataPairs(metadata: Record<string, MetadataValue>): string {
  const pairs = Object.entries(metadata).map(([key, value]) => metadataPair(key, value));
  return `|${pairs.map((pair) => `${pair}|`).join('')}`;
}

function metadataPair(key: string, value: MetadataValue): string {
  return `${token(key)}=${token(JSON.stringify(value))}`;
}

/** `['u:ann', 'g:hr']`: the names of `aclPrincipals` as a list, for a label-list index. */
export function aclList(acl: Acl): string[] {
  return [...acl.users.map((user) => `u:${token(user)}`), ...acl.groups.map((group) => `g:${token(group)}`)];
}

/** What `aclList` holds, computed from `acl_principals` when a store gains the column. */
export const ACL_LIST_SQL = "string_to_array(trim(both '|' from acl_principals), '|')";

/**
 * The ACL rule of `canRead` as a where clause; undefined for admins (everything is readable). With `list` the membership test reads the `acl_list` column, which a
 * label-list index answers without scanning; otherwise `acl_principals`, a scan of every row.
 */
export function aclWhere(principal: Principal, options: { list?: boolean } = {}): string | undefined {
  if (checkPrincipal(principal).admin === true) return undefined;
  const names = [`u:${token(principal.user)}`, ...principal.groups.map((group) => `g:${token(group)}`)];
  if (options.list)
    return `(acl_public = true OR array_has_any(acl_list, make_array(${names.map(sqlString).join(', ')})))`;
  const members = names.map((name) => `strpos(acl_principals, ${sqlString(`|${name}|`)}) > 0`);
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
