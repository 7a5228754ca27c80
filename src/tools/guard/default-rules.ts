// Where the rules shipped with tsbpf are: beside guard's sources, which the package ships.
import { toolFile } from '../common/assets.js';

/** The default rules file. */
export function defaultRulesFile(): string {
  return toolFile('guard', 'rules', 'guard_rules.yaml');
}
