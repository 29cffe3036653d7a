import { describe, expect, it } from 'vitest';
import { hppStatusUpdateBody, isTerminalStepUpState, startStepUpRequest, stepUpFlowId, stepUpFlowIdSchema } from '../../contracts/step-up.js';
import { flowType } from '../../contracts/flow-status.js';

describe('step-up recovery contract', () => {
  it('takes sdk or hpp, HPP options only with hpp, and a shopper timeout between 1m and 24h', () => {
    expect(startStepUpRequest.safeParse({ integration: 'sdk' }).success).toBe(true);
    expect(startStepUpRequest.parse({ integration: 'hpp', hpp: { place_order_mode: 'CAPTURE_ORDER', success_url: 'https://shop.example/ok' }, shopper_timeout: '45m' })).toMatchObject({
      shopper_timeout: 45 * 60_000,
    });
    expect(startStepUpRequest.safeParse({ integration: 'sdk', hpp: { place_order_mode: 'NONE' } }).success).toBe(false);
    expect(startStepUpRequest.safeParse({ integration: 'hpp', hpp: { place_order_mode: 'LATER' } }).success).toBe(false);
    expect(startStepUpRequest.safeParse({ integration: 'hpp', hpp: { success_url: 'javascript:alert(1)' } }).success).toBe(false);
    expect(startStepUpRequest.safeParse({ integration: 'sdk', shopper_timeout: '10s' }).success).toBe(false);
    expect(startStepUpRequest.safeParse({ integration: 'widget' }).success).toBe(false);
  });

  it('names one recovery per charge and knows its terminal states', () => {
    expect(stepUpFlowId('charge-k1')).toBe('stepup-charge-k1');
    expect(stepUpFlowIdSchema.safeParse('stepup-charge-k1').success).toBe(true);
    expect(stepUpFlowIdSchema.safeParse('stepup-tokenize-k1').success).toBe(false);
    expect(flowType.options).toContain('step_up');
    expect(['COMPLETED', 'DECLINED', 'CANCELLED', 'ABANDONED', 'EXPIRED', 'FAILED'].every((s) => isTerminalStepUpState(s as never))).toBe(true);
    expect(isTerminalStepUpState('AWAITING_SHOPPER')).toBe(false);
  });

  it('reads Klarna’s HPP status_update body', () => {
    expect(hppStatusUpdateBody.safeParse({ event_id: 'e1', session: { session_id: 's1', status: 'BACK', updated_at: '2026-12-01T12:00:00Z' } }).success).toBe(true);
    expect(hppStatusUpdateBody.safeParse({ event_id: 'e1', session: { session_id: 's1', status: 'EXPIRED' } }).success).toBe(false);
  });
});
