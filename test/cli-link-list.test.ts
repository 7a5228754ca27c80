import assert from 'node:assert/strict';
import { test } from 'node:test';
import { listText } from '../src/cli/link.js';
import { LinkType } from '../src/sys/types.js';

test('link list says when there are no links, and lists each link otherwise', () => {
  assert.equal(listText([]), 'no links\n');
  const info = { id: 7, type: LinkType.CGROUP, typeName: 'cgroup', progId: 9, mechanism: 'bpf_link' as const, details: { kind: 'cgroup' as const, cgroupId: 1n, attachType: 0, attachTypeName: 'cgroup_inet_ingress' } };
  assert.match(listText([info, { ...info, id: 8 }]), /^7: cgroup {2}prog 9\n.*\n8: cgroup {2}prog 9\n/);
});
