/**
 * The file contents the kill -9 test writes: version N of a dynamic security state large
 * enough (≈ 300 KB) that a write takes several system calls. called from: tests
 */
import { formatDynsecFile } from '../../../../src/auth/dynsec/configFile.ts';
import { emptyState } from '../../../../src/auth/dynsec/model.ts';

export function versionText(n: number): string {
  const state = emptyState();
  for (let i = 0; i < 2000; i++) {
    const username = `user-${String(i).padStart(4, '0')}`;
    state.clients.set(username, { username, textname: `version ${n}`, disabled: false, roles: [], groups: [] });
  }
  return formatDynsecFile(state);
}
