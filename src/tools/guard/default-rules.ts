// Where the rules shipped with tsbpf are: beside guard's sources, which the package ships.
import { toolObject } from '../common/objects.js';

/** The default rules file. */
export function defaultRulesFile(): string {
  return toolObject('guard', 'rules/guard_rules.yaml');
}
