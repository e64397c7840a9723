export {
  defineAbilityFor,
  SUBJECT_NAMES,
  type Action,
  type AppAbility,
  type AppAbilityBuilder,
  type AppSubjects,
  type PrismaQuery,
  type RuleContext,
  type SubjectName,
} from './ability.js';
export { principalId, type Principal, type SystemPrincipal, type UserPrincipal } from './principal.js';
export { accessibleWhere, AccessConditionError } from './accessible.js';
