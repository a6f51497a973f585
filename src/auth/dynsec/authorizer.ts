/**
 * A worker's Authorizer when the dynamic security plugin is loaded, chained as Mosquitto 2.0
 * chains its ACL checks (src/security.c mosquitto_acl_check): first the rules no plugin can
 * lift (publishing to `$SYS/…` or `$share/…`), then the plugin; when it has no opinion, the
 * acl_file if there is one (every UNSUBSCRIBE; a SUBSCRIBE that may read something); with neither
 * deciding, the access is refused.
 * The snapshot is replaced whole when the main thread sends a new one: checks after update()
 * see the new rules.
 * called from: worker
 */
import { aclCheck, type AclAccess, type AclClient } from '../acl.ts';
import { DEFER, dynsecVerdict, type DynsecAccess } from './aclEval.ts';
import type { DynsecSnapshot } from './snapshot.ts';

export class DynsecAuthorizer {
  private snapshot: DynsecSnapshot;
  /** the acl_file authorizer (src/auth/aclAuthorizer.ts), if any; replaced by a configuration reload */
  private acl: { allows(client: AclClient, topic: string, access: AclAccess): boolean } | undefined;

  constructor(snapshot: DynsecSnapshot, acl: { allows(client: AclClient, topic: string, access: AclAccess): boolean } | undefined) {
    this.snapshot = snapshot;
    this.acl = acl;
  }

  /** Applies a new snapshot from the main thread. */
  update(snapshot: DynsecSnapshot): void {
    this.snapshot = snapshot;
  }

  /** Consults `acl` (the reloaded acl_file, or none) from now on where the plugin has no opinion. */
  replaceAcl(acl: { allows(client: AclClient, topic: string, access: AclAccess): boolean } | undefined): void {
    this.acl = acl;
  }

  allows(client: AclClient, topic: string, access: DynsecAccess): boolean {
    // acl__check_dollar: only $-topics can be refused here (no allocation for the others)
    if ((access === 'read' || access === 'write') && topic.charCodeAt(0) === 0x24 && !aclCheck(undefined, client, topic, access)) {
      return false;
    }
    const verdict = dynsecVerdict(this.snapshot, client.clientId, client.username, topic, access);
    if (verdict !== DEFER) return verdict > 0;
    return this.acl !== undefined && this.acl.allows(client, topic, access);
  }
}
