import { RouteInventory } from '../../../apps/api/src/http/route-inventory.js';
import { ForgottenDebugController, NoRouteInventory } from '../../../apps/lab/src/removals.js';
import { buildApi, type TestApi } from '../../support/api.js';
import { exchange, scenario, type KillSwitchScenario, type Target } from '../support/kill-switch.js';

/**
 * Kill-switch proof for API9 (improper inventory): a debug route someone left in, outside every
 * surface and every document. With the inventory the listener refuses to start; without it the
 * route answers anyone with the process's internals. The forgotten route (ForgottenDebugController)
 * and the removal (NoRouteInventory) live in apps/lab/src/removals.ts, which the training lab
 * (`npm run lab -- API-INVENTORY`) applies too.
 */

interface MaybeStarted extends Target {
  api?: TestApi;
  refusal?: string;
}

export const INVENTORY_SCENARIOS: KillSwitchScenario[] = [
  scenario<MaybeStarted, undefined>({
    control: 'API-INVENTORY',
    attack: 'an anonymous client reads the process internals from a forgotten debug route (GET /debug/runtime), outside every surface and document',
    removal: 'RouteInventory is replaced by one that watches nothing',
    async target(intact) {
      // The probe controller is added like any test probe, but with the production inventory
      // (no probe exceptions) in the intact run.
      const inventory = intact ? new RouteInventory() : new NoRouteInventory();
      try {
        const api = await buildApi({ controllers: [ForgottenDebugController], overrides: [{ token: RouteInventory, value: inventory }] });
        return { api, close: () => api.close() };
      } catch (error) {
        return { refusal: (error as Error).message, close: async () => undefined };
      }
    },
    async run({ api, refusal }) {
      const url = '/debug/runtime';
      if (!api) {
        return {
          succeeded: false,
          observed: `the listener refused to start: ${refusal?.replace(/^.*?: /, '')}`,
          exchanges: [{ request: { method: 'GET', url }, response: { status: 0, body: { refusedToStart: refusal?.replace(/^.*?: /, '') } } }],
        };
      }
      const res = await api.app.getHttpAdapter().getInstance().inject({ method: 'GET', url });
      const body = res.statusCode === 200 ? (JSON.parse(res.body) as Record<string, unknown>) : undefined;
      return {
        succeeded: body !== undefined && typeof body.node === 'string',
        observed: `GET ${url} answered ${res.statusCode}${body ? ' with the Node version, process id, environment size and memory of the server' : ''}`,
        exchanges: [exchange({ method: 'GET', url }, { status: res.statusCode, headers: res.headers as Record<string, string>, body: body ? { node: '<node version>', pid: '<pid>', environmentVariables: '<count>', memory: '<bytes>' } : res.body })],
      };
    },
  }),
];
