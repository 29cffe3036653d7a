import type { RecordedRequest } from '../context.js';
import type { CreateSessionBody, CreateTokenOrderBody, Intent } from '../validation.js';
import { SimClock } from './clock.js';

// The simulator's in-memory state. Plain records keyed by Klarna's ids; every route and control
// reads and writes through one SimStore, so `POST /_sim/reset` is a single call. Times are epoch
// milliseconds of the simulator clock.

/** What the shopper paid with (simulator choice at authorization; Customer Token API's payment_method_type). */
export const paymentMethodTypes = ['CARD', 'DIRECT_DEBIT', 'INVOICE', 'ACCOUNT', 'BANK_TRANSFER'] as const;
export type PaymentMethodType = (typeof paymentMethodTypes)[number];
/** BANK_TRANSFER stands for a method Klarna cannot tokenize (seed 001's BAD_REQUEST row). */
export const nonTokenizableMethods: ReadonlySet<PaymentMethodType> = new Set(['BANK_TRANSFER']);

export type FraudStatus = 'ACCEPTED' | 'PENDING' | 'REJECTED';

export interface SessionRecord {
  session_id: string;
  client_token: string;
  created_at: number;
  expires_at: number;
  /** The session as created, with updates merged in. */
  data: CreateSessionBody;
  /** Klarna: 'complete' once an order is placed (assumption: also once a tokenize session made its token). */
  status: 'incomplete' | 'complete';
  authorization_tokens: string[];
  order_id?: string;
}

export interface AuthorizationRecord {
  authorization_token: string;
  session_id: string;
  intent: Intent;
  authorized_at: number;
  expires_at: number;
  /** The session's purchase data when the shopper authorized: what an order must match. */
  snapshot: CreateSessionBody;
  payment_method_type: PaymentMethodType;
  fraud_status: FraudStatus;
  order_id?: string;
  customer_token_id?: string;
  released_at?: number;
  /** Set when the session was a step-up recovery session (seed 000). */
  step_up_id?: string;
  /** Scenario: the order answer's authorized_payment_method as the seeds' bare string. */
  authorized_payment_method_format?: 'object' | 'string';
  /** Playground step-up address: the extra authentication the shopper passed (otp_email, bank_login…). */
  step_up_method?: string;
}

export type TokenStatus = 'ACTIVE' | 'SUSPENDED' | 'CANCELLED';

export interface CustomerTokenRecord {
  token_id: string;
  /** The merchant (API username) the token belongs to; another merchant gets TOKEN_FORBIDDEN. */
  merchant: string;
  status: TokenStatus;
  created_at: number;
  intent: Intent;
  session_id?: string;
  authorization_token?: string;
  purchase_country: string;
  purchase_currency: string;
  locale: string;
  description: string;
  billing_address?: Record<string, unknown>;
  customer?: Record<string, unknown>;
  payment_method_reference: string;
  payment_method_type: PaymentMethodType;
  /** Scenario: the stored payment method fails every charge until a step-up recovery order fixes it. */
  payment_method_failing: boolean;
  /** Scenario: errors the next token orders answer with, first in first out. */
  next_order_errors: string[];
  order_ids: string[];
}

export interface OrderRecord {
  order_id: string;
  source: 'authorization' | 'customer_token';
  authorization_token?: string;
  session_id?: string;
  token_id?: string;
  idempotency_key?: string;
  created_at: number;
  fraud_status: FraudStatus;
  order_amount: number;
  purchase_currency: string;
  body: unknown;
  response: Record<string, unknown>;
}

export interface IdempotencyRecord {
  key: string;
  /** Method, path and canonical body: the same key with another request is a conflict. */
  fingerprint: string;
  created_at: number;
  status: number;
  body: unknown;
}

export interface StepUpRecord {
  step_up_id: string;
  token_id: string;
  created_at: number;
  order_request: CreateTokenOrderBody;
  /** Set when a recovery order succeeded and the token got its new payment method. */
  completed_at?: number;
}

/** Hosted Payment Page v1 session states (klarna-api-facts §3). */
export const hppStatuses = ['WAITING', 'IN_PROGRESS', 'COMPLETED', 'FAILED', 'CANCELLED', 'BACK', 'ERROR', 'DISABLED'] as const;
export type HppStatus = (typeof hppStatuses)[number];
/** No way out of these; FAILED, BACK and ERROR let the shopper try again. */
export const hppFinalStatuses: ReadonlySet<HppStatus> = new Set(['COMPLETED', 'CANCELLED', 'DISABLED']);
export type PlaceOrderMode = 'NONE' | 'PLACE_ORDER' | 'CAPTURE_ORDER';

export interface HppSessionRecord {
  session_id: string;
  /** The Klarna Payments session it hosts. */
  kp_session_id: string;
  status: HppStatus;
  created_at: number;
  updated_at: number;
  expires_at: number;
  merchant_urls: Partial<Record<'back' | 'cancel' | 'error' | 'failure' | 'status_update' | 'success', string>>;
  place_order_mode: PlaceOrderMode;
  options: Record<string, unknown>;
  authorization_token?: string;
  order_id?: string;
  klarna_reference?: string;
}

// --- Klarna v2 (klarna-api-facts §4; seeds 002, 003) ---

export const v2States = ['SUBMITTED', 'IN_PROGRESS', 'COMPLETED', 'EXPIRED', 'CANCELED', 'DECLINED'] as const;
export type V2State = (typeof v2States)[number];
export const v2FinalStates: ReadonlySet<V2State> = new Set(['COMPLETED', 'EXPIRED', 'CANCELED', 'DECLINED']);
export type V2Result = 'APPROVED' | 'STEP_UP_REQUIRED' | 'DECLINED';

export interface PaymentRequestRecord {
  payment_request_id: string;
  state: V2State;
  previous_state?: V2State;
  state_reason?: string;
  created_at: number;
  updated_at: number;
  expires_at: number;
  currency: string;
  amount?: number;
  payment_request_reference?: string;
  /** The request as created/updated (returned as sent). */
  data: Record<string, unknown>;
  request_customer_token?: { scopes: string[]; customer_token_reference?: string };
  klarna_network_session_token?: string;
  customer_token?: string;
  canceled_at?: number;
}

export interface NetworkSessionRecord {
  token: string;
  payment_request_id: string;
  expires_at: number;
  currency: string;
  amount?: number;
  customer_token?: string;
  /** Finalizing with the same token is idempotent: the first answer is kept. */
  finalized?: Record<string, unknown>;
}

export interface V2CustomerTokenRecord {
  customer_token: string;
  scopes: string[];
  customer_token_reference?: string;
  status: 'ACTIVE' | 'CANCELLED';
  created_at: number;
}

export interface WebhookRecord {
  webhook_id: string;
  url: string;
  signing_key_id: string;
  signing_key: string;
  /** Event types to send; empty = all. */
  event_types: string[];
}

export interface CallbackAttempt {
  at: string;
  status?: number;
  error?: string;
}

export interface CallbackDelivery {
  id: string;
  kind: 'authorization' | 'hpp_status_update' | 'webhook';
  url: string;
  body: unknown;
  /** held = kept back by a delivery scenario until POST /_sim/callbacks/release. */
  state: 'held' | 'pending' | 'delivered' | 'failed';
  attempts: CallbackAttempt[];
  /** When the next retry is due (simulator clock), while one is scheduled. */
  next_attempt_at?: string;
  /** Set on a duplicate (scenario or redeliver): the delivery it repeats. */
  duplicate_of?: string;
}

/** POST /_sim/callbacks/scenario: how the next outgoing calls are delivered. */
export interface DeliveryScenario {
  id: string;
  /** Kinds it applies to; empty = all. */
  kinds: CallbackDelivery['kind'][];
  /** Keep the calls back until released (in any order): out-of-order delivery. */
  hold: boolean;
  /** Extra identical copies sent with each call. */
  duplicates: number;
  /** Real-time wait before the first attempt. */
  delay_ms: number;
  /** How many more calls it applies to; null = until removed. */
  remaining: number | null;
  matched: number;
}

export interface FaultRule {
  id: string;
  method?: string;
  /** Glob on the request path or the route pattern: `*` = one path segment, `**` = anything. */
  path: string;
  status?: number;
  error_code?: string;
  latency_ms: number;
  drop: boolean;
  /** before = the request is not processed; after = processed, then the answer is replaced or lost. */
  phase: 'before' | 'after';
  /** How many more requests it applies to; null = until removed. */
  remaining: number | null;
  /**
   * Fraction of matching requests hit (0 < rate ≤ 1), spread evenly and deterministically: the
   * k-th matching request is hit when ⌊k·rate⌋ > ⌊(k−1)·rate⌋ (rate 0.5: every second one).
   */
  rate?: number;
  /** Matching requests seen (for rate). */
  seen: number;
  matched: number;
  created_at: string;
}

/** Keep the recorded request log bounded in long-running simulators. */
const MAX_RECORDED = 10_000;

export class SimStore {
  readonly clock = new SimClock();
  sessions = new Map<string, SessionRecord>();
  authorizations = new Map<string, AuthorizationRecord>();
  tokens = new Map<string, CustomerTokenRecord>();
  orders = new Map<string, OrderRecord>();
  idempotency = new Map<string, IdempotencyRecord>();
  stepUps = new Map<string, StepUpRecord>();
  hppSessions = new Map<string, HppSessionRecord>();
  paymentRequests = new Map<string, PaymentRequestRecord>();
  networkSessions = new Map<string, NetworkSessionRecord>();
  v2Tokens = new Map<string, V2CustomerTokenRecord>();
  v2Transactions = new Map<string, Record<string, unknown>>();
  /** Where a redirect_url the simulator handed out (/_sim/redirect/{id}) sends the shopper. */
  redirects = new Map<string, string>();
  webhooks: WebhookRecord[] = [];
  /** Webhooks configured at start: what reset restores. */
  baseWebhooks: WebhookRecord[] = [];
  /** Scenario: results for the next Payment Authorize calls, first in first out. */
  nextAuthorizeResults: { payment?: V2Result; token?: V2Result }[] = [];
  requests: RecordedRequest[] = [];
  callbacks: CallbackDelivery[] = [];
  deliveryScenarios: DeliveryScenario[] = [];
  faults: FaultRule[] = [];
  /** Bumped on reset so callback retries scheduled before it stop. */
  generation = 0;

  record(entry: RecordedRequest): void {
    this.requests.push(entry);
    if (this.requests.length > MAX_RECORDED) this.requests.splice(0, this.requests.length - MAX_RECORDED);
  }

  reset(): void {
    this.sessions.clear();
    this.authorizations.clear();
    this.tokens.clear();
    this.orders.clear();
    this.idempotency.clear();
    this.stepUps.clear();
    this.hppSessions.clear();
    this.paymentRequests.clear();
    this.networkSessions.clear();
    this.v2Tokens.clear();
    this.v2Transactions.clear();
    this.redirects.clear();
    this.webhooks = this.baseWebhooks.map((w) => ({ ...w, event_types: [...w.event_types] }));
    this.nextAuthorizeResults = [];
    this.requests = [];
    this.callbacks = [];
    this.deliveryScenarios = [];
    this.faults = [];
    this.clock.reset();
    this.generation++;
  }
}
