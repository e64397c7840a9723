export {
  defineAbilityFor,
  definePlatformAbility,
  SUBJECT_NAMES,
  type Action,
  type AppAbility,
  type AppAbilityBuilder,
  type AppSubjects,
  type PrismaQuery,
  type TenantPrincipal,
  type SubjectModels,
  type SubjectName,
} from './ability.js';
export {
  OPERATOR_ROLES,
  PARTNER_SCOPES,
  PARTNER_TIERS,
  principalId,
  type OperatorPrincipal,
  type OperatorRole,
  type PartnerPrincipal,
  type PartnerScope,
  type PartnerTier,
  type Principal,
  type PrincipalIdentity,
  type SystemPrincipal,
  type UserPrincipal,
} from './principal.js';
export { PARTNER_SCOPE_GRANTS } from './rules/partner.rules.js';
export { accessibleEqualities, accessibleWhere, AccessConditionError, type AccessibleEqualities } from './accessible.js';
export { AbilityFactory, type TenantAbilities } from './ability-factory.js';
export { authorize, permits, type HasAbility, type SubjectRow } from './authorize.js';
export { visibleFields, type FieldOf } from './visible-fields.js';
export { recordedBy } from './recorded-by.js';
