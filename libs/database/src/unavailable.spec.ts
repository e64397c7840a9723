import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from './unavailable.js';

describe('isDatabaseUnavailable', () => {
  it.each([
    ['a refused connection from pg', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    ['a pool timeout', new Error('timeout exceeded when trying to connect')],
    ['a dropped connection', new Error('Connection terminated unexpectedly')],
    ['an administrator shutdown (57P01)', Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })],
    ['a server starting up (57P03)', { code: '57P03' }],
    ['a connection exception class 08', { code: '08006' }],
    ['a driver adapter error by kind', { name: 'DriverAdapterError', cause: { kind: 'DatabaseNotReachable' } }],
    ['a Prisma error carrying the adapter error', { code: 'P2010', meta: { driverAdapterError: { cause: { kind: 'ConnectionClosed' } } } }],
    ['a Prisma error carrying the SQLSTATE', { code: 'P2010', meta: { driverAdapterError: { cause: { originalCode: '57P01' } } } }],
    ['Prisma cannot reach the server', { code: 'P1001' }],
  ])('%s is an outage', (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it.each([
    ['a unique violation', { code: 'P2002' }],
    ['a serialization failure', { code: 'P2034' }],
    ['a check violation', { code: 'P2010', meta: { driverAdapterError: { cause: { originalCode: '23514' } } } }],
    ['a programming error', new TypeError('Cannot read properties of undefined')],
    ['nothing', undefined],
    ['a string', 'ECONNREFUSED'],
  ])('%s is not', (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
  });
});
