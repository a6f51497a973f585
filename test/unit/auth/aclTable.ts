/**
 * An ACL file and the decisions Mosquitto 2.0.11 makes for it, measured against the real
 * broker (acl.mosquitto.test.ts replays the write cases against it when it is installed).
 * Shared by the unit test and the cross-check.
 */
import type { AclAccess } from '../../../src/auth/acl.ts';

export const ACL_TEXT = `# anonymous clients
topic write anon/#
topic deny anon/secret

user alice
topic readwrite alice/#
topic deny alice/private/#
topic write shared

user bob
topic write $SYS/bob
topic write bob/+/x

user su
topic readwrite #
topic readwrite $SYS/#

pattern write %c/data
pattern write x%c/odd
pattern write users/%u/in
pattern deny users/%u/in/blocked
pattern write all/%u/%c
`;

/** username → password, for the cross-check's password file */
export const USERS: Readonly<Record<string, string>> = { alice: 'a', bob: 'b', su: 's' };

export interface AclCase {
  readonly username: string | undefined;
  readonly clientId: string;
  readonly topic: string;
  readonly access: AclAccess;
  readonly allowed: boolean;
  readonly why: string;
}

function c(
  username: string | undefined,
  clientId: string,
  access: AclAccess,
  topic: string,
  allowed: boolean,
  why: string,
): AclCase {
  return { username, clientId, topic, access, allowed, why };
}

export const ACL_CASES: readonly AclCase[] = [
  c(undefined, 'c1', 'write', 'anon/a', true, 'top-of-file rules apply to anonymous clients'),
  c(undefined, 'c1', 'write', 'anon/secret', false, 'deny beats a broader grant'),
  c(undefined, 'c1', 'write', 'alice/x', false, "anonymous clients do not get a user's rules"),
  c(undefined, 'c1', 'write', 'c1/data', true, 'patterns with %c apply to anonymous clients'),
  c(undefined, 'anon1', 'write', 'users//in', false, 'patterns with %u never match anonymous clients'),
  c(undefined, 'c1', 'read', 'anon/a', false, 'write-only rule does not grant read'),
  c('alice', 'c2', 'write', 'alice/x', true, 'user rule grants'),
  c('alice', 'c2', 'read', 'alice/x', true, 'readwrite grants read'),
  c('alice', 'c2', 'write', 'alice/private/x', false, 'user deny'),
  c('alice', 'c2', 'read', 'alice/private/y', false, 'user deny applies to read too'),
  c('alice', 'c2', 'write', 'shared', true, 'second rule of the user'),
  c('alice', 'c2', 'read', 'shared', false, 'write-only'),
  c('alice', 'c2', 'write', 'users/alice/in', true, 'pattern with %u'),
  c('alice', 'c2', 'write', 'users/alice/in/', false, 'a trailing empty level is another topic'),
  c('alice', 'c2', 'write', 'users/alice/in/blocked', false, 'pattern deny'),
  c('alice', 'c2', 'write', 'c2/data', true, 'pattern with %c'),
  c('alice', 'c2', 'write', 'xc2/odd', true, '%c substituted inside a level (text substitution)'),
  c('alice', 'c2', 'write', 'all/alice/c2', true, '%u and %c together'),
  c('alice', 'a/b', 'write', 'a/b/data', true, "a client id with '/' spans levels"),
  c('alice', 'a/b', 'write', 'a/data', false, 'no partial match of a client id'),
  c('bob', 'c2x', 'write', 'c2/data', false, 'no prefix match of a client id'),
  c('bob', 'c2x', 'write', 'c2x/data', true, 'exact client id'),
  c('bob', 'c3', 'write', '$SYS/bob', false, 'clients never publish to $SYS, whatever the ACL'),
  c('bob', 'c3', 'write', 'bob/q/x', true, '+ matches one level'),
  c('bob', 'c3', 'write', 'bob/q/r/x', false, '+ matches exactly one level'),
  c('su', 'c5', 'write', 'any/thing', true, '# matches everything'),
  c('su', 'c5', 'write', '$SYS/foo', false, 'clients never publish to $SYS'),
  c('su', 'c5', 'write', '$SYS/broker/connection/x/state', true, 'bridge state topics are the $SYS exception'),
  c('alice', 'c2', 'write', '$SYS/broker/connection/x/state', false, 'the exception still needs an ACL grant'),
  c('su', 'c5', 'write', '$share/g/x', false, 'publishing to $share is refused'),
  c('su', 'c5', 'write', '$foo/x', false, '# does not match topics starting with $'),
];
