// C spellings of BTF types, for the comments of generated code.
import type { Btf } from '../btf/btf.js';

/** `__u32`, `struct event`, `char[16]`, `const volatile int`, `void *`: how C would name the type. */
export function cTypeString(btf: Btf, id: number, depth = 0): string {
  if (depth > 16) return '...';
  const t = btf.type(id);
  switch (t.kind) {
    case 'VOID':
      return 'void';
    case 'INT':
    case 'FLOAT':
    case 'TYPEDEF':
      return t.name;
    case 'STRUCT':
    case 'UNION':
      return `${t.kind === 'STRUCT' ? 'struct' : 'union'}${t.name !== '' ? ` ${t.name}` : ' {...}'}`;
    case 'ENUM':
    case 'ENUM64':
      return `enum${t.name !== '' ? ` ${t.name}` : ' {...}'}`;
    case 'FWD':
      return `${t.fwdKind} ${t.name}`;
    case 'PTR': {
      const target = btf.type(t.type);
      if (target.kind === 'FUNC_PROTO') return 'function pointer';
      return `${cTypeString(btf, t.type, depth + 1)} *`;
    }
    case 'ARRAY':
      return `${cTypeString(btf, t.type, depth + 1)}[${t.nelems}]`;
    case 'CONST':
      return `const ${cTypeString(btf, t.type, depth + 1)}`;
    case 'VOLATILE':
      return `volatile ${cTypeString(btf, t.type, depth + 1)}`;
    case 'RESTRICT':
    case 'TYPE_TAG':
    case 'VAR':
      return cTypeString(btf, t.type, depth + 1);
    default:
      return t.kind.toLowerCase();
  }
}
