import { subject } from '@casl/ability';
import { describe, expect, it } from 'vitest';
import { defineAbilityFor, definePlatformAbility } from '../ability.js';
import type { OperatorRole } from '../principal.js';

const ME = '0193b7a0-0000-7000-8000-0000000000c1';
const OTHER_OPERATOR = '0193b7a0-0000-7000-8000-0000000000c2';
const TENANT = '0193b7a0-0000-7000-8000-00000000000a';
const sut = (...roles: OperatorRole[]) => definePlatformAbility({ kind: 'operator', operatorId: ME, roles, service: 'ops-cli' });

describe('operator rules', () => {
  it('support and security read tenants; support changes none, security only a tenant status', () => {
    for (const role of ['support', 'security'] as const) {
      expect(sut(role).can('read', 'Tenant')).toBe(true);
      for (const action of ['create', 'delete'] as const) expect(sut(role).can(action, 'Tenant')).toBe(false);
      expect(sut(role).can('update', 'Operator')).toBe(false);
    }
    expect(sut('support').can('update', 'Tenant')).toBe(false);
    expect(sut('security').can('update', 'Tenant', 'status')).toBe(true);
    expect(sut('security').can('update', 'Tenant', 'name')).toBe(false);
  });

  it('security and platform-admin respond to incidents (statuses, revocations); support does not', () => {
    for (const role of ['security', 'platform-admin'] as const) {
      expect(sut(role).can('update', 'User', 'status')).toBe(true);
      expect(sut(role).can('update', 'User', 'email')).toBe(false);
      for (const subject of ['Session', 'PartnerClient', 'PartnerApiKey'] as const) expect(sut(role).can('update', subject, 'revokedAt')).toBe(true);
    }
    for (const subject of ['Tenant', 'User', 'Session', 'PartnerClient', 'PartnerApiKey'] as const) expect(sut('support').can('update', subject)).toBe(false);
  });

  it('only security and platform-admin read the platform audit log', () => {
    expect(sut('support').can('read', 'PlatformAuditEvent')).toBe(false);
    expect(sut('security').can('read', 'PlatformAuditEvent')).toBe(true);
    expect(sut('platform-admin').can('read', 'PlatformAuditEvent')).toBe(true);
  });

  it('support and security read their own operator record and no other one (whoami)', () => {
    for (const role of ['support', 'security'] as const) {
      const ability = sut(role);
      expect(ability.can('read', subject('Operator', { id: ME } as never))).toBe(true);
      expect(ability.can('read', subject('Operator', { id: OTHER_OPERATOR } as never))).toBe(false);
    }
  });

  it('platform-admin manages tenants and operators', () => {
    expect(sut('platform-admin').can('update', 'Tenant')).toBe(true);
    expect(sut('platform-admin').can('create', 'Operator')).toBe(true);
  });

  it('platform subjects of their own: every role scrapes metrics, security and platform-admin list blocks, platform-admin alone runs the job queues', () => {
    for (const role of ['support', 'security', 'platform-admin'] as const) expect(sut(role).can('read', 'PlatformMetrics')).toBe(true);
    expect(sut('support').can('read', 'SecurityBlock')).toBe(false);
    for (const role of ['security', 'platform-admin'] as const) expect(sut(role).can('read', 'SecurityBlock')).toBe(true);
    for (const role of ['support', 'security'] as const) expect(sut(role).can('manage', 'JobQueue')).toBe(false);
    expect(sut('platform-admin').can('manage', 'JobQueue')).toBe(true);
  });

  it('platform-admin alone manages Prometheus scrape credentials', () => {
    for (const action of ['create', 'read', 'update'] as const) {
      for (const role of ['support', 'security'] as const) expect(sut(role).can(action, 'MetricsScrapeCredential')).toBe(false);
      expect(sut('platform-admin').can(action, 'MetricsScrapeCredential')).toBe(true);
    }
  });

  it('an operator without a role may do nothing at all (deny by default)', () => {
    const none = sut();
    for (const subject of ['Tenant', 'Operator', 'PlatformAuditEvent', 'PlatformMetrics', 'JobQueue', 'SecurityBlock', 'MetricsScrapeCredential', 'Invoice'] as const) expect(none.can('read', subject)).toBe(false);
  });

  it('no operator reads tenant data such as invoices or users', () => {
    const all = sut('support', 'security', 'platform-admin');
    for (const subject of ['Invoice', 'User', 'Membership', 'AuditEvent', 'Document'] as const) expect(all.can('read', subject)).toBe(false);
  });

  it('a tenant ability built for an operator grants nothing (operators never act in a tenant implicitly)', () => {
    const inTenant = defineAbilityFor(TENANT, { kind: 'operator', operatorId: ME, roles: ['platform-admin'], service: 'ops-cli' });
    expect(inTenant.can('read', 'Tenant')).toBe(false);
    expect(inTenant.rules).toEqual([]);
  });
});
