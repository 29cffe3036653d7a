import type { FastifyRequest } from 'fastify';
import type { CallbackDispatcher } from './callbacks.js';
import type { SimStore } from './state/store.js';

/** What every route module gets from the server. */
export interface SimulatorDeps {
  store: SimStore;
  /** The merchant the Basic credentials identify (customer tokens belong to one). */
  merchant: string;
  callbacks: CallbackDispatcher;
  /** Base URL shoppers and merchants reach the simulator on (configured, or from the request's Host). */
  publicUrl(request: FastifyRequest): string;
}
